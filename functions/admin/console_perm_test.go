package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/page"
	"github.com/applinks/applinks/shared/signing"
)

// cellNames is the table as rows of "label: scope scope".
func cellNames(t permTable) []string {
	var out []string
	for _, r := range t.Rows {
		s := r.Label + ":"
		for i, c := range r.Cells {
			if c != nil {
				s += " " + t.Levels[i] + "=" + c.Scope
			}
		}
		out = append(out, s)
	}
	return out
}

func TestPermTableBitbucket(t *testing.T) {
	tb := newPermTable(shared.DefaultCatalog())
	if got, want := strings.Join(tb.Levels, " "), "READ WRITE ADMIN"; got != want {
		t.Errorf("got columns %q, want %q", got, want)
	}
	want := []string{
		"Account: WRITE=ACCOUNT_WRITE",
		"Repositories: READ=REPO_READ WRITE=REPO_WRITE ADMIN=REPO_ADMIN",
		"Projects: ADMIN=PROJECT_ADMIN",
		"Admin: WRITE=ADMIN_WRITE",
		"System: ADMIN=SYSTEM_ADMIN",
	}
	if got := cellNames(tb); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tb.Baseline != "PUBLIC_REPOS" {
		t.Errorf("got baseline %q", tb.Baseline)
	}
	admin := tb.Rows[1].Cells[2]
	if got := strings.Join(admin.Implies, "; "); got != "Repositories: Read, Write" {
		t.Errorf("REPO_ADMIN implies %q, want Repositories: Read, Write", got)
	}
	sys := tb.Rows[4].Cells[2]
	if got := strings.Join(sys.Implies, "; "); got != "Account: Write; Repositories: Read, Write, Admin; Projects: Admin; Admin: Write" {
		t.Errorf("SYSTEM_ADMIN implies %q", got)
	}
}

// TestPermTableJira: a Jira-style catalog given by SCOPE_CATALOG renders
// its own table.
func TestPermTableJira(t *testing.T) {
	cat, err := shared.ParseCatalog([]byte(`{"baseline":"READ","scopes":[
		{"name":"READ","description":"View Jira data"},
		{"name":"WRITE","description":"Create and change issues","implies":["READ"]},
		{"name":"ADMIN","description":"Administer projects","implies":["WRITE"]},
		{"name":"SYSTEM_ADMIN","description":"Administer Jira","implies":["ADMIN"]},
		{"name":"BOARDS","description":"Use agile boards"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tb := newPermTable(cat)
	want := []string{"All: WRITE=WRITE ADMIN=ADMIN", "System: ADMIN=SYSTEM_ADMIN", "Boards: =BOARDS"}
	if got := cellNames(tb); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var b page.Buffer
	writePermTable(&b, tb, "scope", "Permissions", []string{"ADMIN"}, "")
	out := b.String()
	for _, w := range []string{`value="ADMIN" checked`, "<th scope=\"col\">Access</th>", "Use agile boards", "Every link has <strong>View Jira data</strong>"} {
		if !strings.Contains(out, w) {
			t.Errorf("want %q in the table", w)
		}
	}
}

func TestCSSIdent(t *testing.T) {
	if got := cssIdent("scope-A_b</style>"); got != `scope-A_b\3c \2f style\3e ` {
		t.Errorf("got %q", got)
	}
}

// TestConsolePagesEscape renders the pages that show stored values with a
// hostile value in each, and requires no raw markup of it in the page.
func TestConsolePagesEscape(t *testing.T) {
	const v = `"'><script>alert(1)</script><!--`
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cat, _ := shared.ParseCatalog([]byte(`{"baseline":"B","scopes":[{"name":"B","description":"` + strings.ReplaceAll(v, `"`, `\"`) + `"},{"name":"X</style><script>x()</script>_READ","description":"d"}]}`))
	l := linkData{CSRF: v, Catalog: cat}
	l.Link.ID, l.Link.Name, l.Link.ClientID, l.Link.RedirectURIs, l.Link.Scopes = v, v, v, []string{v}, []string{v}
	l.Link.PostLogoutRedirectURIs = []string{v}
	l.Link.CreatedAt, l.Link.UpdatedAt = at, at
	l.Notice = v
	pages := map[string]func(w http.ResponseWriter){
		"link": func(w http.ResponseWriter) { renderConsole(w, 200, frame{Title: v}, linkPage, l) },
		"form": func(w http.ResponseWriter) {
			renderConsole(w, 200, frame{Title: v}, linkFormPage, linkFormData{CSRF: v, Name: v, URIs: []string{v}, LogoutURIs: v, Scopes: []string{v}, Errs: fieldErrors{"name": v, "post_logout_redirect_uris[0]": v}, Table: newPermTable(cat)})
		},
		"credentials": func(w http.ResponseWriter) {
			renderConsole(w, 200, frame{Title: v, Script: true}, credentialsPage, credentialsData{Link: l.Link, Creds: credentialsView{ClientID: v, ClientSecret: v}, Issuer: v})
		},
		"message": func(w http.ResponseWriter) {
			renderConsole(w, 200, frame{Title: v}, messagePage, consoleMsg{Title: v, Text: v, Link: v, LinkText: v})
		},
	}
	for name, p := range pages {
		w := httptest.NewRecorder()
		p(w)
		body := w.Body.String()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<script>x()") || strings.Contains(body, "<!--") {
			t.Errorf("%s: got a page with the value's raw markup", name)
		}
		if strings.Count(body, "<script>") > 1 {
			t.Errorf("%s: got more than the copy script", name)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0 seconds", time.Hour + 5*time.Minute: "1 hour 5 minutes", 48 * time.Hour: "2 days", time.Second: "1 second"} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v): got %q, want %q", d, got, want)
		}
	}
}

// TestKeysPageSigningSince: the current key says since when it signs, when
// its document knows.
func TestKeysPageSigningSince(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		key  signing.KeyInfo
		want string
	}{
		{signing.KeyInfo{KeyID: "k1", Alg: "RS256", State: "current", AccessTokens: true, ActiveFrom: at}, `Signs access tokens and RS256 ID tokens, since <time datetime="2026-05-01T12:00:00Z">`},
		{signing.KeyInfo{KeyID: "k1", Alg: "RS256", State: "current", AccessTokens: true}, "Signs access tokens and RS256 ID tokens</td>"},
		{signing.KeyInfo{KeyID: "k2", Alg: "ES256", State: "current", ActiveFrom: at}, `<td data-label="Algorithm">ES256</td><td data-label="State"><span class="status on">Signing</span></td><td data-label="When">Signs ES256 ID tokens, since`},
	} {
		w := httptest.NewRecorder()
		renderConsole(w, 200, frame{Title: "Signing keys"}, keysPage, keysData{Keys: []signing.KeyInfo{c.key}})
		if !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("key %+v: the page lacks %q", c.key, c.want)
		}
	}
}
