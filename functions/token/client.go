package token

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Client authentication methods (RFC 7591 §2 names, RFC 8414 metadata).
const (
	methodBasic = "client_secret_basic"
	methodPost  = "client_secret_post"
	methodNone  = "none"
)

// credentials is what a request presents to identify its client (RFC 6749
// §2.3.1, §3.2.1).
type credentials struct {
	clientID string
	secret   string
	method   string
}

// readCredentials extracts the client's credentials from the Authorization
// header (client_secret_basic) or the form (client_secret_post, or client_id
// alone for a public client). Using two methods at once is invalid_request
// (RFC 6749 §2.3: "MUST NOT use more than one authentication method in each
// request"); presenting none is invalid_client.
func readCredentials(r *http.Request, form map[string]string) (credentials, error) {
	formID, hasFormID := form["client_id"]
	formSecret, hasFormSecret := form["client_secret"]
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		return credentials{}, shared.InvalidRequest("more than one Authorization header")
	}
	if len(authz) == 1 {
		if hasFormSecret {
			return credentials{}, shared.InvalidRequest("more than one client authentication method")
		}
		id, secret, err := parseBasic(authz[0])
		if err != nil {
			return credentials{}, err
		}
		if hasFormID && formID != id {
			return credentials{}, shared.InvalidRequest("client_id does not match the Authorization header")
		}
		if secret == "" {
			// Basic with an empty password: a public client naming itself
			// (some libraries send client_id this way); a confidential
			// client fails authentication as it would without a secret.
			return credentials{clientID: id, method: methodNone}, nil
		}
		return credentials{clientID: id, secret: secret, method: methodBasic}, nil
	}
	switch {
	case hasFormSecret && formID == "":
		return credentials{}, shared.InvalidClient("client_id is required with client_secret")
	case hasFormSecret:
		return credentials{clientID: formID, secret: formSecret, method: methodPost}, nil
	case formID != "":
		return credentials{clientID: formID, method: methodNone}, nil
	}
	return credentials{}, shared.InvalidClient("client authentication is required")
}

// parseBasic decodes client_secret_basic credentials. RFC 6749 §2.3.1: the
// client identifier and secret are each encoded with
// application/x-www-form-urlencoded before being joined by a colon and
// Base64-encoded (RFC 7617), so both are unescaped here.
func parseBasic(header string) (id, secret string, err error) {
	scheme, value, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", shared.InvalidClient("unsupported authentication scheme")
	}
	value = strings.TrimSpace(value)
	raw, decErr := base64.StdEncoding.DecodeString(value)
	if decErr != nil {
		if raw, decErr = base64.RawStdEncoding.DecodeString(value); decErr != nil {
			return "", "", shared.InvalidClient("malformed Basic credentials")
		}
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", shared.InvalidClient("malformed Basic credentials")
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" {
		return "", "", shared.InvalidClient("malformed Basic credentials")
	}
	return id, secret, nil
}

// authenticate checks c against the link read for c.clientID (nil when
// unknown) and returns the link. Every failure is the same invalid_client,
// so that a caller learns nothing about which check failed; the reason is
// logged.
func authenticate(ctx context.Context, c credentials, link *store.Link, now time.Time) (*store.Link, error) {
	reason := ""
	switch {
	case link == nil:
		reason = "unknown client"
	case !link.Usable():
		reason = "link disabled"
	case link.ClientType == store.Public && c.method != methodNone:
		reason = "public client sent a secret"
	case link.ClientType != store.Public && c.method == methodNone:
		reason = "confidential client sent no secret"
	case link.ClientType != store.Public && !link.VerifySecret(c.secret, now):
		reason = "wrong client secret"
	}
	if reason != "" {
		// An unknown client_id may be a secret sent in the wrong field (id
		// and secret swapped): only its hash prefix is logged.
		id := slog.String("client_id", c.clientID)
		if link == nil {
			id = slog.String("client_id_hash", shared.HashPrefix(c.clientID))
		}
		web.Logger(ctx).Info("client authentication failed", id, "method", c.method, "reason", reason)
		return nil, shared.InvalidClient("client authentication failed")
	}
	return link, nil
}
