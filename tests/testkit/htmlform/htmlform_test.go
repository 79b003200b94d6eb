package htmlform

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	page := `<!doctype html><html><body>
<form method="get" action="/search"><input name="q"></form>
<form method="POST" action="/oauth2/consent">
<input type="hidden" name="client_id" value="c&amp;1">
<input type="hidden" name="csrf" value="t">
<label for="u">User</label><input id="u" type="text" name="username">
<input type="password" name="password">
<input type="hidden" value="no name">
<button type="submit" name="decision" value="approve">Allow</button>
<button name="decision" value="deny">Deny</button>
<button type="button" name="help" value="x">Help</button>
</form>
<form method="post" action="/oauth2/logout"><input type="hidden" name="csrf" value="t2"><input type="submit" name="go" value="Sign out"></form>
</body></html>`
	forms, err := Parse([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) != 2 {
		t.Fatalf("got %d post forms, want 2 (the get form is not one)", len(forms))
	}
	f := forms[0]
	if f.Action != "/oauth2/consent" {
		t.Errorf("action: got %q, want /oauth2/consent", f.Action)
	}
	if got := f.Hidden.Get("client_id"); got != "c&1" {
		t.Errorf("hidden client_id: got %q, want c&1 (unescaped)", got)
	}
	if len(f.Hidden) != 2 {
		t.Errorf("hidden inputs: got %v, want client_id and csrf only", f.Hidden)
	}
	if !f.Fields["username"] || !f.Fields["password"] || len(f.Fields) != 2 {
		t.Errorf("fields: got %v, want username and password", f.Fields)
	}
	if !f.HasButton("decision", "approve") || !f.HasButton("decision", "deny") || f.HasButton("help", "x") {
		t.Errorf("buttons: got %v, want decision approve and deny only", f.Buttons)
	}
	if !forms[1].HasButton("go", "Sign out") || forms[1].Hidden.Get("csrf") != "t2" {
		t.Errorf("second form: got %+v", forms[1])
	}
	if _, err := One([]byte(page)); err == nil || !strings.Contains(err.Error(), "got 2") {
		t.Errorf("One on two forms: got %v, want an error naming 2", err)
	}
	if _, err := One([]byte(`<p>no form</p>`)); err == nil {
		t.Error("One on no form: got nil error")
	}
}
