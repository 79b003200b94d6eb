package security

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applinks/applinks/local/server"
	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// concurrently runs f(i) for i in [0, n) in n goroutines released at once,
// and returns their results.
func concurrently[T any](n int, f func(i int) T) []T {
	out := make([]T, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			out[i] = f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}

// result is a response read from a goroutine (no t.Fatal there).
type result struct {
	status int
	body   string
	err    error
}

func (e *env) raw(method, path string, body string, hdr ...string) result {
	req, err := http.NewRequest(method, e.issuer+path, strings.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return result{status: resp.StatusCode, body: b.String()}
}

// tally counts results by status and error code.
func tally(t *testing.T, rs []result) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range rs {
		if r.err != nil {
			t.Fatalf("request failed: %v", r.err)
		}
		var body struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(r.body), &body)
		key := http.StatusText(r.status)
		if body.Error != "" {
			key += " " + body.Error
		}
		out[key]++
	}
	return out
}

// TestRace_ConcurrentCodeRedemption: 50 concurrent redemptions of one code
// against DynamoDB Local give exactly one success (RFC 6749 §4.1.2: single
// use, enforced by a conditional transaction) and one grant.
func TestRace_ConcurrentCodeRedemption(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	code := e.code(l, "alice", nil)
	body := url.Values{"grant_type": {"authorization_code"}, "code": {code}}.Encode()
	auth := oauthflow.Basic(l.ClientID, l.ClientSecret)
	start := time.Now()
	rs := concurrently(50, func(int) result {
		return e.raw("POST", "/oauth2/token", body, "Content-Type", "application/x-www-form-urlencoded", "Authorization", auth)
	})
	t.Logf("50 redemptions took %s", time.Since(start))
	got := tally(t, rs)
	if got["OK"] != 1 || got["Bad Request invalid_grant"] != 49 {
		t.Errorf("got %v, want exactly 1 OK and 49 invalid_grant", got)
	}
	// One grant record (one per user and link), and the 49 replays of the
	// used code revoked it (RFC 6749 §4.1.2): the tokens of the one
	// success are inactive.
	gs := e.userGrants("alice")
	if len(gs) != 1 || gs[0].ClientID != l.ClientID || !gs[0].Revoked {
		t.Errorf("got grants %+v, want alice's one grant for the link, revoked by the replays", gs)
	}
	for _, tok := range refreshTokens(t, rs) {
		if e.active(l, tok) {
			t.Error("the refresh token of the one success is active after the replays, want inactive")
		}
	}
}

// TestRace_ConcurrentRefresh: 50 concurrent refreshes of one refresh token
// give exactly one rotation, and no second token family: every other
// answer is an error, and at most one refresh token is active afterwards.
func TestRace_ConcurrentRefresh(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	g := e.exchange(l, e.code(l, "alice", nil), "")
	body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refresh}}.Encode()
	auth := oauthflow.Basic(l.ClientID, l.ClientSecret)
	rs := concurrently(50, func(int) result {
		return e.raw("POST", "/oauth2/token", body, "Content-Type", "application/x-www-form-urlencoded", "Authorization", auth)
	})
	got := tally(t, rs)
	if got["OK"] != 1 || got["Bad Request invalid_grant"] != 49 {
		t.Errorf("got %v, want exactly 1 OK and 49 invalid_grant", got)
	}
	active := 0
	for _, tok := range append([]string{g.refresh}, refreshTokens(t, rs)...) {
		if e.active(l, tok) {
			active++
		}
	}
	if active > 1 {
		t.Errorf("got %d active refresh tokens, want at most 1", active)
	}
	// Still the one grant record of alice for the link, with the id the
	// tokens were issued under: no second token family got a grant.
	if gs := e.userGrants("alice"); len(gs) != 1 || gs[0].ClientID != l.ClientID {
		t.Errorf("got grants %+v, want alice's one grant for the link", gs)
	}
}

func refreshTokens(t *testing.T, rs []result) []string {
	var out []string
	for _, r := range rs {
		if r.status == 200 {
			var body struct {
				RefreshToken string `json:"refresh_token"`
			}
			if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.RefreshToken == "" {
				t.Fatalf("200 without a refresh token: %s", r.body)
			}
			out = append(out, body.RefreshToken)
		}
	}
	return out
}

// TestRace_IdempotentLinkCreation: 20 concurrent POST /admin/links with one
// Idempotency-Key create one link; every answer is that link.
func TestRace_IdempotentLinkCreation(t *testing.T) {
	e := newEnv(t, nil)
	body, _ := json.Marshal(map[string]any{
		"name": "Racing app", "redirect_uris": []string{callback}, "scopes": []string{"REPO_READ"},
		"client_type": "confidential", "enabled": true,
	})
	rs := concurrently(20, func(int) result {
		return e.raw("POST", "/admin/links", string(body), "Authorization", "Bearer "+adminToken,
			"Content-Type", "application/json", "Idempotency-Key", "race-key-1")
	})
	var first link
	for i, r := range rs {
		if r.err != nil || r.status != http.StatusCreated {
			t.Errorf("request %d: got status %d (%s) err %v, want 201", i, r.status, r.body, r.err)
			continue
		}
		var l link
		if err := json.Unmarshal([]byte(r.body), &l); err != nil {
			t.Fatal(err)
		}
		if first.ID == "" {
			first = l
		}
		if l != first {
			t.Errorf("request %d: got link %s/%s, want %s/%s (and the same secret)", i, l.ID, l.ClientID, first.ID, first.ClientID)
		}
	}
	if ls := e.links(); len(ls) != 1 || ls[0].ID != first.ID {
		t.Errorf("listing: got %v, want one link %s", ls, first.ID)
	}
	if got := e.secretNames(); len(got) != 1 || !got[e.linkSecretName(first.ClientID)] {
		t.Errorf("secrets: got %v, want only the link's", got)
	}
	// The one secret answered works.
	if r := e.clientPost("/oauth2/introspect", first, url.Values{"token": {"x"}}); r.status != 200 {
		t.Errorf("introspect with the answered secret: got %d (%s), want 200", r.status, r.body)
	}
}

// TestRace_ConcurrentFirstStart: instances starting at once on an empty
// store end with one key set (a key of each algorithm, RS256 and ES256):
// every keyring publishes the same two kids.
func TestRace_ConcurrentFirstStart(t *testing.T) {
	st := storetest.DynamoLocal(t)
	type started struct {
		kids []string
		err  error
	}
	rs := concurrently(6, func(int) started {
		k, err := signing.New(context.Background(), st, signing.Options{})
		if err != nil {
			return started{err: err}
		}
		raw, err := k.JWKS(context.Background())
		if err != nil {
			return started{err: err}
		}
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(raw, &set); err != nil {
			return started{err: err}
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
		}
		return started{kids: kids}
	})
	for i, r := range rs {
		if r.err != nil {
			t.Fatalf("instance %d: %v", i, r.err)
		}
		if len(r.kids) != 2 || !slices.Equal(r.kids, rs[0].kids) {
			t.Errorf("instance %d: got kids %v, want exactly instance 0's two, %v", i, r.kids, rs[0].kids)
		}
	}
}

// runner is one more instance of the local runner (local/server on its own
// loopback listener) serving the provider of e on the same store, with
// its own log lines: two Lambda instances behind one API.
func (e *env) runner(st *store.Store) (base string, logs *logtest.Buffer) {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"ISSUER_URL": e.issuer, "ADMIN_TOKEN": adminToken}[k]
	})
	if err != nil {
		e.t.Fatal(err)
	}
	logs = &logtest.Buffer{}
	h, err := server.New(context.Background(), cfg, st, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		e.t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	e.t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), logs
}

// meetOnTwoRunners sends body to the token endpoint of two runners on one
// store at once, as l, their gates (the code's or the refresh token's
// conditional update, after each wrote its new token) held by g and let
// through in the order secondFirst says, and returns the two answers.
func meetOnTwoRunners(t *testing.T, e *env, g *storetest.Gates, bases [2]string, l link, body string, secondFirst bool) []result {
	t.Helper()
	answers := make(chan result, 2)
	early := make(chan struct{})
	var once sync.Once
	for _, base := range bases {
		go func() {
			a := (&env{t: t, issuer: base, http: e.http}).raw("POST", "/oauth2/token", body,
				"Content-Type", "application/x-www-form-urlencoded", "Authorization", oauthflow.Basic(l.ClientID, l.ClientSecret))
			once.Do(func() { close(early) })
			answers <- a
		}()
	}
	if !g.Meet(secondFirst, early) {
		t.Error("a request ended before its gate: the two never met")
	}
	return []result{<-answers, <-answers}
}

// audited counts the audit events named event in the given logs.
func audited(t *testing.T, event string, logs ...*logtest.Buffer) int {
	t.Helper()
	n := 0
	for _, l := range logs {
		a, err := l.Audits(event)
		if err != nil {
			t.Fatal(err)
		}
		n += len(a)
	}
	return n
}

// TestRace_TwoRunnersAtOnce: two runners on one store (two Lambda
// instances), the same code redeemed on both at once, each having read it
// unused and written its first refresh token before their gates (the
// code's conditional update) reach DynamoDB, in either order: one 200, one
// invalid_grant, a code_replay audit line, and the winner's tokens
// inactive. The same refresh token used on both at once: one new pair, the
// other reuse (refresh_token_reuse), and the new pair inactive. (These
// were transactions, raced with storetest.Conflicts; they are two ordered
// single-item writes now, which DynamoDB serialises, so the orders are
// the gates'.)
func TestRace_TwoRunnersAtOnce(t *testing.T) {
	for _, order := range storetest.GateOrders {
		t.Run(order.Name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.user("alice", "REPO_WRITE")
			l := e.link(store.Confidential)
			g := &storetest.Gates{}
			st := store.New(g.Wrap(e.backend.DynamoDB), e.backend.SecretsManager, e.backend.Options)
			var bases [2]string
			var logs [2]*logtest.Buffer
			for i := range bases {
				bases[i], logs[i] = e.runner(st)
			}

			code := e.code(l, "alice", nil)
			g.Hold("CODE#")
			rs := meetOnTwoRunners(t, e, g, bases, l,
				url.Values{"grant_type": {"authorization_code"}, "code": {code}}.Encode(), order.SecondFirst)
			if got := tally(t, rs); got["OK"] != 1 || got["Bad Request invalid_grant"] != 1 {
				t.Errorf("code redeemed on two runners at once: got %v, want 1 OK and 1 invalid_grant", got)
			}
			for _, tok := range refreshTokens(t, rs) {
				if e.active(l, tok) {
					t.Error("the refresh token of the code's one success is active, want inactive (the code replayed)")
				}
			}
			if audited(t, "code_replay", logs[:]...) != 1 {
				t.Error("got no code_replay audit line, want one")
			}

			pair := e.exchange(l, e.code(l, "alice", nil), "")
			g.Hold("RT#" + shared.HashToken(pair.refresh))
			rs = meetOnTwoRunners(t, e, g, bases, l,
				url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pair.refresh}}.Encode(), order.SecondFirst)
			if got := tally(t, rs); got["OK"] != 1 || got["Bad Request invalid_grant"] != 1 {
				t.Errorf("refresh token used on two runners at once: got %v, want 1 OK and 1 invalid_grant", got)
			}
			for _, tok := range refreshTokens(t, rs) {
				if e.active(l, tok) {
					t.Error("the new refresh token is active, want inactive (the other use is reuse)")
				}
			}
			if audited(t, "refresh_token_reuse", logs[:]...) != 1 {
				t.Error("got no refresh_token_reuse audit line, want one")
			}
		})
	}
}
