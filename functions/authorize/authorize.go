// Package authorize serves the authorization endpoint (RFC 6749 §4.1.1,
// RFC 7636, RFC 9207), sign-in, consent and the account page where a user
// sees and revokes the applications they authorized.
package authorize

import (
	"io"
	"net/http"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// Paths are the URL paths (or ServeMux prefixes, ending in /) this handler
// serves.
var Paths = []string{
	"/oauth2/authorize", "/rest/oauth2/latest/authorize",
	"/oauth2/login", "/oauth2/consent",
	"/account/authorizations", "/account/authorizations/",
}

// Options are the dependencies of a Handler.
type Options struct {
	Config config.Config
	Store  *store.Store // TODO(authorize): replace by a small interface declared here
	Now    func() time.Time
	Random io.Reader
}

// Handler is the authorize function's http.Handler.
type Handler struct {
	// TODO(authorize)
}

// New returns a Handler.
func New(o Options) (*Handler, error) { panic("unimplemented") }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }
