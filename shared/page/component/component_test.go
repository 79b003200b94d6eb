package component

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/a-h/templ"
	templruntime "github.com/a-h/templ/runtime"

	"github.com/applinks/applinks/shared/page"
)

// TestRegistered: a link back to an application is made only for a URI
// that is byte for byte one of the registered ones and a valid redirect
// URI, private-use schemes included; near matches and invalid URIs that
// found their way into the list are refused.
func TestRegistered(t *testing.T) {
	registered := []string{
		"com.example.app:/cb", "https://app.example/bye", "https://app.example/cb?x=1",
		"http://127.0.0.1:8080/cb", "javascript:alert(1)//", "data.x:text/html,<script>", "",
	}
	state := url.Values{"state": {`a b&"<>`}}
	tests := []struct {
		uri   string
		query url.Values
		want  string // "" for no link
	}{
		{"com.example.app:/cb", nil, "com.example.app:/cb"},
		{"com.example.app:/cb", state, "com.example.app:/cb?state=a+b%26%22%3C%3E"},
		{"https://app.example/bye", state, "https://app.example/bye?state=a+b%26%22%3C%3E"},
		{"https://app.example/cb?x=1", state, "https://app.example/cb?x=1&state=a+b%26%22%3C%3E"},
		{"http://127.0.0.1:8080/cb", nil, "http://127.0.0.1:8080/cb"},
		// Not registered, though each is a valid redirect URI.
		{"com.example.app:/cb/", nil, ""},
		{"COM.EXAMPLE.APP:/cb", nil, ""},
		{"https://app.example/bye?", nil, ""},
		{"http://127.0.0.1:9090/cb", nil, ""}, // the loopback port rule is for redirects, not links
		{"https://evil.example/bye", nil, ""},
		// Registered, but not valid redirect URIs.
		{"javascript:alert(1)//", nil, ""},
		{"data.x:text/html,<script>", nil, ""},
		{"", nil, ""},
	}
	for _, tc := range tests {
		got, ok := Registered(registered, tc.uri, tc.query)
		if string(got) != tc.want || ok != (tc.want != "") {
			t.Errorf("Registered(%q, %v): got %q, %t, want %q", tc.uri, tc.query, got, ok, tc.want)
		}
	}
}

// TestRegisteredLink: the component keeps a registered private-use URI
// that templ's own sanitiser (a plain string in an href) replaces, escapes
// it for the attribute, and shows only text for an unregistered URI.
func TestRegisteredLink(t *testing.T) {
	plain, err := templruntime.NewAttributeExpression("com.example.app:/cb").ResolveURL(context.Background())
	if err != nil || plain != string(templ.FailedSanitizationURL) {
		t.Fatalf("templ's sanitiser: got %q, %v, want %q (if templ now keeps private-use schemes, Registered is still the rule for links back to applications)", plain, err, templ.FailedSanitizationURL)
	}
	registered := []string{"com.example.app:/cb", "https://app.example/bye"}
	render := func(uri string, q url.Values) string {
		var b bytes.Buffer
		ctx := templ.WithChildren(context.Background(), templ.Raw("Go back to <b>App</b>"))
		if err := RegisteredLink(registered, uri, q).Render(ctx, &b); err != nil {
			t.Fatalf("render: %v", err)
		}
		return b.String()
	}
	for _, tc := range []struct {
		uri  string
		q    url.Values
		want string
	}{
		{"com.example.app:/cb", url.Values{"state": {`"x'`}}, `<a href="com.example.app:/cb?state=%22x%27">Go back to <b>App</b></a>`},
		{"https://app.example/bye", nil, `<a href="https://app.example/bye">Go back to <b>App</b></a>`},
		{"com.example.app:/other", nil, `Go back to <b>App</b>`},
		{"javascript:alert(1)", nil, `Go back to <b>App</b>`},
	} {
		if got := render(tc.uri, tc.q); got != tc.want {
			t.Errorf("RegisteredLink(%q): got %q, want %q", tc.uri, got, tc.want)
		}
	}
}

// TestFrame: the component frame is page.Head, Brand and Foot's markup.
func TestFrame(t *testing.T) {
	var want page.Buffer
	page.Head(&want, `<T>"`)
	page.Brand(&want, "Example & Co")
	want.WriteString("<h1>Hi</h1>\n")
	page.Foot(&want)
	var got bytes.Buffer
	ctx := templ.WithChildren(context.Background(), templ.Raw("<h1>Hi</h1>\n"))
	if err := Frame(`<T>"`, "Example & Co").Render(ctx, &got); err != nil {
		t.Fatal(err)
	}
	// templ drops the new lines between elements, which pages do not show.
	if g, w := strings.ReplaceAll(got.String(), "\n", ""), strings.ReplaceAll(want.String(), "\n", ""); g != w {
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
	got.Reset()
	if err := Frame("T", "").Render(context.Background(), &got); err != nil || strings.Contains(got.String(), `class="brand"`) {
		t.Errorf("got %q, %v, want no brand line without a provider", got.String(), err)
	}
}

// TestRender: the status, the page security headers and the body.
func TestRender(t *testing.T) {
	w := httptest.NewRecorder()
	Render(w, http.StatusTeapot, templ.Raw("<p>x</p>"), "https://client.example")
	if w.Code != http.StatusTeapot || w.Body.String() != "<p>x</p>" {
		t.Errorf("got %d %q, want 418 <p>x</p>", w.Code, w.Body.String())
	}
	h := w.Header()
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "form-action 'self' https://client.example") {
		t.Errorf("got CSP %q", csp)
	}
	if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("got headers %v", h)
	}
}

// TestRenderNUL: a NUL that a value brings into a page is written as
// U+FFFD, as shared.EscapeHTML writes it, in text and in attributes.
func TestRenderNUL(t *testing.T) {
	w := httptest.NewRecorder()
	Render(w, http.StatusOK, Frame("a\x00b", "c\x00d"))
	body := w.Body.String()
	if strings.Contains(body, "\x00") || !strings.Contains(body, "<title>a\uFFFDb</title>") || !strings.Contains(body, "c\uFFFDd") {
		t.Errorf("got %q, want each NUL as U+FFFD", body)
	}
}

// TestTemplGenerated: every .templ file's committed *_templ.go is what the
// pinned generator (go.mod's tool directive) makes of it today, so that
// go build, which does not run the generator, builds what the .templ files
// say. After editing a .templ file, run `make generate`.
func TestTemplGenerated(t *testing.T) {
	cmd := exec.Command("go", "tool", "templ", "generate", "-check", "-path", ".")
	cmd.Dir = "../../.." // the module root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go tool templ generate -check: %v\n%s\nrun `make generate` and commit the *_templ.go files", err, out)
	}
}
