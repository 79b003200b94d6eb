package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
)

// TestConsoleRegistrationPolicy: the Self-registration page shows the
// policy; saving asks for a fresh confirmation first, refuses an invalid
// form with each field's error (saving nothing), and saves a valid one
// whole (audited, and listed in the page's activity).
func TestConsoleRegistrationPolicy(t *testing.T) {
	e := newConsoleEnv(t)
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", ConfirmTTL+time.Second)
	r := e.get(cookie, "/console/registration")
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="dr_mode" value="off" checked`) ||
		!strings.Contains(r.body, `No application is waiting.`) || !strings.Contains(r.body, `aria-current="page">Self-registration`) {
		t.Fatalf("policy page: %d\n%s", r.status, r.body)
	}
	form := url.Values{"csrf": {csrf}, "dr_mode": {"open"}, "dr_scope": {"REPO_READ"}, "idle_days": {"14"},
		"md_mode": {"trusted_hosts"}, "trusted_hosts": {"agents.example\n.tools.example\n"}, "md_scope": {"REPO_READ", "ACCOUNT_WRITE"}}
	r = e.post(cookie, "/console/registration", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
		t.Fatalf("unconfirmed save: %d to %q, want the confirmation", r.status, r.location())
	}
	cookie, csrf = e.signIn("alice", time.Minute)
	form.Set("csrf", csrf)

	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("idle_days", "0")
	bad.Set("trusted_hosts", "Agents.Example\nok.example")
	bad.Set("md_mode", "sometimes")
	r = e.post(cookie, "/console/registration", bad)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="idle_days-error"`) ||
		!strings.Contains(r.body, `id="trusted_hosts-error"`) || !strings.Contains(r.body, `id="md_mode-error"`) ||
		!strings.Contains(r.body, "Agents.Example\nok.example</textarea>") {
		t.Fatalf("invalid form: %d\n%s", r.status, r.body)
	}
	if p, _ := e.h2policy(t); p.DynamicRegistration.Mode != shared.ModeOff {
		t.Fatalf("an invalid form saved %+v", p)
	}

	r = e.post(cookie, "/console/registration", form)
	if r.status != http.StatusSeeOther || r.location() != "/console/registration?saved=1" {
		t.Fatalf("save: %d to %q\n%s", r.status, r.location(), r.body)
	}
	p, _ := e.h2policy(t)
	if p.DynamicRegistration.Mode != shared.ModeOpen || p.DynamicRegistration.IdleDays != 14 ||
		p.MetadataDocuments.Mode != shared.ModeTrustedHosts || len(p.MetadataDocuments.TrustedHosts) != 2 ||
		len(p.MetadataDocuments.Scopes) != 2 {
		t.Fatalf("saved policy: %+v", p)
	}
	if a := e.audits("client_registration_changed"); len(a) != 1 || a[0]["principal"] != "alice" || a[0]["via"] != "console" {
		t.Fatalf("audit: %v", a)
	}
	r = e.get(cookie, "/console/registration?saved=1")
	if !strings.Contains(r.body, "The policy was saved.") || !strings.Contains(r.body, "Policy changed by alice from the console") ||
		!strings.Contains(r.body, `name="dr_mode" value="open" checked`) {
		t.Fatalf("after saving:\n%s", r.body)
	}
}

// h2policy reads the stored policy.
func (e *consoleEnv) h2policy(t *testing.T) (shared.RegistrationPolicy, bool) {
	t.Helper()
	p, _, found, err := e.st.GetRegistrationPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return shared.DefaultRegistrationPolicy(e.cfg.Catalog), false
	}
	return p, true
}

// TestConsoleApproveReject: pending links are listed on the
// Self-registration page with Approve and Reject; each asks for a fresh
// confirmation, shows the application, and records its decision (audited,
// in the link's activity); the links list filters by origin and status;
// an administrator's link has no such pages.
func TestConsoleApproveReject(t *testing.T) {
	e := newConsoleEnv(t)
	e.putPolicy(shared.ModeApproval)
	var ids []string
	for _, name := range []string{"Agent One", "Agent <Two>"} {
		m, _ := e.register(http.StatusCreated, `{"client_name": "`+name+`", "redirect_uris": ["https://agent.example/cb"]}`, "192.0.2.1:1")
		l, err := e.st.GetLinkByClientID(context.Background(), m["client_id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	admin := e.apiLink("Admin app")["id"].(string)
	e.clock.Add(time.Minute) // the decisions come after the registrations
	e.user("alice", true)
	cookie, csrf := e.signIn("alice", ConfirmTTL+time.Second)

	r := e.get(cookie, "/console/registration")
	for _, id := range ids {
		if !strings.Contains(r.body, `href="/console/links/`+id+`/approve"`) || !strings.Contains(r.body, `href="/console/links/`+id+`/reject"`) {
			t.Fatalf("pending list lacks %s:\n%s", id, r.body)
		}
	}
	if !strings.Contains(r.body, "Agent &lt;Two&gt;") {
		t.Error("a registered name is not escaped")
	}
	for _, p := range []string{"/approve", "/reject"} {
		r := e.get(cookie, "/console/links/"+ids[0]+p)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
			t.Errorf("GET %s unconfirmed: %d %q", p, r.status, r.location())
		}
		r = e.post(cookie, "/console/links/"+ids[0]+p, url.Values{"csrf": {csrf}})
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/confirm?") {
			t.Errorf("POST %s unconfirmed: %d %q", p, r.status, r.location())
		}
	}
	if l, _ := e.st.GetLink(context.Background(), ids[0]); l.Status != shared.StatusPending {
		t.Fatalf("an unconfirmed decision changed the link: %q", l.Status)
	}

	cookie, csrf = e.signIn("alice", time.Minute)
	r = e.get(cookie, "/console/links/"+ids[0]+"/approve")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Approve Agent One?") || !strings.Contains(r.body, "https://agent.example/cb") {
		t.Fatalf("approve page: %d\n%s", r.status, r.body)
	}
	r = e.post(cookie, "/console/links/"+ids[0]+"/approve", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther || r.location() != "/console/registration?approved=1" {
		t.Fatalf("approve: %d %q", r.status, r.location())
	}
	r = e.get(cookie, "/console/links/"+ids[1]+"/reject")
	if r.status != http.StatusOK || !strings.Contains(r.body, `class="danger">Reject Agent &lt;Two&gt;`) {
		t.Fatalf("reject page: %d\n%s", r.status, r.body)
	}
	if r = e.post(cookie, "/console/links/"+ids[1]+"/reject", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("reject: %d", r.status)
	}
	for i, want := range []string{shared.StatusActive, shared.StatusRejected} {
		if l, _ := e.st.GetLink(context.Background(), ids[i]); l.Status != want {
			t.Errorf("link %d: status %q, want %q", i, l.Status, want)
		}
	}
	if a, rj := e.audits("link_approved"), e.audits("link_rejected"); len(a) != 1 || len(rj) != 1 || a[0]["principal"] != "alice" {
		t.Fatalf("audits: %v %v", a, rj)
	}
	evs, _, _ := e.st.ListEvents(context.Background(), store.EventWriterAdmin, store.EventSubject{Kind: store.EventLink, ID: ids[0]}, 10, "", e.clock.Now())
	if len(evs) != 2 || evs[0].Event != "link_approved" || evs[1].Event != "link_registered" {
		t.Fatalf("link activity: %+v", evs)
	}
	if r := e.get(cookie, "/console/links/"+admin+"/approve"); r.status != http.StatusConflict {
		t.Errorf("approve page of an admin link: %d, want 409", r.status)
	}
	if r := e.post(cookie, "/console/links/"+admin+"/reject", url.Values{"csrf": {csrf}}); r.status != http.StatusConflict {
		t.Errorf("reject an admin link: %d, want 409", r.status)
	}

	r = e.get(cookie, "/console/links?origin=dynamic&status=rejected")
	if r.status != http.StatusOK || !strings.Contains(r.body, ids[1]) || strings.Contains(r.body, ids[0]) || strings.Contains(r.body, admin) ||
		!strings.Contains(r.body, `<option value="rejected" selected>`) {
		t.Fatalf("filtered list: %d\n%s", r.status, r.body)
	}
	r = e.get(cookie, "/console/links?origin=admin")
	if !strings.Contains(r.body, admin) || strings.Contains(r.body, ids[0]) {
		t.Fatalf("admin links:\n%s", r.body)
	}
	if r := e.get(cookie, "/console/links?status=approved"); r.status != http.StatusOK || !strings.Contains(r.body, admin) || !strings.Contains(r.body, ids[0]) {
		t.Errorf("a filter the page does not offer: %d, want every link", r.status)
	}
	// The filter keeps the list's other choices, and they keep it.
	r = e.get(cookie, "/console/links?status=pending&sort=last_used")
	if !strings.Contains(r.body, `<input type="hidden" name="sort" value="last_used">`) || !strings.Contains(r.body, `href="/console/links?status=pending"`) {
		t.Errorf("filter and sort kept together:\n%s", r.body)
	}
}
