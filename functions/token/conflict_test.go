package token

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
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
// requests that both read it unused and both wrote their first refresh
// token, whose gates (the code's conditional UpdateItem) then reach
// DynamoDB one after the other, in either order: one gets tokens, the
// other invalid_grant; and since the code was presented twice, its grant
// is revoked, so the winner's tokens are dead, with a code_replay audit
// line. The loser's token was written but never handed out.
func TestCodeRedeemedTwiceAtOnce(t *testing.T) {
	for _, order := range storetest.GateOrders {
		t.Run(order.Name, func(t *testing.T) {
			g := &storetest.Gates{}
			e := newEnvOn(t, storetest.DynamoLocal(t).WithDynamoDB(g.Wrap), nil)
			code := e.code(codeOpts{})
			g.Hold("CODE#")
			winner, loser := winnerAndLoser(t, e.meet(g, order.SecondFirst, func() *httptest.ResponseRecorder {
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
// that both read it active and both wrote their successor, whose gates
// (the token's conditional UpdateItem) then reach DynamoDB one after the
// other, in either order, with no reuse grace: one gets a new pair, the
// other is reuse (invalid_grant, a refresh_token_reuse audit line) and the
// grant is revoked, so the new pair is dead whoever won.
func TestRefreshedTwiceAtOnce(t *testing.T) {
	for _, order := range storetest.GateOrders {
		t.Run(order.Name, func(t *testing.T) {
			g := &storetest.Gates{}
			e := newEnvOn(t, storetest.DynamoLocal(t).WithDynamoDB(g.Wrap), nil)
			tk := e.exchange(e.code(codeOpts{}))
			g.Hold("RT#" + shared.HashToken(tk.RefreshToken))
			winner, loser := winnerAndLoser(t, e.meet(g, order.SecondFirst, func() *httptest.ResponseRecorder {
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
// second use of a refresh token is a retry, not reuse, so it must not
// revoke the grant: the loser of the gate finds the token rotated within
// the grace and replaces the winner's successor (which exists: every
// successor is written before it is named). Both get a pair, the grant
// stays, and exactly one of the new refresh tokens is active and works.
func TestRefreshedTwiceAtOnceWithinGrace(t *testing.T) {
	for _, order := range storetest.GateOrders {
		t.Run(order.Name, func(t *testing.T) {
			g := &storetest.Gates{}
			e := newEnvOn(t, storetest.DynamoLocal(t).WithDynamoDB(g.Wrap), map[string]string{"REFRESH_REUSE_GRACE": "30s"})
			tk := e.exchange(e.code(codeOpts{}))
			g.Hold("RT#" + shared.HashToken(tk.RefreshToken))
			var live []string
			for i, w := range e.meet(g, order.SecondFirst, func() *httptest.ResponseRecorder { return e.refresh(tk.RefreshToken, nil) }) {
				if w.Code != http.StatusOK {
					t.Errorf("answer %d: got %d %s, want 200", i, w.Code, w.Body)
					continue
				}
				if rt := decodeTokens(t, w.Body.String()).RefreshToken; e.active(rt) {
					live = append(live, rt)
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

// TestExchangeRetriedAfterAFailedWrite: a code exchange is two ordered
// writes, the first refresh token then the code's gate. When either is
// refused (throttled, as DynamoDB answers a write over capacity), the
// client is told to try again (503 temporarily_unavailable) and its retry
// with the same code succeeds: the code is never spent without its token
// written, so the retry is not a replay, and the grant is not revoked.
// Seen failing with the gate written first: the put refused after the gate
// left the code spent, and the retry was a replay that revoked the grant.
func TestExchangeRetriedAfterAFailedWrite(t *testing.T) {
	for _, c := range []struct{ name, op, prefix string }{
		{"token put refused", "PutItem", "RT#"},
		{"code gate refused", "UpdateItem", "CODE#"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &refuseOnce{op: c.op, prefix: c.prefix}
			e := newEnvOn(t, storetest.DynamoLocal(t).WithDynamoDB(f.wrap), nil)
			code := e.code(codeOpts{})
			f.arm()
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
			oauthError(t, e.post("/oauth2/token", basic(confID, confSecret), form), http.StatusServiceUnavailable, "temporarily_unavailable")
			tk := e.ok(e.post("/oauth2/token", basic(confID, confSecret), form))
			e.ok(e.refresh(tk.RefreshToken, nil))
			if e.audited("code_replay") || e.audited("grant_revoked") {
				t.Error("the retry was taken for a replay (code_replay or grant_revoked audited), want a plain redemption")
			}
		})
	}
}

// TestRefreshRetriedAfterAFailedWrite: a refresh is two ordered writes, the
// successor then the old token's gate. When either is refused, the client
// is told to try again (503) and its retry with the same refresh token,
// with no reuse grace, succeeds: the old token is never rotated without its
// successor written, so the retry finds it active, not rotated (which
// would be reuse, revoking the grant). Seen failing with the gate written
// first: the put refused after the gate left the token rotated, and the
// retry revoked the grant.
func TestRefreshRetriedAfterAFailedWrite(t *testing.T) {
	for _, c := range []struct{ name, op, prefix string }{
		{"successor put refused", "PutItem", "RT#"},
		{"gate refused", "UpdateItem", "RT#"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &refuseOnce{op: c.op, prefix: c.prefix}
			e := newEnvOn(t, storetest.DynamoLocal(t).WithDynamoDB(f.wrap), nil)
			tk := e.exchange(e.code(codeOpts{}))
			f.arm()
			oauthError(t, e.refresh(tk.RefreshToken, nil), http.StatusServiceUnavailable, "temporarily_unavailable")
			next := e.ok(e.refresh(tk.RefreshToken, nil))
			e.ok(e.refresh(next.RefreshToken, nil))
			if e.audited("refresh_token_reuse") || e.audited("grant_revoked") {
				t.Error("the retry was taken for reuse (refresh_token_reuse or grant_revoked audited), want a plain rotation")
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

// meet sends two requests at once, held at their gates by g (armed with
// Hold), and lets the gates through in the order secondFirst says
// (storetest.Gates.Meet); it returns both answers in the order they came.
func (e *env) meet(g *storetest.Gates, secondFirst bool, send func() *httptest.ResponseRecorder) []*httptest.ResponseRecorder {
	e.t.Helper()
	answers := make(chan *httptest.ResponseRecorder, 2)
	early := make(chan struct{})
	var once sync.Once
	for range 2 {
		go func() {
			w := send()
			once.Do(func() { close(early) })
			answers <- w
		}()
	}
	if !g.Meet(secondFirst, early) {
		e.t.Error("a request ended before its gate: the two never met")
	}
	return []*httptest.ResponseRecorder{<-answers, <-answers}
}

// refuseOnce refuses, once armed, the first write op (PutItem or
// UpdateItem) of an item whose partition key starts with prefix, as
// DynamoDB refuses a write over the table's capacity: nothing applied, the
// caller may try again.
type refuseOnce struct {
	store.DynamoDB
	op, prefix string
	armed      atomic.Bool
}

func (f *refuseOnce) wrap(db store.DynamoDB) store.DynamoDB { f.DynamoDB = db; return f }

func (f *refuseOnce) arm() { f.armed.Store(true) }

func (f *refuseOnce) refuse(op string, key map[string]types.AttributeValue) error {
	pk, _ := key["pk"].(*types.AttributeValueMemberS)
	if op == f.op && pk != nil && strings.HasPrefix(pk.Value, f.prefix) && f.armed.CompareAndSwap(true, false) {
		return &types.ProvisionedThroughputExceededException{Message: aws.String("injected: throughput exceeded")}
	}
	return nil
}

func (f *refuseOnce) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := f.refuse("PutItem", in.Item); err != nil {
		return nil, err
	}
	return f.DynamoDB.PutItem(ctx, in, opts...)
}

func (f *refuseOnce) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := f.refuse("UpdateItem", in.Key); err != nil {
		return nil, err
	}
	return f.DynamoDB.UpdateItem(ctx, in, opts...)
}
