package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/applinks/applinks/shared"
)

// Authenticator decides whether a request may use the admin API; it returns
// nil, or an error whose status the handler answers (401 or 403).
//
// BearerToken and IAMPrincipal answer with the statuses below; any other
// error an Authenticator returns is answered 401.
type Authenticator func(r *http.Request) error

// tokenPrincipal is the principal recorded in audit lines for requests
// authenticated by the admin token.
const tokenPrincipal = "admin-token"

// bearerChallenge is the WWW-Authenticate challenge of a 401 (RFC 6750 §3).
const bearerChallenge = `Bearer realm="admin"`

// unauthorized is a 401 with its WWW-Authenticate challenge; invalid adds
// error="invalid_token" (RFC 6750 §3.1) when a token was sent but is wrong.
type unauthorized struct {
	msg     string
	invalid bool
}

func (e *unauthorized) Error() string { return "unauthorized: " + e.msg }

// forbidden is a 403.
type forbidden struct{ msg string }

func (e *forbidden) Error() string { return "forbidden: " + e.msg }

// BearerToken accepts `Authorization: Bearer <token>` (local mode; RFC 6750
// §2.1, the scheme is case-insensitive), compared in constant time on the
// SHA-256 digests, so that neither the position of a difference nor the
// length shows in the timing; otherwise 401 with WWW-Authenticate: Bearer.
// An empty token accepts nothing.
func BearerToken(token string) Authenticator {
	return func(r *http.Request) error {
		v := r.Header.Values("Authorization")
		if len(v) == 0 {
			return &unauthorized{msg: "missing Authorization header: send Authorization: Bearer <admin token>"}
		}
		if len(v) > 1 {
			return &unauthorized{msg: "more than one Authorization header", invalid: true}
		}
		scheme, got, ok := strings.Cut(v[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return &unauthorized{msg: "the Authorization header must use the Bearer scheme"}
		}
		got = strings.TrimLeft(got, " ")
		// Evaluate the comparison even for an empty configured token, so
		// the timing does not depend on the configuration either.
		if eq := shared.Equal(got, token); !eq || token == "" {
			return &unauthorized{msg: "the admin token is not valid", invalid: true}
		}
		return nil
	}
}

// IAMPrincipal accepts a request whose API Gateway v2 context (from
// aws-lambda-go-api-proxy's core.GetAPIGatewayV2ContextFromContext) carries an
// IAM principal; otherwise 403 (Lambda mode, behind SigV4 authorization).
// The principal is the IAM authorizer's user ARN, or its caller id or access
// key id when the ARN is absent.
func IAMPrincipal() Authenticator {
	return func(r *http.Request) error {
		if _, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); !ok {
			return &forbidden{msg: "the request did not come through API Gateway"}
		}
		if iamPrincipal(r) == "" {
			return &forbidden{msg: "the request carries no IAM principal: sign it with SigV4"}
		}
		return nil
	}
}

// iamPrincipal returns the IAM principal of the request's API Gateway v2
// context, "" when there is none.
func iamPrincipal(r *http.Request) string {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.IAM == nil {
		return ""
	}
	iam := rc.Authorizer.IAM
	for _, p := range []string{iam.UserARN, iam.CallerID, iam.AccessKey} {
		if p = strings.TrimSpace(p); p != "" {
			return p
		}
	}
	return ""
}

// principalOf names who made an authenticated request, for audit lines: the
// IAM principal when API Gateway supplied one, otherwise the admin token.
func principalOf(r *http.Request) string {
	if p := iamPrincipal(r); p != "" {
		return p
	}
	return tokenPrincipal
}

// authFailure turns an Authenticator's error into the response: 403 for
// forbidden, 401 with its WWW-Authenticate challenge for anything else.
func authFailure(w http.ResponseWriter, err error) *apiError {
	var f *forbidden
	if errors.As(err, &f) {
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: f.msg}
	}
	e := &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "authentication required"}
	challenge := bearerChallenge
	var u *unauthorized
	if errors.As(err, &u) {
		e.Message = u.msg
		if u.invalid {
			challenge += `, error="invalid_token"`
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	return e
}
