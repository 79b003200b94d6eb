package config

import "testing"

// TestStoreTransactions: STORE_TRANSACTIONS is on by default, "on" or
// "off" (any letter case), anything else refused.
func TestStoreTransactions(t *testing.T) {
	for v, want := range map[string]bool{"": false, "on": false, "off": true, "OFF": true} {
		c, err := FromEnv(env(map[string]string{"STORE_TRANSACTIONS": v}))
		if err != nil || c.StoreNoTransactions != want {
			t.Errorf("STORE_TRANSACTIONS=%q: no transactions %v, %v, want %v", v, c.StoreNoTransactions, err, want)
		}
	}
	if _, err := FromEnv(env(map[string]string{"STORE_TRANSACTIONS": "false"})); err == nil {
		t.Error(`STORE_TRANSACTIONS="false" accepted, want it refused (on or off)`)
	}
}
