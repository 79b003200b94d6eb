// Package admin serves the admin API: links (incoming application links)
// with their credentials, the grants of a link, and users. JSON in and out;
// errors are {"error": CODE, "message": TEXT}.
package admin

import (
	"io"
	"net/http"
	"time"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
)

// Paths are the ServeMux prefixes this handler serves.
var Paths = []string{"/admin/"}

// Authenticator decides whether a request may use the admin API; it returns
// nil, or an error whose status the handler answers (401 or 403).
type Authenticator func(r *http.Request) error

// BearerToken accepts `Authorization: Bearer <token>` (local mode), compared
// in constant time; otherwise 401.
func BearerToken(token string) Authenticator { panic("unimplemented") }

// IAMPrincipal accepts a request whose API Gateway v2 context (from
// aws-lambda-go-api-proxy's core.GetAPIGatewayV2ContextFromContext) carries an
// IAM principal; otherwise 403 (Lambda mode, behind SigV4 authorization).
func IAMPrincipal() Authenticator { panic("unimplemented") }

// Options are the dependencies of a Handler.
type Options struct {
	Config config.Config
	Store  *store.Store // TODO(admin): replace by a small interface declared here
	Keys   *signing.Keyring
	Auth   Authenticator
	Now    func() time.Time
	Random io.Reader
}

// Handler is the admin function's http.Handler.
type Handler struct {
	// TODO(admin)
}

// New returns a Handler.
func New(o Options) (*Handler, error) { panic("unimplemented") }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }
