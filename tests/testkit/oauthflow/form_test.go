package oauthflow

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseForm(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8080/oauth2/authorize?client_id=a")
	tests := []struct {
		name       string
		page       string
		wantErr    string
		wantAction string
		wantHidden map[string]string
		wantFields []string
		wantButton [2]string
	}{
		{
			name: "login",
			page: `<!doctype html><html lang="en"><body><form method="POST" action="/oauth2/login">
				<input type="hidden" name="csrf" value="c1"><input type="hidden" name="return_to" value="/oauth2/authorize?x=1&amp;y=2">
				<label>User <input name="username"></label><label>Password <input type="password" name="password"></label>
				<button type="submit">Sign in</button></form></body></html>`,
			wantAction: "http://127.0.0.1:8080/oauth2/login",
			wantHidden: map[string]string{"csrf": "c1", "return_to": "/oauth2/authorize?x=1&y=2"},
			wantFields: []string{"username", "password"},
		},
		{
			name: "consent with an empty action",
			page: `<form method="post"><input type="hidden" name="csrf" value="c2">
				<button name="decision" value="approve">Allow</button><button name="decision" value="deny">Deny</button></form>
				<form method="get" action="/elsewhere"></form>`,
			wantAction: base.String(),
			wantHidden: map[string]string{"csrf": "c2"},
			wantButton: [2]string{"decision", "approve"},
		},
		{name: "no form", page: `<p>nothing</p>`, wantErr: "got 0"},
		{name: "two forms", page: `<form method="post"><input type="hidden" name="a"></form><form method="post"></form>`, wantErr: "got 2"},
		{name: "no hidden input", page: `<form method="post"><input name="username"></form>`, wantErr: "hidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseForm([]byte(tc.page), base)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if f.action.String() != tc.wantAction {
				t.Errorf("action: got %q, want %q", f.action, tc.wantAction)
			}
			for k, v := range tc.wantHidden {
				if got := f.values.Get(k); got != v {
					t.Errorf("hidden %s: got %q, want %q", k, got, v)
				}
			}
			for _, name := range tc.wantFields {
				if !f.has(name) {
					t.Errorf("field %s: missing", name)
				}
			}
			if tc.wantButton[0] != "" && !f.hasButton(tc.wantButton[0], tc.wantButton[1]) {
				t.Errorf("button %s=%s: missing", tc.wantButton[0], tc.wantButton[1])
			}
		})
	}
}
