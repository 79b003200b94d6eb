package config

import "testing"

// TestPasswordSignIn: PASSWORD_SIGN_IN takes on, admins or off in any
// letter case, defaults to on, and anything else stops start-up with one
// line naming the variable.
func TestPasswordSignIn(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil || c.PasswordSignIn != PasswordOn {
		t.Fatalf("default: got %q, %v; want on", c.PasswordSignIn, err)
	}
	for v, want := range map[string]string{"on": PasswordOn, "ADMINS": PasswordAdmins, " off ": PasswordOff} {
		c, err := FromEnv(env(map[string]string{"PASSWORD_SIGN_IN": v}))
		if err != nil || c.PasswordSignIn != want {
			t.Errorf("%q: got %q, %v; want %q", v, c.PasswordSignIn, err, want)
		}
	}
	for _, v := range []string{"yes", "true"} {
		_, err := FromEnv(env(map[string]string{"PASSWORD_SIGN_IN": v}))
		if want := `PASSWORD_SIGN_IN: "` + v + `" is not one of on, admins, off`; err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", v, err, want)
		}
	}
}
