package authorize

import (
	"net/http"
	"testing"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// TestPasswordSignInAdmins: with PASSWORD_SIGN_IN=admins only an
// administrator the admin function created signs in with a password; any
// other user's right password gets the wrong password's answer (and no
// session), as does the right password of a user created by an upstream
// sign-in whose item says admin.
func TestPasswordSignInAdmins(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.PasswordSignIn = config.PasswordAdmins })
	made := e.clock.Now().Add(-time.Minute)
	e.fake.addUser(store.User{ID: "uid-root", Username: "root", PasswordHash: aliceHash(), Admin: true, CreatedAt: made, UpdatedAt: made})
	e.fake.addUser(store.User{ID: store.SignInUserPrefix + "x", Username: "forged", PasswordHash: aliceHash(), Admin: true, CreatedAt: made, UpdatedAt: made})
	for _, tc := range []struct {
		user string
		ok   bool
	}{{"alice", false}, {"forged", false}, {"root", true}} {
		b, f := loginForm(t, e)
		r := b.submit(f, "", map[string]string{"username": tc.user, "password": alicePass})
		if tc.ok {
			if r.status != http.StatusSeeOther {
				t.Errorf("%s: status %d, want 303", tc.user, r.status)
			}
			continue
		}
		if r.status != http.StatusOK || errorText(t, r) != msgLoginFailed || r.header.Get("Location") != "" {
			t.Errorf("%s's right password: status %d, message %q; want the wrong password's answer", tc.user, r.status, errorText(t, r))
		}
	}
}
