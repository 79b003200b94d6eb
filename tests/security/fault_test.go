package security

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/applinks/applinks/shared/store"
)

// A flow is one request whose store calls are failed one by one.
type flow struct {
	// surface is how the request answers: "admin" (JSON API), "token"
	// (RFC 6749 §5.2 JSON) or "browser" (a page or a redirect to the
	// client).
	surface string
	// prepare sets up one run (no fault armed) and returns the request.
	prepare func(t *testing.T) func() response
	// ok reports whether r is the request's success.
	ok func(r response) bool
	// after checks the invariants once the run is over (faults disarmed)
	// and that a retry succeeds; failed tells whether r was an error.
	after func(t *testing.T, r response, failed bool)
}

// runFaults runs f once cleanly to count its calls, then once per call and
// kind of fault with that call failed. A first run warms what a warm
// instance keeps between requests (the signing key, the last-use record
// written at most once an hour per link and grant, which is best effort
// and never fails a request), so the counted run and the faulted runs
// make the same calls.
func runFaults(t *testing.T, e *env, f flow) {
	if warm := f.prepare(t)(); !f.ok(warm) {
		t.Fatalf("warm-up run: got status %d (%s)", warm.status, warm.body)
	}
	req := f.prepare(t)
	e.faults.Count()
	r := req()
	calls := e.faults.Calls()
	if !f.ok(r) {
		t.Fatalf("clean run: got status %d (%s)", r.status, r.body)
	}
	f.after(t, r, false)
	t.Logf("clean run: %d calls: %s", len(calls), strings.Join(calls, ", "))
	if len(calls) == 0 {
		t.Fatal("the flow made no store call")
	}
	for _, k := range Kinds {
		for n := 1; n <= len(calls); n++ {
			t.Run(fmt.Sprintf("%s/call%d-%s", k, n, calls[n-1]), func(t *testing.T) {
				req := f.prepare(t)
				e.faults.Arm(n, k)
				r := req()
				e.faults.Disarm()
				if !e.faults.Fired() {
					t.Errorf("the fault was not injected: the run made %d calls: %v", len(e.faults.Calls()), e.faults.Calls())
				}
				failed := !f.ok(r)
				if failed {
					failedCleanly(t, e, f.surface, r)
				} else {
					t.Logf("the fault was absorbed: status %d", r.status)
				}
				f.after(t, r, failed)
			})
		}
	}
}

// failedCleanly checks a failure caused by an injected fault: 503 (or 500)
// with the surface's error code, and nothing internal in the answer.
func failedCleanly(t *testing.T, e *env, surface string, r response) {
	t.Helper()
	var code string
	switch surface {
	case "admin":
		code = str(r.json(t)["error"])
		if !(r.status == 503 && code == "unavailable" || r.status == 500 && code == "internal") {
			t.Errorf("got status %d error %q (%s), want 503 unavailable or 500 internal", r.status, code, r.body)
		}
	case "token":
		code = str(r.json(t)["error"])
		if !(r.status == 503 && code == "temporarily_unavailable" || r.status == 500 && code == "server_error") {
			t.Errorf("got status %d error %q (%s), want 503 temporarily_unavailable or 500 server_error", r.status, code, r.body)
		}
		if !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
			t.Errorf("got Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
		}
	case "browser":
		if loc := r.header.Get("Location"); loc != "" {
			u, _ := url.Parse(loc)
			q := u.Query()
			if !strings.HasPrefix(loc, callback+"?") || q.Get("iss") != e.issuer ||
				(q.Get("error") != "temporarily_unavailable" && q.Get("error") != "server_error") {
				t.Errorf("got redirect %s, want %s with error temporarily_unavailable or server_error and iss", loc, callback)
			}
		} else if r.status != 503 && r.status != 500 {
			t.Errorf("got status %d, want 503 or 500 (or an error redirect)", r.status)
		}
	}
	answer := r.body + " " + r.header.Get("Location")
	for _, leak := range []string{Marker, "DynamoDB", "dynamodb", "SecretsManager", "Secrets Manager", "deadline",
		"GetItem", "Transact", "BatchGet", "Throughput", "InternalServerError", e.backend.Options.TableName} {
		if strings.Contains(answer, leak) {
			t.Errorf("the answer reveals %q: %s", leak, answer)
		}
	}
}

// checkLinksHaveSecrets checks that every listed link that has a secret
// has it in Secrets Manager, and that every link secret belongs to a
// listed link.
func checkLinksHaveSecrets(t *testing.T, e *env) {
	t.Helper()
	secrets := e.secretNames()
	listed := map[string]bool{}
	for _, l := range e.links() {
		name := e.linkSecretName(l.ClientID)
		listed[name] = true
		if l.ClientType != store.Public && !secrets[name] {
			t.Errorf("link %s (%s) has no secret in Secrets Manager", l.ID, l.ClientType)
		}
	}
	for name := range secrets {
		if !listed[name] {
			t.Errorf("secret %s has no link", name)
		}
	}
}

// works reports whether l's id and secret authenticate at the
// introspection endpoint.
func (e *env) works(t *testing.T, l link) bool {
	t.Helper()
	r := e.clientPost("/oauth2/introspect", l, url.Values{"token": {"x"}})
	if r.status != 200 && r.status != 401 {
		t.Fatalf("introspect: got status %d (%s), want 200 or 401", r.status, r.body)
	}
	return r.status == 200
}

func wantStatus(t *testing.T, what string, r response, want ...int) {
	t.Helper()
	for _, w := range want {
		if r.status == w {
			return
		}
	}
	t.Fatalf("%s: got status %d (%s), want %v", what, r.status, r.body, want)
}

// TestFault_CreateLink fails each call of POST /admin/links: the answer is
// 503/500, no link is left without its secret nor a secret without its
// link, and a retry with the same Idempotency-Key creates exactly one link.
func TestFault_CreateLink(t *testing.T) {
	e := newEnv(t, nil)
	body := map[string]any{"name": "Faulty app", "redirect_uris": []string{callback}, "client_type": "confidential"}
	seq, key := 0, ""
	runFaults(t, e, flow{
		surface: "admin",
		prepare: func(t *testing.T) func() response {
			seq++
			key = fmt.Sprintf("fault-key-%d", seq)
			return func() response { return e.adminCall("POST", "/admin/links", body, "Idempotency-Key", key) }
		},
		ok: func(r response) bool { return r.status == http.StatusCreated },
		after: func(t *testing.T, r response, failed bool) {
			checkLinksHaveSecrets(t, e)
			retry := e.adminCall("POST", "/admin/links", body, "Idempotency-Key", key)
			wantStatus(t, "retry", retry, http.StatusCreated)
			var got link
			got.ID, got.ClientID, got.ClientSecret = str(retry.json(t)["id"]), str(retry.json(t)["client_id"]), str(retry.json(t)["client_secret"])
			if !failed && (str(r.json(t)["id"]) != got.ID || str(r.json(t)["client_secret"]) != got.ClientSecret) {
				t.Errorf("retry: got link %s, want the one created first, %s, with its secret", got.ID, str(r.json(t)["id"]))
			}
			if !e.works(t, got) {
				t.Error("the created link's answered secret does not authenticate")
			}
			if n := len(e.links()); n != seq {
				t.Errorf("after %d creations with distinct keys: got %d links, want %d", seq, n, seq)
			}
			checkLinksHaveSecrets(t, e)
		},
	})
}

// TestFault_RotateSecret fails each call of a secret rotation (no overlap)
// of a fresh link: the answer is 503/500, the secret that "View
// credentials" shows always authenticates (the link never verifies a secret
// Secrets Manager does not hold), and a retry rotates.
func TestFault_RotateSecret(t *testing.T) {
	e := newEnv(t, nil)
	var l link
	path := func() string { return "/admin/links/" + l.ID + "/credentials" }
	view := func(t *testing.T) link {
		var v link
		e.admin("GET", path(), nil, 200, &v)
		v.ID = l.ID
		return v
	}
	rotate := func() response { return e.adminCall("POST", path()+"/rotate", map[string]any{"overlap_seconds": 0}) }
	runFaults(t, e, flow{
		surface: "admin",
		prepare: func(t *testing.T) func() response {
			l = e.link(store.Confidential)
			return rotate
		},
		ok: func(r response) bool { return r.status == http.StatusOK },
		after: func(t *testing.T, r response, failed bool) {
			shown := view(t)
			if !e.works(t, shown) {
				t.Error("the secret View credentials shows does not authenticate")
			}
			if !e.works(t, l) && shown.ClientSecret == l.ClientSecret {
				t.Error("the original secret, still shown, does not authenticate")
			}
			if failed {
				retry := rotate()
				wantStatus(t, "retry", retry, http.StatusOK)
				r = retry
			}
			answered := link{ID: l.ID, ClientID: l.ClientID, ClientSecret: str(r.json(t)["client_secret"])}
			if !e.works(t, answered) {
				t.Error("the rotated secret does not authenticate")
			}
			if got := view(t).ClientSecret; got != answered.ClientSecret {
				t.Error("View credentials does not show the rotated secret")
			}
			if e.works(t, l) {
				t.Error("the secret replaced with no overlap still authenticates")
			}
		},
	})
}

// session is a signed-in browser for flows that need codes.
func (e *env) session(t *testing.T, user string, l link) *browser {
	t.Helper()
	b := e.browser()
	b.login(b.get(e.authURL(l, nil)), user)
	return b
}

// freshCode gets a code for l through b's session (consent asked again
// each time), with state st.
func (e *env) freshCode(t *testing.T, b *browser, l link) string {
	t.Helper()
	p := b.consentPage(e.authURL(l, map[string]string{"prompt": "consent"}), "")
	r := b.submit(p, theForm(t, p), map[string]string{"decision": "approve"})
	c := r.location(t).Query().Get("code")
	if c == "" {
		t.Fatalf("no code: %s", r.header.Get("Location"))
	}
	return c
}

// TestFault_DeleteLink fails each call of DELETE /admin/links/{id} of a
// link with an active grant: the answer is 503/500, and a retry finishes
// the deletion: the link is gone, its secret deleted, its tokens inactive.
func TestFault_DeleteLink(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	rs := e.link(store.ResourceServer)
	b := e.session(t, "alice", e.link(store.Confidential))
	var l link
	var g grant
	runFaults(t, e, flow{
		surface: "admin",
		prepare: func(t *testing.T) func() response {
			l = e.link(store.Confidential)
			g = e.exchange(l, e.freshCode(t, b, l), "")
			return func() response { return e.adminCall("DELETE", "/admin/links/"+l.ID, nil) }
		},
		ok: func(r response) bool { return r.status == http.StatusNoContent },
		after: func(t *testing.T, r response, failed bool) {
			if failed {
				// A deletion whose last step succeeded but whose answer was
				// lost is 404 on retry.
				wantStatus(t, "retry", e.adminCall("DELETE", "/admin/links/"+l.ID, nil), http.StatusNoContent, http.StatusNotFound)
			}
			wantStatus(t, "GET the deleted link", e.adminCall("GET", "/admin/links/"+l.ID, nil), http.StatusNotFound)
			for name, tok := range map[string]string{"access": g.access, "refresh": g.refresh} {
				if e.active(rs, tok) {
					t.Errorf("%s token of the deleted link: got active, want inactive", name)
				}
			}
			checkLinksHaveSecrets(t, e)
		},
	})
}

// TestFault_ConsentApprove fails each call of the consent approval: the
// browser gets a 503/500 page or an error redirect with iss, nothing
// internal, and submitting the form again gives a code that works.
func TestFault_ConsentApprove(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.session(t, "alice", l)
	b.noFollow()
	var submit func() response
	runFaults(t, e, flow{
		surface: "browser",
		prepare: func(t *testing.T) func() response {
			p := b.get(e.authURL(l, map[string]string{"prompt": "consent"}))
			f := theForm(t, p)
			submit = func() response { return b.submit(p, f, map[string]string{"decision": "approve"}).response }
			return submit
		},
		ok: func(r response) bool {
			return r.status == http.StatusSeeOther && strings.Contains(r.header.Get("Location"), "code=")
		},
		after: func(t *testing.T, r response, failed bool) {
			if failed {
				r = submit()
			}
			if r.status != http.StatusSeeOther {
				t.Fatalf("retry: got status %d (%s), want 303", r.status, r.body)
			}
			e.exchange(l, r.location(t).Query().Get("code"), "")
		},
	})
}

// activeGrant returns the id of the one active grant of l (one per user
// and link: the tests have one user), "" when there is none.
func activeGrant(t *testing.T, e *env, l link) string {
	t.Helper()
	var ids []string
	for _, g := range e.grants(l) {
		if !g.Revoked {
			ids = append(ids, g.ID)
		}
	}
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return ids[0]
	}
	t.Fatalf("got active grants %v of one user for one link, want at most one", ids)
	return ""
}

// TestFault_CodeExchange fails each call of a code exchange: the answer is
// temporarily_unavailable/server_error, and a retry with the same code
// either succeeds (the code was not consumed) or, when the redemption took
// effect but its answer was lost, is invalid_grant with the grant the code
// was issued under revoked (RFC 6749 §4.1.2): no token of it stays active.
func TestFault_CodeExchange(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.session(t, "alice", l)
	var code, codeGrant string
	exchange := func() response {
		return e.token(l, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
	}
	runFaults(t, e, flow{
		surface: "token",
		prepare: func(t *testing.T) func() response {
			code = e.freshCode(t, b, l)
			// The approval created or updated alice's one grant for l:
			// the code is issued under it.
			if codeGrant = activeGrant(t, e, l); codeGrant == "" {
				t.Fatal("no active grant after the approval")
			}
			return exchange
		},
		ok: func(r response) bool { return r.status == 200 },
		after: func(t *testing.T, r response, failed bool) {
			if failed {
				r = exchange()
			}
			switch {
			case r.status == 200:
				if got := activeGrant(t, e, l); got != codeGrant {
					t.Errorf("after a successful exchange: got active grant %q, want the code's %q", got, codeGrant)
				}
				if !e.active(l, str(r.json(t)["refresh_token"])) {
					t.Error("the issued refresh token is inactive")
				}
			case failed && r.status == 400 && str(r.json(t)["error"]) == "invalid_grant":
				t.Logf("the redemption took effect and its answer was lost: the retry is invalid_grant")
				if got := activeGrant(t, e, l); got == codeGrant {
					t.Errorf("grant %s of the consumed code: got active, want revoked", codeGrant)
				}
			default:
				t.Errorf("retry: got status %d (%s), want 200 (or invalid_grant when the code was consumed)", r.status, r.body)
			}
		},
	})
}

// TestFault_Refresh fails each call of a refresh (REFRESH_REUSE_GRACE=30s):
// the answer is temporarily_unavailable/server_error, no second token
// family appears, and a retry with the same refresh token succeeds (within
// the grace period even when the rotation took effect and its answer was
// lost).
func TestFault_Refresh(t *testing.T) {
	e := newEnv(t, map[string]string{"REFRESH_REUSE_GRACE": "30s"})
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.session(t, "alice", l)
	var cur grant
	refresh := func() response { return e.refresh(l, cur.refresh) }
	runFaults(t, e, flow{
		surface: "token",
		prepare: func(t *testing.T) func() response {
			if cur.refresh == "" {
				cur = e.exchange(l, e.freshCode(t, b, l), "")
			}
			return refresh
		},
		ok: func(r response) bool { return r.status == 200 },
		after: func(t *testing.T, r response, failed bool) {
			old := cur
			if failed {
				r = refresh()
			}
			if r.status != 200 {
				t.Fatalf("retry: got status %d (%s), want 200", r.status, r.body)
			}
			cur = grant{access: str(r.json(t)["access_token"]), refresh: str(r.json(t)["refresh_token"])}
			if e.active(l, old.refresh) {
				t.Error("the rotated refresh token: got active, want inactive")
			}
			if !e.active(l, cur.refresh) || !e.active(l, cur.access) {
				t.Error("the new tokens: got inactive, want active")
			}
			gs := e.grants(l)
			active := 0
			for _, g := range gs {
				if !g.Revoked {
					active++
				}
			}
			if active != 1 {
				t.Errorf("got %d active grants, want 1", active)
			}
		},
	})
}

// TestFault_RefreshLostAnswerWithoutGrace: with REFRESH_REUSE_GRACE=0 (the
// default), a rotation that took effect but whose answer was lost makes
// the retry a reuse: invalid_grant, and the whole grant is revoked, so no
// token of it stays active (the documented cost: the client authorizes
// again).
func TestFault_RefreshLostAnswerWithoutGrace(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	g := e.exchange(l, e.code(l, "alice", nil), "")
	e.faults.Count()
	if r := e.refresh(l, g.refresh); r.status != 200 {
		t.Fatalf("clean refresh: got %d (%s)", r.status, r.body)
	}
	calls := e.faults.Calls()
	if calls[len(calls)-1] != "DynamoDB.UpdateItem" {
		t.Fatalf("the refresh's last call is %s, want the rotation's gate (UpdateItem, after the successor's PutItem)", calls[len(calls)-1])
	}
	g = e.exchange(l, e.code(l, "alice", map[string]string{"prompt": "consent"}), "")
	e.faults.Arm(len(calls), Timeout)
	r := e.refresh(l, g.refresh)
	e.faults.Disarm()
	failedCleanly(t, e, "token", r)
	oauthError(t, e.refresh(l, g.refresh), 400, "invalid_grant")
	for name, tok := range map[string]string{"access": g.access, "refresh": g.refresh} {
		if e.active(l, tok) {
			t.Errorf("%s token: got active, want inactive (grant revoked)", name)
		}
	}
}

// TestFault_RevokeRefreshToken fails each call of a revocation (RFC 7009)
// of a refresh token: the answer is temporarily_unavailable/server_error,
// and a retry revokes the grant: none of its tokens stays active.
func TestFault_RevokeRefreshToken(t *testing.T) {
	faultRevoke(t, func(g grant) string { return g.refresh })
}

// TestFault_RevokeAccessToken is TestFault_RevokeRefreshToken for an
// access token: a retry makes it inactive.
func TestFault_RevokeAccessToken(t *testing.T) {
	faultRevoke(t, func(g grant) string { return g.access })
}

func faultRevoke(t *testing.T, pick func(grant) string) {
	e := newEnv(t, nil)
	e.user("alice", "REPO_READ")
	l := e.link(store.Confidential)
	b := e.session(t, "alice", l)
	var g grant
	revoke := func() response { return e.clientPost("/oauth2/revoke", l, url.Values{"token": {pick(g)}}) }
	runFaults(t, e, flow{
		surface: "token",
		prepare: func(t *testing.T) func() response {
			g = e.exchange(l, e.freshCode(t, b, l), "")
			return revoke
		},
		ok: func(r response) bool { return r.status == 200 },
		after: func(t *testing.T, r response, failed bool) {
			if failed {
				wantStatus(t, "retry", revoke(), 200)
			}
			if e.active(l, pick(g)) {
				t.Error("the revoked token: got active, want inactive")
			}
			if pick(g) == g.refresh && e.active(l, g.access) {
				t.Error("the access token of the revoked grant: got active, want inactive")
			}
		},
	})
}
