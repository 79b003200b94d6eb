package authorize

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clientmeta"
	"github.com/applinks/applinks/shared/signing"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Error codes of OpenID Connect Core §3.1.2.6 answered to prompt=none.
const (
	codeLoginRequired   = "login_required"
	codeConsentRequired = "consent_required"
)

// Prompt values (OpenID Connect Core §3.1.2.1, which OAuth clients of
// Bitbucket-style providers also send).
const (
	promptNone    = "none"
	promptLogin   = "login"
	promptConsent = "consent"
	// promptSelectAccount asks for the login page even when signed in,
	// like login (OpenID Connect Core §3.1.2.1).
	promptSelectAccount = "select_account"
)

// authParams are the parameters of an authorization request (RFC 6749
// §4.1.1, RFC 7636 §4.3), in the order they travel in hidden inputs and in
// the return_to of the login page.
var authParams = []string{
	"client_id", "redirect_uri", "response_type", "scope", "state",
	"code_challenge", "code_challenge_method", "prompt", "nonce",
	// OpenID Connect Core §3.1.2.1.
	"max_age", "login_hint", "id_token_hint", "ui_locales", "display",
	// RFC 8707 §2 (resource.go).
	"resource",
}

// authRequest is a validated authorization request.
type authRequest struct {
	// params holds the authorization parameters that were sent with a
	// value (RFC 6749 §3.1: a parameter without a value is omitted).
	params map[string]string
	link   store.Link
	// redirectTo is the URI the answer goes to (shared.MatchRedirectURI).
	redirectTo string
	prompts    map[string]bool
	target     shared.AuthorizeTarget
	// catalogScope is the scope parameter without its OpenID Connect
	// protocol scopes (the part that is capped); protocol are those
	// (shared.SplitProtocolScopes).
	catalogScope string
	protocol     []string
	// maxAge is max_age (OIDC Core §3.1.2.1) when hasMaxAge: a session
	// whose sign-in is older must sign in again.
	maxAge    time.Duration
	hasMaxAge bool
	// hintSub is the sub of id_token_hint (hintSubject), "" when none
	// was sent.
	hintSub string
	// session is the browser session read with the link (parseAuthRequest
	// with a session id), nil when none was asked for or found; it may have
	// expired (signedIn checks).
	session *store.Session
	// resource is the resource indicator (RFC 8707) the request named.
	resource resourceRequest
}

func (a *authRequest) get(name string) string { return a.params[name] }

// signInTooOld reports whether max_age asks for a new sign-in of sess at
// now (OIDC Core §3.1.2.1; max_age=0 is prompt=login).
func (a *authRequest) signInTooOld(sess *store.Session, now time.Time) bool {
	return sess != nil && a.hasMaxAge && now.Sub(sess.AuthenticatedAt()) >= a.maxAge
}

// values returns the authorization parameters to carry forward. prompt
// loses "login" and "select_account", and max_age and id_token_hint go: the login they
// asked for is the one the user is about to do (or has just done), and
// keeping them would ask again forever (max_age=0 every time).
func (a *authRequest) values() url.Values {
	v := url.Values{}
	for _, k := range authParams {
		s, ok := a.params[k]
		if !ok || k == "max_age" || k == "id_token_hint" {
			continue
		}
		if k == "prompt" {
			var keep []string
			for _, p := range strings.Fields(s) {
				if p != promptLogin && p != promptSelectAccount {
					keep = append(keep, p)
				}
			}
			if len(keep) == 0 {
				continue
			}
			s = strings.Join(keep, " ")
		}
		v.Set(k, s)
	}
	return v
}

// returnTo is the local URL of this request, for the login form.
func (a *authRequest) returnTo() string {
	return "/oauth2/authorize?" + a.values().Encode()
}

// pageError is an invalid_request answered with the error page, never a
// redirect; kind and app (the application's name, if known) say how the
// page explains it.
func pageError(kind problemKind, app, desc string) error {
	return &problem{err: shared.NoRedirect(shared.InvalidRequest(desc)), kind: kind, app: app}
}

// oidcError is a redirectable error with an OpenID Connect code.
func oidcError(code, desc string) error {
	return &shared.Error{Code: code, Description: desc, Status: http.StatusBadRequest, Redirectable: true}
}

// maxClientIDBytes bounds a client_id: a metadata document's URL may be
// longer than an administrator's client id.
func maxClientIDBytes(clientID string) int {
	if clientmeta.IsURL(clientID) {
		return clientmeta.MaxURLBytes
	}
	return maxParamBytes
}

// readLink reads the link of clientID (shared.ErrNotFound) and, when
// sessionID is set, the session in the same call; with a resource (RFC
// 8707), its registration too.
func (h *Handler) readLink(ctx context.Context, clientID, sessionID, resource string) (store.Link, *store.Session, *store.Resource, error) {
	if sessionID == "" && resource == "" {
		l, err := h.store.GetLinkByClientID(ctx, clientID)
		return l, nil, nil, err
	}
	b, err := h.store.Fetch(ctx, store.Keys{ClientID: clientID, SessionID: sessionID, ResourceURI: resource})
	if err != nil {
		return store.Link{}, nil, nil, err
	}
	if b.Link == nil {
		return store.Link{}, nil, nil, fmt.Errorf("get link %q: %w", clientID, shared.ErrNotFound)
	}
	return *b.Link, b.Session, b.Resource, nil
}

// parseAuthRequest validates an authorization request (RFC 6749 §4.1.1) in
// the order of SPEC "Endpoints": client_id (present once, known, enabled,
// not a resource server), then redirect_uri (RFC 6749 §3.1.2.3); every
// error until then is not redirectable. The returned target is set as soon
// as the redirect URI is validated, so later errors go back to the client
// with state and iss (RFC 9207). vals may hold repeated parameters; any
// repetition is invalid_request (RFC 6749 §3.1). With sessionID (the hash
// of the session cookie) the session is read in the same call as the link
// and kept in the request.
func (h *Handler) parseAuthRequest(ctx context.Context, vals url.Values, sessionID string) (*authRequest, shared.AuthorizeTarget, error) {
	t := shared.AuthorizeTarget{Issuer: h.cfg.Issuer}

	cid := vals["client_id"]
	switch {
	case len(cid) > 1:
		return nil, t, pageError(problemApp, "", "client_id is repeated")
	case len(cid) == 0 || cid[0] == "":
		return nil, t, pageError(problemNoClient, "", "client_id is missing")
	case len(cid[0]) > maxClientIDBytes(cid[0]) || !utf8.ValidString(cid[0]):
		return nil, t, pageError(problemApp, "", "the application is unknown or disabled")
	}
	link, sess, reg, err := h.readLink(ctx, cid[0], sessionID, resourceValue(vals))
	if errors.Is(err, shared.ErrNotFound) {
		return nil, t, pageError(problemApp, "", "the application is unknown or disabled")
	}
	if err != nil {
		web.Logger(ctx).Error("get link", "err", err.Error())
		return nil, t, shared.NoRedirect(shared.AsError(err))
	}
	if !link.Usable() || link.ClientType == store.ResourceServer {
		return nil, t, pageError(problemApp, "", "the application is unknown or disabled")
	}

	ru := vals["redirect_uri"]
	if len(ru) > 1 {
		return nil, t, pageError(problemReturn, link.Name, "redirect_uri is repeated")
	}
	sent := ""
	if len(ru) == 1 {
		sent = ru[0]
	}
	target, ok := shared.MatchRedirectURI(link.RedirectURIs, sent, len(ru) == 1)
	if !ok {
		return nil, t, pageError(problemReturn, link.Name, "redirect_uri is missing or does not match a redirect URI registered for the application")
	}
	// OIDC Core §3.1.2.1: redirect_uri is REQUIRED in an OpenID Connect
	// request, even when the application registered only one.
	if sc := vals["scope"]; len(ru) == 0 && len(sc) == 1 && slices.Contains(strings.Split(sc[0], " "), "openid") {
		return nil, t, pageError(problemReturn, link.Name, "redirect_uri is required in an OpenID Connect request")
	}
	t.RedirectURI = target
	if st := vals["state"]; len(st) == 1 {
		t.State = st[0] // echoed even when a later check fails (RFC 6749 §4.1.2.1)
	}

	a := &authRequest{params: map[string]string{}, link: link, redirectTo: target, target: t, session: sess}
	// RFC 8707 §2: several resource parameters are invalid_target, not
	// invalid_request, so this comes before the check of repeats.
	if a.resource, err = parseResource(ctx, vals, reg); err != nil {
		return nil, t, err
	}
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, t, shared.InvalidRequest(fmt.Sprintf("parameter %s is repeated", safeName(k)))
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, t, shared.InvalidRequest("a parameter is not valid UTF-8")
		}
	}
	for _, k := range authParams {
		if vs := vals[k]; len(vs) == 1 && vs[0] != "" {
			a.params[k] = vs[0]
		}
	}

	// RFC 6749 §4.1.1: response_type is required and must be "code".
	switch rt := a.get("response_type"); rt {
	case "code":
	case "":
		return nil, t, shared.InvalidRequest("response_type is missing")
	default:
		return nil, t, shared.UnsupportedResponseType("only response_type=code is supported")
	}

	// RFC 6749 §4.1.2.1: a link that does not allow the code flow (a
	// device-only link, RFC 8628) is unauthorized_client.
	if !link.AllowsGrant(shared.GrantTypeAuthorizationCode) {
		return nil, t, shared.UnauthorizedClient("the application link does not allow the authorization code flow")
	}

	// RFC 7636 §4.3, §4.4.1: S256 only. A challenge without a method means
	// "plain" (§4.3), which this server refuses.
	challenge, method := a.get("code_challenge"), a.get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return nil, t, shared.InvalidRequest("code_challenge_method without code_challenge")
	case challenge != "" && method != "S256":
		return nil, t, shared.InvalidRequest("code_challenge_method must be S256")
	case challenge != "" && !shared.ValidChallenge(challenge):
		return nil, t, shared.InvalidRequest("code_challenge must be 43 characters of base64url")
	case challenge == "" && link.ClientType == store.Public:
		return nil, t, shared.InvalidRequest("PKCE (code_challenge with S256) is required for this application")
	case challenge == "" && h.cfg.RequirePKCE:
		return nil, t, shared.InvalidRequest("PKCE (code_challenge with S256) is required")
	}

	// RFC 6749 §3.3: every scope token must be known: a catalog scope or an
	// OpenID Connect protocol scope (outside capping).
	a.catalogScope, a.protocol = shared.SplitProtocolScopes(a.get("scope"))
	if s := a.catalogScope; s != "" {
		names, err := shared.ParseScope(s)
		if err != nil {
			return nil, t, shared.InvalidScope("the scope parameter is malformed")
		}
		if _, err := h.catalog.Validate(names); err != nil {
			return nil, t, shared.InvalidScope("the scope parameter names an unknown scope")
		}
	}

	// OpenID Connect Core §3.1.2.1: max_age is a number of seconds.
	if m := a.get("max_age"); m != "" {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n < 0 {
			return nil, t, shared.InvalidRequest("max_age must be a non-negative number of seconds")
		}
		a.maxAge = time.Duration(min(n, int64(1<<31))) * time.Second
		a.hasMaxAge = true
	}
	// OIDC Core §3.1.2.1: id_token_hint names the user the client expects.
	if hint := a.get("id_token_hint"); hint != "" {
		sub, err := hintSubject(hint, h.cfg.Issuer, link.ClientID)
		if err != nil {
			return nil, t, shared.InvalidRequest("id_token_hint is not an ID token this provider issued to the application")
		}
		a.hintSub = sub
	}
	// OIDC Core §6.1, §6.2: request objects are not supported.
	if vals.Get("request") != "" {
		return nil, t, oidcError("request_not_supported", "request objects are not supported")
	}
	if vals.Get("request_uri") != "" {
		return nil, t, oidcError("request_uri_not_supported", "request_uri is not supported")
	}
	a.prompts, err = parsePrompt(a.get("prompt"))
	if err != nil {
		return nil, t, err
	}
	// The resource server is read with the signed-in user (signedIn) when
	// there is a session to read; otherwise now.
	if sess == nil || !h.now().Before(sess.ExpiresAt) {
		if err := h.readResourceServer(ctx, &a.resource); err != nil {
			return nil, t, err
		}
	}
	return a, t, nil
}

// parsePrompt reads the prompt parameter (OpenID Connect Core §3.1.2.1):
// space-separated none, login, consent or select_account; none may not be
// combined with any other value.
func parsePrompt(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range strings.Fields(s) {
		switch p {
		case promptNone, promptLogin, promptConsent, promptSelectAccount:
			out[p] = true
		default:
			return nil, shared.InvalidRequest("prompt has an unsupported value")
		}
	}
	if out[promptNone] && len(out) > 1 {
		return nil, shared.InvalidRequest("prompt=none cannot be combined with other values")
	}
	return out, nil
}

// safeName returns a parameter name fit for error_description (RFC 6749
// §4.1.2.1 allows %x20-21 / %x23-5B / %x5D-7E), or a placeholder.
func safeName(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return "(unnamed)"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "(unnamed)"
		}
	}
	return s
}

// maxHintBytes bounds id_token_hint (this provider's ID tokens are well
// under 2 KB).
const maxHintBytes = 8 << 10

// hintSubject returns the sub of an ID token passed back as a hint
// (id_token_hint, OIDC Core §3.1.2.1): a compact JWS whose iss is issuer
// and whose aud names clientID (parseHint). Its signature is not checked,
// since the authorize function holds no keys; so the hint is never trusted
// to say who anyone is. It can only make a request ask for a sign-in (its
// sub is not the signed-in user; prompt=none: login_required). It may have
// expired, which the spec allows.
func hintSubject(hint, issuer, clientID string) (string, error) {
	c, err := parseHint(hint, issuer)
	if err != nil {
		return "", err
	}
	if !slices.Contains(c.Aud, clientID) {
		return "", errors.New("id_token_hint: issued to another client")
	}
	return c.Sub, nil
}

// idHint is what an id_token_hint says, unverified (see hintSubject).
type idHint struct {
	Sub string
	Aud []string
	Azp string
}

// parseHint reads the claims of an id_token_hint: a compact JWS of at most
// maxHintBytes, with alg RS256 or ES256 (the algorithms this provider
// signs ID tokens with) and a signature (present, not verified),
// whose iss is issuer, with a sub and an aud (a string or an array of
// strings).
func parseHint(hint, issuer string) (idHint, error) {
	if len(hint) > maxHintBytes {
		return idHint{}, errors.New("id_token_hint: too long")
	}
	parts := strings.Split(hint, ".")
	if len(parts) != 3 || parts[2] == "" {
		return idHint{}, errors.New("id_token_hint: not a signed compact JWS")
	}
	// The signature cannot be checked here, but what this provider signs
	// is RS256 or ES256 (a link's id_token_signed_response_alg): a hint
	// changed to another alg (alg none, which the conformance suite
	// sends; HS256) is refused.
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return idHint{}, errors.New("id_token_hint: header is not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(head, &h); err != nil || !signing.Supported(h.Alg) {
		return idHint{}, errors.New("id_token_hint: not signed with RS256 or ES256")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return idHint{}, errors.New("id_token_hint: payload is not base64url")
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Azp string          `json:"azp"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return idHint{}, errors.New("id_token_hint: payload is not a JSON object")
	}
	var aud []string
	var one string
	if err := json.Unmarshal(c.Aud, &one); err == nil {
		aud = []string{one}
	} else if err := json.Unmarshal(c.Aud, &aud); err != nil {
		return idHint{}, errors.New("id_token_hint: aud is neither a string nor an array of strings")
	}
	switch {
	case c.Iss != issuer:
		return idHint{}, errors.New("id_token_hint: another issuer")
	case c.Sub == "":
		return idHint{}, errors.New("id_token_hint: no sub")
	case len(aud) == 0 || slices.Contains(aud, ""):
		return idHint{}, errors.New("id_token_hint: an empty audience")
	case c.Azp != "" && !slices.Contains(aud, c.Azp):
		// OIDC Core §2: azp is the party the token was issued to, one
		// of its audiences.
		return idHint{}, errors.New("id_token_hint: azp is not among its audiences")
	}
	return idHint{Sub: c.Sub, Aud: aud, Azp: c.Azp}, nil
}
