package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/store"
)

func TestUserValidation(t *testing.T) {
	e := newEnv(t, errStore{err: fmt.Errorf("the store must not be reached")}, nil)
	tests := []struct {
		name, method, path, body, msg string
	}{
		{"username missing", "POST", "/admin/users", `{"password":"correct horse"}`, "username: is required"},
		{"username empty", "POST", "/admin/users", `{"username":"","password":"correct horse"}`, "username: must not be empty"},
		{"username space", "POST", "/admin/users", `{"username":"a b","password":"correct horse"}`, "username: must contain only"},
		{"username slash", "POST", "/admin/users", `{"username":"a/b","password":"correct horse"}`, "username: must contain only"},
		{"username non-ASCII", "POST", "/admin/users", `{"username":"zoë","password":"correct horse"}`, "username: must contain only"},
		{"username too long", "POST", "/admin/users", `{"username":"` + strings.Repeat("a", MaxUsernameLen+1) + `","password":"correct horse"}`, "username: is 101 characters"},
		{"password missing", "POST", "/admin/users", `{"username":"alice"}`, "password: is required"},
		{"password short", "POST", "/admin/users", `{"username":"alice","password":"1234567"}`, "password: must be at least 8 bytes"},
		{"password long", "POST", "/admin/users", `{"username":"alice","password":"` + strings.Repeat("p", MaxPasswordBytes+1) + `"}`, "password: must be at most 1024 bytes"},
		{"permission unknown", "POST", "/admin/users", `{"username":"alice","password":"correct horse","permissions":["REPO_READ","ROOT"]}`, `permissions[1]: unknown scope "ROOT"`},
		{"patch username", "PATCH", "/admin/users/alice", `{"username":"alicia"}`, "username: cannot be changed"},
		{"patch password short", "PATCH", "/admin/users/alice", `{"password":"short"}`, "password: must be at least 8 bytes"},
		{"patch permission unknown", "PATCH", "/admin/users/alice", `{"permissions":["NOPE"]}`, `permissions[0]: unknown scope "NOPE"`},
		{"email display name", "POST", "/admin/users", `{"username":"alice","password":"correct horse","email":"Alice <a@example.com>"}`, "email: must be an address"},
		{"email no domain", "POST", "/admin/users", `{"username":"alice","password":"correct horse","email":"alice@"}`, "email: must be an address"},
		{"email too long", "POST", "/admin/users", `{"username":"alice","password":"correct horse","email":"` + strings.Repeat("a", 250) + `@example.com"}`, "email: is 262 bytes long"},
		{"name control", "PATCH", "/admin/users/alice", `{"name":"Alice\u0007"}`, "name: must not contain control characters"},
		{"name too long", "PATCH", "/admin/users/alice", `{"name":"` + strings.Repeat("n", MaxDisplayNameLen+1) + `"}`, "name: is 201 bytes long"},
		{"name bidi override", "PATCH", "/admin/users/alice", `{"name":"Alice\u202Enimda"}`, "name: must not contain the bidirectional control character U+202E (character 6)"},
		{"name zero-width joiner", "POST", "/admin/users", `{"username":"alice","password":"correct horse","name":"Al\u200Dice"}`, "name: must not contain the zero-width character U+200D"},
		{"username zero-width space", "POST", "/admin/users", `{"username":"ad\u200Bmin","password":"correct horse"}`, "username: must not contain the zero-width character U+200B (character 3)"},
		{"username bidi isolate", "POST", "/admin/users", `{"username":"a\u2066b","password":"correct horse"}`, "username: must not contain the bidirectional control character U+2066"},
		// A common or guessable password is refused before the store.
		{"password common", "POST", "/admin/users", `{"username":"alice","password":"password123"}`, "password: is too easy to guess: it is, or is built on, one of the most commonly used passwords"},
		{"password documented example", "POST", "/admin/users", `{"username":"alice","password":"correct horse battery staple"}`, "password: is too easy to guess: it contains an example from the documentation"},
		{"password username", "POST", "/admin/users", `{"username":"margarethe","password":"margarethe2024"}`, "password: is too easy to guess"},
		{"password keyboard", "PATCH", "/admin/users/alice", `{"password":"qwertyuiop"}`, "password: is too easy to guess"},
		{"password admin set", "PUT", "/admin/users/alice/admin/password", `{"password":"iloveyou123"}`, "password: is too easy to guess"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := e.do(422, tt.method, tt.path, tt.body)
			checkError(t, body, "validation_failed", tt.msg)
		})
	}
	if strings.Contains(e.logText(), "correct horse") {
		t.Errorf("a password was logged")
	}
}

func TestUserCRUD(t *testing.T) {
	e := newStoreEnv(t)
	ctx := context.Background()
	const pw, pw2 = "correct horse battery", "staple lantern orbit"

	body := e.do(201, http.MethodPost, "/admin/users",
		`{"username":"alice.o-k_1@example","password":"`+pw+`","permissions":["REPO_WRITE","PUBLIC_REPOS"]}`)
	const name = "alice.o-k_1@example"
	if _, ok := body["password"]; ok {
		t.Errorf("got %v, want no password in the answer", body)
	}
	if _, ok := body["password_hash"]; ok {
		t.Errorf("got %v, want no password hash in the answer", body)
	}
	checkUser := func(body map[string]any, perms []string, disabled bool) {
		t.Helper()
		var got []string
		for _, p := range body["permissions"].([]any) {
			got = append(got, p.(string))
		}
		if body["username"] != name || !slices.Equal(got, perms) || body["disabled"] != disabled {
			t.Errorf("got user %v, want %s with permissions %v, disabled %v", body, name, perms, disabled)
		}
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(body["created_at"])); err != nil {
			t.Errorf("got created_at %v, want an RFC 3339 time", body["created_at"])
		}
	}
	checkUser(body, []string{"PUBLIC_REPOS", "REPO_WRITE"}, false)
	checkUser(e.do(200, http.MethodGet, "/admin/users/"+name, ""), []string{"PUBLIC_REPOS", "REPO_WRITE"}, false)

	u, err := e.st.GetUserByName(ctx, name)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || !password.Verify(pw, u.PasswordHash) {
		t.Errorf("got stored hash %q, want an argon2id hash of the password", u.PasswordHash)
	}

	// A taken username is 409, and the first user is unchanged.
	checkError(t, e.do(409, http.MethodPost, "/admin/users", `{"username":"`+name+`","password":"another password"}`),
		"conflict", "already exists")
	if u, _ := e.st.GetUserByName(ctx, name); !password.Verify(pw, u.PasswordHash) {
		t.Errorf("a refused duplicate changed the first user's password")
	}

	// Update: permissions lowered, disabled, password changed.
	checkUser(e.do(200, http.MethodPatch, "/admin/users/"+name, `{"permissions":["REPO_READ"],"disabled":true}`),
		[]string{"REPO_READ"}, true)
	checkUser(e.do(200, http.MethodPatch, "/admin/users/"+name, `{"password":"`+pw2+`","disabled":false}`),
		[]string{"REPO_READ"}, false)
	checkUser(e.do(200, http.MethodPatch, "/admin/users/"+name, `{}`), []string{"REPO_READ"}, false)
	u, err = e.st.GetUserByName(ctx, name)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !password.Verify(pw2, u.PasswordHash) || password.Verify(pw, u.PasswordHash) {
		t.Errorf("after a password change, the stored hash does not verify the new password alone")
	}

	// The profile: set, shown, stored, changed.
	prof := e.do(200, http.MethodPatch, "/admin/users/"+name,
		`{"name":"Alice Liddell","email":"alice@example.com","email_verified":true}`)
	if prof["admin"] != false || prof["name"] != "Alice Liddell" || prof["email"] != "alice@example.com" || prof["email_verified"] != true {
		t.Errorf("got %v, want name, email and email_verified set", prof)
	}
	if u, _ := e.st.GetUserByName(ctx, name); u.Admin || u.Name != "Alice Liddell" || u.Email != "alice@example.com" || !u.EmailVerified {
		t.Errorf("got stored user %+v, want the profile", u)
	}
	prof = e.do(200, http.MethodPatch, "/admin/users/"+name, `{"email":""}`)
	if prof["name"] != "Alice Liddell" || prof["email"] != "" {
		t.Errorf("got %v, want email cleared, name kept", prof)
	}
	// The administrator flag: set by PUT .../admin, shown, stored, taken
	// away the same way.
	if got := e.do(200, http.MethodPut, "/admin/users/"+name+"/admin", `{"admin":true}`); got["admin"] != true {
		t.Errorf("PUT admin true: got %v, want admin", got)
	}
	if got := e.do(200, http.MethodGet, "/admin/users/"+name, ""); got["admin"] != true {
		t.Errorf("GET after PUT admin true: got %v, want admin", got)
	}
	if u, _ := e.st.GetUserByName(ctx, name); !u.Admin {
		t.Errorf("got stored user %+v, want the admin flag", u)
	}
	if got := e.do(200, http.MethodPut, "/admin/users/"+name+"/admin", `{"admin":false}`); got["admin"] != false || got["name"] != "Alice Liddell" {
		t.Errorf("PUT admin false: got %v, want not admin, profile kept", got)
	}

	// Delete: afterwards 404, and the name is free again.
	e.do(204, http.MethodDelete, "/admin/users/"+name, "")
	checkError(t, e.do(404, http.MethodGet, "/admin/users/"+name, ""), "not_found", "no user")
	checkError(t, e.do(404, http.MethodPatch, "/admin/users/"+name, `{"disabled":true}`), "not_found", "no user")
	checkError(t, e.do(404, http.MethodDelete, "/admin/users/"+name, ""), "not_found", "no user")
	e.do(201, http.MethodPost, "/admin/users", `{"username":"`+name+`","password":"`+pw+`"}`)

	for ev, n := range map[string]int{"user_created": 2, "user_updated": 6, "user_deleted": 1} {
		a := e.audits(ev)
		if len(a) != n {
			t.Errorf("got %d %s events, want %d", len(a), ev, n)
		}
		for _, line := range a {
			if line["principal"] != tokenPrincipal || line["username"] != name {
				t.Errorf("got %s event %v, want username %s by %s", ev, line, name, tokenPrincipal)
			}
		}
	}
	for _, secret := range []string{pw, pw2, "argon2id"} {
		if strings.Contains(e.logText(), secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}

// TestUserIdentity: every user gets a random id, never reused; usernames
// are unique and found regardless of case; an administrator's new password
// or a disabling revokes the user's grants for good, and so does DELETE
// /admin/users/{username}/grants, which keeps the user.
func TestUserIdentity(t *testing.T) {
	e := newStoreEnv(t)
	ctx := context.Background()
	st := e.st.(*store.Store)
	const pw = "correct horse battery"
	first := e.do(201, http.MethodPost, "/admin/users", `{"username":"Alice","password":"`+pw+`"}`)
	id, _ := first["id"].(string)
	if len(id) < 20 || strings.Contains(strings.ToLower(id), "alice") {
		t.Fatalf("got id %q, want a random id of at least 20 characters, not derived from the name", id)
	}
	checkError(t, e.do(409, http.MethodPost, "/admin/users", `{"username":"aLiCe","password":"`+pw+`"}`),
		"conflict", "regardless of letter case")
	for _, name := range []string{"Alice", "alice", "ALICE"} {
		if got := e.do(200, http.MethodGet, "/admin/users/"+name, ""); got["id"] != id || got["username"] != "Alice" {
			t.Errorf("GET /admin/users/%s = %v, want id %s, username Alice", name, got, id)
		}
	}

	approve := func(clientID string) store.Grant {
		t.Helper()
		g, err := st.ApproveGrant(ctx, store.Grant{ID: clientID + "-grant-" + e.clock.Now().Format("150405.000"), UserID: id,
			Username: "Alice", ClientID: clientID, Scope: []string{"REPO_READ"}}, e.cfg.Catalog.Union, e.clock.Now())
		if err != nil {
			t.Fatalf("ApproveGrant: %v", err)
		}
		e.clock.Add(time.Second)
		return g
	}
	active := func() int {
		t.Helper()
		gs, err := st.ListGrantsByUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range gs {
			if !g.Revoked {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"revoke everything", http.MethodDelete, "/admin/users/alice/grants", "", 204},
		{"set a password", http.MethodPatch, "/admin/users/ALICE", `{"password":"staple lantern orbit"}`, 200},
		{"disable", http.MethodPatch, "/admin/users/alice", `{"disabled":true}`, 200},
	} {
		e.do(200, http.MethodPatch, "/admin/users/alice", `{"disabled":false}`)
		approve("c1")
		approve("c2")
		if n := active(); n != 2 {
			t.Fatalf("%s: %d active grants before, want 2", step.name, n)
		}
		e.do(step.status, step.method, step.path, step.body)
		if n := active(); n != 0 {
			t.Errorf("%s: %d active grants after, want 0", step.name, n)
		}
		// Re-enabling brings nothing back.
		e.do(200, http.MethodPatch, "/admin/users/alice", `{"disabled":false}`)
		if n := active(); n != 0 {
			t.Errorf("%s, then enabled: %d active grants, want 0", step.name, n)
		}
	}
	if got := e.audits("user_grants_revoked"); len(got) != 1 || got[0]["user_id"] != id || got[0]["principal"] != tokenPrincipal {
		t.Errorf("user_grants_revoked events = %v, want one for %s by %s", got, id, tokenPrincipal)
	}
	checkError(t, e.do(404, http.MethodDelete, "/admin/users/nobody/grants", ""), "not_found", "no user")

	// Deleted and created again: a new id.
	e.do(204, http.MethodDelete, "/admin/users/alice", "")
	again := e.do(201, http.MethodPost, "/admin/users", `{"username":"alice","password":"`+pw+`"}`)
	if again["id"] == id || again["id"] == "" {
		t.Errorf("re-created user id %v, want a new id (old %s)", again["id"], id)
	}
}

// TestUserLookAlikeNames: a username outside the username alphabet names
// no user. Creating "\u212Aim" (U+212A KELVIN SIGN, which Unicode lowers
// to an ASCII k) is 422, and reading, changing or deleting it (escaped in
// the path) is 404, never kim.
func TestUserLookAlikeNames(t *testing.T) {
	e := newStoreEnv(t)
	const pw = "correct horse battery"
	kim := e.do(201, http.MethodPost, "/admin/users", `{"username":"kim","password":"`+pw+`"}`)
	checkError(t, e.do(422, http.MethodPost, "/admin/users", `{"username":"\u212Aim","password":"`+pw+`"}`),
		"validation_failed", `username: must contain only letters, digits and . _ @ - (found "\u212a" (U+212A) at character 1)`)
	for _, name := range []string{"%E2%84%AAim", "%E2%84%AAIM", "%EF%BD%8Bim", "kim%E2%80%8B"} {
		checkError(t, e.do(404, http.MethodGet, "/admin/users/"+name, ""), "not_found", "no user")
		checkError(t, e.do(404, http.MethodPatch, "/admin/users/"+name, `{"password":"a new long password"}`), "not_found", "no user")
		checkError(t, e.do(404, http.MethodDelete, "/admin/users/"+name+"/grants", ""), "not_found", "no user")
		checkError(t, e.do(404, http.MethodDelete, "/admin/users/"+name, ""), "not_found", "no user")
	}
	got := e.do(200, http.MethodGet, "/admin/users/KIM", "")
	if got["id"] != kim["id"] || got["updated_at"] != kim["updated_at"] {
		t.Errorf("kim = %v, want unchanged %v", got, kim)
	}
	if u, err := e.st.GetUserByName(context.Background(), "kim"); err != nil || !password.Verify(pw, u.PasswordHash) {
		t.Errorf("kim's password changed, or kim is gone: %v", err)
	}
}

// TestAdminFlagOnlyUnderAdminPath: through the JSON API the administrator
// flag is set only by PUT /admin/users/{username}/admin; "admin" in a POST
// or PATCH body is 422, and a PATCH or DELETE of an administrator is 403,
// so a principal allowed user management cannot make an administrator or
// take one over. PUT /admin/users/{username}/admin/password resets an
// administrator's password (ending their sessions and grants), and PUT
// .../admin {"admin": false} takes the flag away, after which the user is
// managed like any other.
func TestAdminFlagOnlyUnderAdminPath(t *testing.T) {
	e := newStoreEnv(t)
	ctx := context.Background()
	st := e.st.(*store.Store)
	const pw, pw2 = "correct horse battery", "staple lantern orbit"

	for _, body := range []string{`{"username":"root","password":"` + pw + `","admin":true}`, `{"username":"root","password":"` + pw + `","admin":false}`} {
		checkError(t, e.do(422, http.MethodPost, "/admin/users", body), "validation_failed", "admin: is set only by PUT /admin/users/{username}/admin")
	}
	checkError(t, e.do(404, http.MethodGet, "/admin/users/root", ""), "not_found", "no user")
	e.do(201, http.MethodPost, "/admin/users", `{"username":"root","password":"`+pw+`"}`)
	checkError(t, e.do(422, http.MethodPatch, "/admin/users/root", `{"admin":true}`), "validation_failed", "admin: is set only by PUT /admin/users/{username}/admin")
	if u, _ := e.st.GetUserByName(ctx, "root"); u.Admin {
		t.Fatalf("PATCH admin true made root an administrator")
	}

	// PUT .../admin: the body is required and must say true or false.
	checkError(t, e.do(422, http.MethodPut, "/admin/users/root/admin", `{}`), "validation_failed", "admin: is required")
	checkError(t, e.do(400, http.MethodPut, "/admin/users/root/admin", `{"admin":"yes"}`), "invalid_request", "admin")
	checkError(t, e.do(400, http.MethodPut, "/admin/users/root/admin", `{"admin":true,"password":"x"}`), "invalid_request", "password")
	checkError(t, e.do(404, http.MethodPut, "/admin/users/nobody/admin", `{"admin":true}`), "not_found", "no user")
	checkError(t, e.do(404, http.MethodPut, "/admin/users/%E2%84%AAim/admin", `{"admin":true}`), "not_found", "no user")
	if w := e.serve(req(http.MethodGet, "/admin/users/root/admin", "")); w.Code != 405 || w.Header().Get("Allow") != "PUT" {
		t.Errorf("GET .../admin: got %d, Allow %q, want 405 with Allow: PUT", w.Code, w.Header().Get("Allow"))
	}
	if got := e.do(200, http.MethodPut, "/admin/users/ROOT/admin", `{"admin":true}`); got["admin"] != true || got["username"] != "root" {
		t.Fatalf("PUT admin true: got %v, want root as an administrator", got)
	}
	if got := e.do(200, http.MethodGet, "/admin/users/root", ""); got["admin"] != true {
		t.Errorf("GET root: got %v, want admin true", got)
	}

	// An administrator: PATCH (whatever it changes) and DELETE are 403,
	// and nothing changes.
	before, _ := e.st.GetUserByName(ctx, "root")
	for _, body := range []string{`{}`, `{"password":"` + pw2 + `"}`, `{"disabled":true}`, `{"name":"Mallory"}`, `{"permissions":["SYSTEM_ADMIN"]}`} {
		checkError(t, e.do(403, http.MethodPatch, "/admin/users/root", body), "forbidden", "root is an administrator: an administrator's credentials change only under /admin/users/root/admin")
	}
	checkError(t, e.do(403, http.MethodDelete, "/admin/users/Root", ""), "forbidden", "root is an administrator")
	if after, err := e.st.GetUserByName(ctx, "root"); err != nil || after.PasswordHash != before.PasswordHash || after.Disabled ||
		after.Name != "" || len(after.Permissions) != 0 || !after.UpdatedAt.Equal(before.UpdatedAt) || !after.Admin {
		t.Errorf("after refused changes: %+v, %v, want root unchanged", after, err)
	}

	// Recovery: PUT .../admin/password sets the password, ends the
	// sessions and revokes the grants.
	if _, err := st.ApproveGrant(ctx, store.Grant{ID: "root-grant", UserID: before.ID, Username: "root", ClientID: "c1", Scope: []string{"REPO_READ"}},
		e.cfg.Catalog.Union, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	checkError(t, e.do(422, http.MethodPut, "/admin/users/root/admin/password", `{"password":"short"}`), "validation_failed", "password: must be at least 8 bytes")
	checkError(t, e.do(422, http.MethodPut, "/admin/users/root/admin/password", `{}`), "validation_failed", "password: is required")
	checkError(t, e.do(404, http.MethodPut, "/admin/users/nobody/admin/password", `{"password":"`+pw2+`"}`), "not_found", "no user")
	if got := e.do(200, http.MethodPut, "/admin/users/root/admin/password", `{"password":"`+pw2+`"}`); got["admin"] != true || got["username"] != "root" {
		t.Errorf("PUT admin/password: got %v, want root, still an administrator", got)
	}
	u, _ := e.st.GetUserByName(ctx, "root")
	if !password.Verify(pw2, u.PasswordHash) || password.Verify(pw, u.PasswordHash) || !u.CredentialsChangedAt.After(before.CredentialsChangedAt) {
		t.Errorf("after PUT admin/password: the stored hash does not verify the new password alone, or sessions were not ended")
	}
	if gs, err := st.ListGrantsByUser(ctx, u.ID); err != nil || len(gs) != 1 || !gs[0].Revoked {
		t.Errorf("root's grants after PUT admin/password = %+v, %v, want the one grant revoked", gs, err)
	}

	// Revoking everything an administrator authorized is still allowed
	// (it changes no credential).
	e.do(204, http.MethodDelete, "/admin/users/root/grants", "")

	// Taken away, the flag no longer protects: root is managed like any
	// user again.
	if got := e.do(200, http.MethodPut, "/admin/users/root/admin", `{"admin":false}`); got["admin"] != false {
		t.Errorf("PUT admin false: got %v, want admin false", got)
	}
	if got := e.do(200, http.MethodPatch, "/admin/users/root", `{"disabled":true}`); got["disabled"] != true {
		t.Errorf("PATCH after the flag was taken away: got %v, want disabled", got)
	}
	e.do(204, http.MethodDelete, "/admin/users/root", "")

	var admins []any
	for _, a := range e.audits("user_updated") {
		if slices.Contains(a["fields"].([]any), any("admin")) {
			admins = append(admins, a["admin"])
		}
		if a["principal"] != tokenPrincipal || a["username"] != "root" {
			t.Errorf("user_updated event %v, want root by %s", a, tokenPrincipal)
		}
	}
	if !slices.Equal(admins, []any{true, false}) {
		t.Errorf("admin changes in audit events = %v, want true then false", admins)
	}
	if strings.Contains(e.logText(), pw2) || strings.Contains(e.logText(), pw) {
		t.Errorf("a password was logged")
	}
}

// TestConsoleCallMayChangeAdministrators: the console's calls (a signed-in
// administrator) keep setting the flag and changing administrators through
// the same operations; every other call gets the JSON API's rules.
func TestConsoleCallMayChangeAdministrators(t *testing.T) {
	a := &signedIn{user: store.User{Username: "root", Admin: true}}
	if !a.call().changesAdministrators() {
		t.Errorf("the console's call %+v may not change administrators, want it may", a.call())
	}
	for _, c := range []call{{principal: tokenPrincipal, via: "api"}, {principal: "root"}, {}} {
		if c.changesAdministrators() {
			t.Errorf("call %+v may change administrators, want only the console's", c)
		}
	}
}
