package token

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// newConflictEnv is an environment on DynamoDB Local whose every DynamoDB
// call goes through a storetest.Conflicts, so that a test can make two
// requests' transactions conflict the way they can on AWS
// (TransactionConflict), which DynamoDB Local never does.
func newConflictEnv(t *testing.T, vars map[string]string) (*env, *storetest.Conflicts) {
	t.Helper()
	var c *storetest.Conflicts
	st := storetest.DynamoLocal(t).WithDynamoDB(func(db store.DynamoDB) store.DynamoDB {
		c = storetest.NewConflicts(db)
		return c
	})
	return newEnvOn(t, st, vars), c
}

// race sends two requests at once, with their transactions meeting as
// order says, and returns both answers in the order they came. With
// order.CommitLate the first is the loser's: the winner commits only once
// the loser's request has ended.
func (e *env) race(c *storetest.Conflicts, order storetest.RaceOrder, send func() *httptest.ResponseRecorder) []*httptest.ResponseRecorder {
	e.t.Helper()
	r := c.Race(order)
	answers := make(chan *httptest.ResponseRecorder, 2)
	for range 2 {
		go func() { answers <- send() }()
	}
	var out []*httptest.ResponseRecorder
	for range 2 {
		w := <-answers
		select {
		case <-r.Raced():
		default:
			// Answered before a second transaction came: the requests
			// never met. Let the other one through rather than hang.
			r.Abort()
			e.t.Errorf("a request ended before the race: got %d %s", w.Code, w.Body)
		}
		out = append(out, w)
		r.Release()
	}
	return out
}

// winnerAndLoser splits two answers into the 200 and the other, failing
// the test unless there is exactly one 200.
func winnerAndLoser(t *testing.T, ws []*httptest.ResponseRecorder) (winner, loser *httptest.ResponseRecorder) {
	t.Helper()
	for _, w := range ws {
		if w.Code == http.StatusOK {
			if winner != nil {
				t.Fatalf("both requests succeeded (%s and %s), want one", winner.Body, w.Body)
			}
			winner = w
		} else {
			loser = w
		}
	}
	if winner == nil {
		t.Fatalf("no request succeeded (%d %s, %d %s), want one", ws[0].Code, ws[0].Body, ws[1].Code, ws[1].Body)
	}
	return winner, loser
}

// description is an error response's error_description.
func description(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return body.Description
}

// TestCodeRedeemedTwiceAtOnce: the same authorization code redeemed by two
// requests whose transactions conflict (AWS's TransactionConflict), in
// every order of the commits: one gets tokens, the other invalid_grant;
// and since the code was presented twice, its grant is revoked, so the
// winner's tokens are dead, with a code_replay audit line. Before the
// fix, a loser answered before the winner committed re-read the code,
// found it unused and answered "expired", revoking nothing.
func TestCodeRedeemedTwiceAtOnce(t *testing.T) {
	for _, order := range storetest.RaceOrders {
		t.Run(order.String(), func(t *testing.T) {
			e, c := newConflictEnv(t, nil)
			code := e.code(codeOpts{})
			winner, loser := winnerAndLoser(t, e.race(c, order, func() *httptest.ResponseRecorder {
				return e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
			}))
			oauthError(t, loser, http.StatusBadRequest, "invalid_grant")
			if got, want := description(t, loser), "the authorization code has already been used"; got != want {
				t.Errorf("the loser's error_description: got %q, want %q", got, want)
			}
			tk := decodeTokens(t, winner.Body.String())
			if e.active(tk.AccessToken) {
				t.Error("the winner's access token: got active, want inactive (the code's grant revoked)")
			}
			oauthError(t, e.refresh(tk.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
			if !e.audited("code_replay") {
				t.Error("no code_replay audit event")
			}
			if !e.audited("grant_revoked") {
				t.Error("no grant_revoked audit event")
			}
			e.noSecretsLogged(code, tk.AccessToken, tk.RefreshToken)
		})
	}
}

// TestRefreshedTwiceAtOnce: the same refresh token used by two requests
// whose rotations conflict, in every order of the commits, with no reuse
// grace: one gets a new pair, the other is reuse (invalid_grant, a
// refresh_token_reuse audit line) and the grant is revoked, so the new
// pair is dead whoever won. Before the fix, a loser answered before the
// winner committed found the token still active and answered "invalid"
// without revoking: an attacker whose replay won kept the chain.
func TestRefreshedTwiceAtOnce(t *testing.T) {
	for _, order := range storetest.RaceOrders {
		t.Run(order.String(), func(t *testing.T) {
			e, c := newConflictEnv(t, nil)
			tk := e.exchange(e.code(codeOpts{}))
			winner, loser := winnerAndLoser(t, e.race(c, order, func() *httptest.ResponseRecorder {
				return e.refresh(tk.RefreshToken, nil)
			}))
			oauthError(t, loser, http.StatusBadRequest, "invalid_grant")
			if got, want := description(t, loser), "the refresh token has already been used"; got != want {
				t.Errorf("the loser's error_description: got %q, want %q", got, want)
			}
			next := decodeTokens(t, winner.Body.String())
			if e.active(next.AccessToken) || e.active(next.RefreshToken) {
				t.Error("the winner's new pair: got active, want inactive (the grant revoked)")
			}
			oauthError(t, e.refresh(next.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
			if !e.audited("refresh_token_reuse") {
				t.Error("no refresh_token_reuse audit event")
			}
			e.noSecretsLogged(tk.RefreshToken, next.RefreshToken)
		})
	}
}

// TestRefreshedTwiceAtOnceWithinGrace: with REFRESH_REUSE_GRACE, the
// second use of a refresh token is a retry, not reuse, so a conflict must
// not revoke the grant: the loser waits for the winner's outcome. When
// the winner has committed by then, the loser is a retry within the grace
// (a new pair replacing the winner's); when it has not (the winner
// commits only after the loser's request ended), the loser is told to try
// again (503 temporarily_unavailable). Either way the grant stays, and
// exactly one of the new refresh tokens is active and works.
func TestRefreshedTwiceAtOnceWithinGrace(t *testing.T) {
	for _, order := range storetest.RaceOrders {
		t.Run(order.String(), func(t *testing.T) {
			e, c := newConflictEnv(t, map[string]string{"REFRESH_REUSE_GRACE": "30s"})
			tk := e.exchange(e.code(codeOpts{}))
			ws := e.race(c, order, func() *httptest.ResponseRecorder {
				return e.refresh(tk.RefreshToken, nil)
			})
			var live []string
			for i, w := range ws {
				switch {
				case w.Code == http.StatusOK:
					if rt := decodeTokens(t, w.Body.String()).RefreshToken; e.active(rt) {
						live = append(live, rt)
					}
				case order.CommitLate && i == 0:
					oauthError(t, w, http.StatusServiceUnavailable, "temporarily_unavailable")
				default:
					t.Errorf("answer %d: got %d %s, want 200", i, w.Code, w.Body)
				}
			}
			if len(live) != 1 {
				t.Fatalf("got %d active refresh tokens, want 1", len(live))
			}
			e.ok(e.refresh(live[0], nil))
			if e.audited("refresh_token_reuse") {
				t.Error("a refresh_token_reuse audit event, want none within the grace")
			}
		})
	}
}

// TestReplayRevocationMeetsAnApproval: the revocation a replayed code
// causes is a single-item write of the grant; when a transaction is
// writing the grant at that moment (the user approving the client again),
// AWS refuses it with TransactionConflictException. That refusal decides
// nothing, so the revocation is tried again and lands: the first
// exchange's tokens end inactive. Before the fix the store reported the
// refusal as "no such grant" and the handler took it for a grant already
// gone, revoking nothing.
func TestReplayRevocationMeetsAnApproval(t *testing.T) {
	e, c := newConflictEnv(t, nil)
	code := e.code(codeOpts{})
	tk := e.exchange(code)
	r := c.Race(storetest.RaceOrder{})
	approved := make(chan error, 1)
	go func() {
		_, err := e.st.ApproveGrant(context.Background(), store.Grant{ID: "unused-new-id", UserID: e.aliceID, Username: alice,
			ClientID: confID, Scope: []string{"REPO_WRITE"}}, e.cfg.Catalog.Union, e.clock.Now())
		approved <- err
	}()
	<-r.Held()
	w := e.post("/oauth2/token", basic(confID, confSecret), url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	oauthError(t, w, http.StatusBadRequest, "invalid_grant")
	if err := <-approved; err != nil {
		t.Fatalf("ApproveGrant: %v", err)
	}
	if e.active(tk.AccessToken) {
		t.Error("the first exchange's access token after the replay: got active, want inactive")
	}
	oauthError(t, e.refresh(tk.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
	if !e.audited("grant_revoked") {
		t.Error("no grant_revoked audit event")
	}
}
