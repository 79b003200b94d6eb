package token

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/applinks/applinks/shared/store/storetest"
)

// scenario is a flow run on every engine.
type scenario struct {
	name string
	vars map[string]string
	run  func(t *testing.T, e *env)
}

// raceScenarios exercise the conditional writes under real concurrency,
// where only a strict engine proves anything.
var raceScenarios = []scenario{
	{name: "concurrent redemptions of one code", run: func(t *testing.T, e *env) {
		code := e.code(codeOpts{})
		ws := parallel(5, func() (int, string) {
			w := e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
			return w.Code, w.Body.String()
		})
		winners := 0
		var access string
		for _, w := range ws {
			if w.status == http.StatusOK {
				winners++
				access = decodeTokens(t, w.body).AccessToken
			} else if w.status != http.StatusBadRequest {
				t.Errorf("loser: got %d %s, want 400 invalid_grant", w.status, w.body)
			}
		}
		if winners != 1 {
			t.Fatalf("got %d successful redemptions, want 1", winners)
		}
		// Every loser saw a replay and revoked the winner's grant.
		if e.active(access) {
			t.Error("winner's access token after replays: got active, want inactive")
		}
	}},
	{name: "concurrent refreshes of one token", run: func(t *testing.T, e *env) {
		tk := e.exchange(e.code(codeOpts{}))
		ws := parallel(5, func() (int, string) {
			w := e.refresh(tk.RefreshToken, nil)
			return w.Code, w.Body.String()
		})
		winners := 0
		var next tokens
		for _, w := range ws {
			if w.status == http.StatusOK {
				winners++
				next = decodeTokens(t, w.body)
			}
		}
		if winners != 1 {
			t.Fatalf("got %d successful refreshes, want 1", winners)
		}
		// Without a grace period the others are reuse: the grant is revoked.
		if e.active(next.RefreshToken) || e.active(next.AccessToken) {
			t.Error("tokens after concurrent reuse: got active, want inactive")
		}
	}},
	{name: "replay within the grace racing the client", vars: map[string]string{"REFRESH_REUSE_GRACE": "30s"}, run: func(t *testing.T, e *env) {
		// The client refreshes RT0 into RT1; then, at once, an attacker
		// replays RT0 (within the grace) and the client uses RT1. Both
		// write RT1 on condition that it is active, so one loses and is
		// reuse: whatever the interleaving, the grant ends revoked and no
		// token of it is active (the client's chain is never lost
		// silently).
		for range 3 {
			rt0 := e.exchange(e.code(codeOpts{}))
			rt1 := e.ok(e.refresh(rt0.RefreshToken, nil))
			ws := parallel(2, func() func() (int, string) {
				var i atomic.Int32
				return func() (int, string) {
					tok := rt0.RefreshToken
					if i.Add(1) == 2 {
						tok = rt1.RefreshToken
					}
					w := e.refresh(tok, nil)
					return w.Code, w.Body.String()
				}
			}())
			for _, w := range ws {
				if w.status == http.StatusOK {
					if tk := decodeTokens(t, w.body); e.active(tk.RefreshToken) || e.active(tk.AccessToken) {
						t.Errorf("tokens issued in the race: got active, want inactive (grant revoked)")
					}
				} else if w.status != http.StatusBadRequest {
					t.Errorf("got %d %s, want 200 or 400 invalid_grant", w.status, w.body)
				}
			}
			if e.active(rt1.AccessToken) {
				t.Error("RT1's access token after the race: got active, want inactive")
			}
		}
		if !e.audited("refresh_token_reuse") {
			t.Error("no refresh_token_reuse audit event")
		}
	}},
	{name: "concurrent retries within the grace", vars: map[string]string{"REFRESH_REUSE_GRACE": "30s"}, run: func(t *testing.T, e *env) {
		tk := e.exchange(e.code(codeOpts{}))
		ws := parallel(4, func() (int, string) {
			w := e.refresh(tk.RefreshToken, nil)
			return w.Code, w.Body.String()
		})
		// Whatever the interleaving, at most one refresh token of the
		// grant is active at the end, and it works.
		var live []string
		for _, w := range ws {
			if w.status == http.StatusOK {
				if rt := decodeTokens(t, w.body).RefreshToken; e.active(rt) {
					live = append(live, rt)
				}
			}
		}
		if len(live) > 1 {
			t.Errorf("got %d active refresh tokens, want at most 1", len(live))
		}
		for _, rt := range live {
			e.ok(e.refresh(rt, nil))
		}
	}},
}

type result struct {
	status int
	body   string
}

// parallel runs f n times at once.
func parallel(n int, f func() (int, string)) []result {
	out := make([]result, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			out[i].status, out[i].body = f()
		})
	}
	start.Done()
	wg.Wait()
	return out
}

func decodeTokens(t *testing.T, body string) tokens {
	t.Helper()
	var tk tokens
	if err := jsonUnmarshal(body, &tk); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return tk
}

func TestRacesOnKumo(t *testing.T) {
	for _, s := range raceScenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, newEnv(t, s.vars)) })
	}
}

// TestOnDynamoDBLocal runs the races and the main flows on DynamoDB Local,
// the reference engine for conditional writes and transactions.
func TestOnDynamoDBLocal(t *testing.T) {
	flows := []scenario{
		{name: "replay", run: func(t *testing.T, e *env) { testCodeReplay(t, e) }},
		{name: "rotation and reuse", run: func(t *testing.T, e *env) { testRefreshRotation(t, e) }},
		{name: "grace", vars: map[string]string{"REFRESH_REUSE_GRACE": "30s"}, run: func(t *testing.T, e *env) { testRefreshReuseGrace(t, e) }},
		{name: "grace takeover", vars: map[string]string{"REFRESH_REUSE_GRACE": "30s"}, run: func(t *testing.T, e *env) { testRefreshGraceTakeover(t, e) }},
		{name: "code cancelled by a user change", run: testCodeCancelledByUserChange},
		{name: "code cancelled by a revocation", run: testCodeCancelledByRevocation},
		{name: "last use", run: testLastUse},
	}
	for _, s := range append(flows, raceScenarios...) {
		t.Run(s.name, func(t *testing.T) { s.run(t, newEnvOn(t, storetest.DynamoLocal(t), s.vars)) })
	}
}
