package authorize

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/page/component"
	"github.com/applinks/applinks/shared/store"
)

// hostile is a value that breaks out of an element or an attribute if it
// is not escaped.
const hostile = `"'><script>alert("x")</script>&amp;<!--` + "\x00"

// TestPagesEscapeEveryValue renders every page twice, once with a plain
// marker in every field and once with a hostile value, and requires the two
// to be the same once the hostile value's escaped form is read as the
// marker: every value is escaped, in text and in attributes, and nothing
// else of the page changes.
func TestPagesEscapeEveryValue(t *testing.T) {
	const marker = "VALUE"
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	pages := []struct {
		name  string
		build func(v string) func(w http.ResponseWriter)
	}{
		{"login", func(v string) func(w http.ResponseWriter) {
			d := loginData{site: site{v, v}, ReturnTo: v, AppName: v, CSRF: v, Username: v, Message: v, SignedInAs: v}
			return func(w http.ResponseWriter) { component.Render(w, http.StatusOK, loginPage(d)) }
		}},
		{"consent", func(v string) func(w http.ResponseWriter) {
			d := consentData{site: site{v, v}, AppName: v, RedirectHost: v, Username: v, CSRF: v,
				Scopes: []scopeItem{{Name: v, Description: v, Includes: []string{v, v}}},
				Hidden: []hiddenInput{{Name: "state", Value: v}, {Name: v, Value: v}}}
			return func(w http.ResponseWriter) { component.Render(w, http.StatusOK, consentPage(d)) }
		}},
		{"account", func(v string) func(w http.ResponseWriter) {
			d := accountData{site: site{v, v}, Username: v, Revoked: v, CSRF: v, Apps: []appView{{
				Authorization: Authorization{ClientID: v, Name: v, AuthorizedAt: at, LastAuthorizedAt: at.Add(time.Hour)},
				ScopeItems:    []scopeItem{{Name: v, Description: v, Includes: []string{v}}},
				RevokeAction:  "/account/authorizations/c/revoke",
			}}}
			return func(w http.ResponseWriter) { component.Render(w, http.StatusOK, accountPage(d)) }
		}},
		{"message", func(v string) func(w http.ResponseWriter) {
			m := message{Title: v, Text: v, Link: accountPath, LinkText: v, Help: true, Developer: v}
			h := &Handler{provider: v, cfg: config.Config{SupportContact: v}}
			return func(w http.ResponseWriter) { h.renderMessage(w, http.StatusOK, m) }
		}},
		{"error", func(v string) func(w http.ResponseWriter) {
			d := authError{site: site{v, v}, Title: v, Text: v, Next: v, Code: v, Description: v}
			return func(w http.ResponseWriter) { component.Render(w, http.StatusBadRequest, errorPage(d)) }
		}},
		{"sign out", func(v string) func(w http.ResponseWriter) {
			d := signOutData{site: site{v, v}, Username: v, CSRF: v}
			return func(w http.ResponseWriter) { component.Render(w, http.StatusOK, signOutPage(d)) }
		}},
		{"sign out for an application", func(v string) func(w http.ResponseWriter) {
			lr := &logoutRequest{link: &store.Link{Name: v, ClientID: v}, redirect: "https://app.example/bye", state: "st"}
			d := signOutData{site: site{v, v}, Username: v, CSRF: v, Logout: lr}
			return func(w http.ResponseWriter) { component.Render(w, http.StatusOK, signOutPage(d)) }
		}},
		{"signed out", func(v string) func(w http.ResponseWriter) {
			return func(w http.ResponseWriter) { component.Render(w, http.StatusOK, signedOutPage(site{v, v})) }
		}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			plain, bad := httptest.NewRecorder(), httptest.NewRecorder()
			p.build(marker)(plain)
			p.build(hostile)(bad)
			body := bad.Body.String()
			for _, raw := range []string{"<script", "alert(\"x\")", "<!--", "\x00"} {
				if strings.Contains(body, raw) {
					t.Errorf("got a page containing %q, want every value escaped", raw)
				}
			}
			escaped := shared.EscapeHTML(hostile)
			if n := strings.Count(body, escaped); n == 0 {
				t.Fatalf("got a page without the escaped value %q", escaped)
			}
			if got, want := strings.ReplaceAll(body, escaped, marker), plain.Body.String(); got != want {
				t.Errorf("got a page whose markup changes with the value:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
