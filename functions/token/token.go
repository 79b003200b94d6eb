// Package token serves the token endpoint (RFC 6749 §3.2, §4.1.3, §6),
// revocation (RFC 7009), introspection (RFC 7662), authorization-server
// metadata (RFC 8414) and the JWK Set.
package token

import (
	"io"
	"net/http"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// Paths are the URL paths this handler serves.
var Paths = []string{
	"/oauth2/token", "/rest/oauth2/latest/token",
	"/oauth2/revoke", "/oauth2/introspect",
	"/.well-known/oauth-authorization-server", "/.well-known/jwks.json",
}

// Options are the dependencies of a Handler.
type Options struct {
	Config config.Config
	Store  *store.Store // TODO(token): replace by a small interface declared here
	Keys   *signing.Keyring
	Now    func() time.Time // default time.Now
	Random io.Reader        // default crypto/rand.Reader
}

// Handler is the token function's http.Handler.
type Handler struct {
	// TODO(token)
}

// New returns a Handler.
func New(o Options) (*Handler, error) { panic("unimplemented") }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }
