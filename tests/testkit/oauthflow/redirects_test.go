package oauthflow

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestFollowToCallback: redirects are followed (relative ones too) to the
// redirect URI, which is never requested; its state and error are checked;
// a page, or a loop of redirects, fails.
func TestFollowToCallback(t *testing.T) {
	const cb = "http://127.0.0.1/cb"
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hop?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back := url.Values{"state": {q.Get("state")}, "code": {"the-code"}}
		if q.Get("fail") != "" {
			back = url.Values{"state": {q.Get("state")}, "error": {"access_denied"}}
		}
		http.Redirect(w, r, cb+"?"+back.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>sign in</html>")) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	hc := (&Client{}).HTTPClient(nil)
	follow := func(path, state string) (string, error) {
		u, _ := url.Parse(srv.URL + path)
		return FollowToCallback(context.Background(), hc, u, cb, state)
	}
	if code, err := follow("/auth?state=s1", "s1"); err != nil || code != "the-code" {
		t.Errorf("got %q, %v; want the-code", code, err)
	}
	for _, tc := range []struct{ path, state, want string }{
		{"/auth?state=s1", "s2", "state differs"},
		{"/auth?state=s1&fail=1", "s1", "error=access_denied"},
		{"/page", "s1", "answered 200, not a redirect"},
		{"/loop", "s1", "more than 12 redirects"},
	} {
		if _, err := follow(tc.path, tc.state); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.path, err, tc.want)
		}
	}
	v, c := PKCE()
	if len(v) < 43 || len(c) != 43 || v == c {
		t.Errorf("PKCE: got verifier %q, challenge %q", v, c)
	}
}
