package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// RegisterPath is the Dynamic Client Registration endpoint (RFC 7591
// §3), served by the admin function as a public route: no IAM
// authorization and no admin token; an application registers itself.
const RegisterPath = "/oauth2/register"

// Client authentication methods a registration may ask for (RFC 7591 §2,
// token_endpoint_auth_method); client_secret_basic is the default.
const (
	authNone       = "none"
	authSecretBase = "client_secret_basic"
	authSecretPost = "client_secret_post"
)

// viaRegistration is the way a self-registration comes (call.via): no
// principal, the application itself.
const viaRegistration = "registration"

// registrationError is an error response of RFC 7591 §3.2.2:
// {"error": Code, "error_description": Description} with Status.
type registrationError struct {
	Status      int
	Code        string
	Description string
}

func (e *registrationError) Error() string { return e.Code + ": " + e.Description }

func invalidMetadata(format string, args ...any) *registrationError {
	return &registrationError{http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf(format, args...)}
}

func invalidRedirectURI(format string, args ...any) *registrationError {
	return &registrationError{http.StatusBadRequest, "invalid_redirect_uri", fmt.Sprintf(format, args...)}
}

// registrationRequest is the client metadata this endpoint reads (RFC 7591
// §2); any other member is ignored, as §2 asks. Each is kept raw, so that
// a member of the wrong type is invalid_client_metadata naming it.
type registrationRequest struct {
	RedirectURIs            json.RawMessage `json:"redirect_uris"`
	ClientName              json.RawMessage `json:"client_name"`
	TokenEndpointAuthMethod json.RawMessage `json:"token_endpoint_auth_method"`
	GrantTypes              json.RawMessage `json:"grant_types"`
	ResponseTypes           json.RawMessage `json:"response_types"`
	Scope                   json.RawMessage `json:"scope"`
}

// registrationResponse is the client information response (RFC 7591
// §3.2.1): the credentials and the metadata as registered.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   int64    `json:"client_secret_expires_at"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
}

// register serves POST /oauth2/register, Dynamic Client Registration (RFC
// 7591 §3.1), when the policy's dynamic_registration.mode is not off
// (otherwise 404, as if the endpoint did not exist). The metadata is
// checked (400 invalid_redirect_uri or invalid_client_metadata, §3.2.2);
// then the limits on unauthenticated creation (429 with Retry-After): at
// most store.MaxPendingLinks links waiting for the administrator in all
// (approval mode), and store.MaxRegistrationsPerSource new links per
// source address per hour. The link is created with origin dynamic,
// active (open) or pending (approval), under the policy's ceiling; the
// answer is 201 with the client information (§3.2.1), the client secret
// shown this once (only its verifier is kept).
func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := h.registrationPolicy(ctx)
	if err != nil {
		h.registrationFailed(w, r, err)
		return
	}
	dr := p.DynamicRegistration
	if dr.Mode == shared.ModeOff {
		writeRegistrationError(w, &registrationError{http.StatusNotFound, "not_found", "dynamic client registration is not enabled on this server"})
		return
	}
	nl, out, rerr := h.readRegistration(r, dr.Scopes)
	if rerr != nil {
		writeRegistrationError(w, rerr)
		return
	}
	now := h.now().UTC()
	status := shared.StatusActive
	if dr.Mode == shared.ModeApproval {
		status = shared.StatusPending
		n, err := h.store.CountPendingLinks(ctx)
		if err != nil {
			h.registrationFailed(w, r, err)
			return
		}
		if n >= store.MaxPendingLinks {
			web.Logger(ctx).Warn("registration refused: too many pending links", "pending", n)
			w.Header().Set("Retry-After", "3600")
			writeRegistrationError(w, &registrationError{http.StatusTooManyRequests, "too_many_requests",
				"too many applications are waiting for the administrator's approval; try again later"})
			return
		}
	}
	source := h.limiter.Source(r)
	ok, err := h.store.RegistrationAttempt(ctx, source, now)
	if err != nil {
		h.registrationFailed(w, r, err)
		return
	}
	if !ok {
		web.Logger(ctx).Warn("registration refused: source over its limit", "source", source)
		// The window began at the source's first registration: at most
		// this long to wait.
		w.Header().Set("Retry-After", strconv.FormatInt(int64(store.RegistrationWindow/time.Second), 10))
		writeRegistrationError(w, &registrationError{http.StatusTooManyRequests, "too_many_requests",
			fmt.Sprintf("at most %d applications may register from one address per hour; try again later", store.MaxRegistrationsPerSource)})
		return
	}
	nl.Origin, nl.Status, nl.Enabled = shared.OriginDynamic, status, true
	if nl.ID, err = shared.NewID(h.random); err == nil {
		nl.ClientID, err = shared.NewID(h.random)
	}
	if err == nil && nl.ClientType != store.Public {
		nl.Secret, err = shared.NewToken(h.random)
	}
	if err != nil {
		h.registrationFailed(w, r, err)
		return
	}
	// The store creates the link and its secret with no orphan on
	// failure, as for an administrator's link.
	link, secret, err := h.store.CreateLink(ctx, nl, now)
	if err != nil {
		h.registrationFailed(w, r, wrapf(err, "register link"))
		return
	}
	c := call{principal: "", via: viaRegistration, record: h.recordEvent}
	c.audit(ctx, "link_registered", "link_id", link.ID, "client_id", link.ClientID, "origin", link.Origin,
		"status", link.Status, "client_type", link.ClientType, "name", link.Name, "scopes", link.Scopes,
		"redirect_uris", link.RedirectURIs, "grant_types", link.GrantTypes, "source", source)
	out.ClientID, out.ClientIDIssuedAt = link.ClientID, now.Unix()
	if link.ClientType != store.Public {
		out.ClientSecret = secret
	}
	w.Header().Set("Pragma", "no-cache")
	web.WriteJSON(w, http.StatusCreated, out)
}

// readRegistration reads and checks the client metadata of a
// registration: the link to create (without ids, secret, origin or
// status) and the answer's metadata, or the RFC 7591 §3.2.2 error.
// ceiling is the policy's dynamic_registration.scopes.
func (h *Handler) readRegistration(r *http.Request, ceiling []string) (store.NewLink, registrationResponse, *registrationError) {
	var nl store.NewLink
	var out registrationResponse
	if mt := r.Header.Get("Content-Type"); mt != "" {
		if t, _, _ := strings.Cut(mt, ";"); !strings.EqualFold(strings.TrimSpace(t), "application/json") {
			return nl, out, &registrationError{http.StatusUnsupportedMediaType, "invalid_request", "send the client metadata as application/json (RFC 7591 §3.1)"}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nl, out, &registrationError{http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("the request body is larger than %d bytes", web.MaxBodyBytes)}
		}
		return nl, out, &registrationError{http.StatusBadRequest, "invalid_request", "could not read the request body"}
	}
	var in registrationRequest
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' || json.Unmarshal(body, &in) != nil {
		return nl, out, invalidMetadata("the request body must be a JSON object of client metadata (RFC 7591 §2)")
	}

	// token_endpoint_auth_method decides the kind of link.
	method := authSecretBase
	if err := optionalJSON(in.TokenEndpointAuthMethod, &method); err != nil {
		return nl, out, invalidMetadata("token_endpoint_auth_method must be a string")
	}
	switch method {
	case authNone:
		nl.ClientType = store.Public
	case authSecretBase, authSecretPost:
		nl.ClientType = store.Confidential
	default:
		return nl, out, invalidMetadata("token_endpoint_auth_method must be %q, %q or %q", authNone, authSecretBase, authSecretPost)
	}

	// grant_types: authorization_code when omitted (RFC 7591 §2).
	grants := []string{shared.GrantTypeAuthorizationCode}
	if err := optionalJSON(in.GrantTypes, &grants); err != nil {
		return nl, out, invalidMetadata("grant_types must be an array of strings")
	}
	g, err := shared.NormalizeGrantTypes(grants)
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "[") {
			msg = " " + msg
		}
		return nl, out, invalidMetadata("grant_types%s", msg)
	}
	nl.GrantTypes = g
	code := slices.Contains(g, shared.GrantTypeAuthorizationCode)

	// response_types: only code, the one the authorization endpoint
	// serves (and none for a client without the code grant).
	var responses []string
	if err := optionalJSON(in.ResponseTypes, &responses); err != nil {
		return nl, out, invalidMetadata("response_types must be an array of strings")
	}
	switch {
	case in.ResponseTypes == nil || isJSONNull(in.ResponseTypes):
		responses = []string{"code"}
		if !code {
			responses = []string{}
		}
	case slices.Equal(responses, []string{"code"}) && code, len(responses) == 0 && !code:
	default:
		return nl, out, invalidMetadata(`response_types must be ["code"] (with the authorization_code grant), the only response type this server serves`)
	}

	// redirect_uris under the rules of every link.
	var uris []string
	if err := optionalJSON(in.RedirectURIs, &uris); err != nil {
		return nl, out, invalidRedirectURI("redirect_uris must be an array of strings")
	}
	if err := validateLinkRedirectURIs(nl.ClientType, g, uris); err != nil {
		msg := err.Error()
		if e, ok := err.(*apiError); ok {
			msg = e.Message
		}
		return nl, out, invalidRedirectURI("%s", msg)
	}
	nl.RedirectURIs = shared.NonNil(uris)

	// client_name: the name the consent page shows; without one, the
	// redirect URIs' host says who it is.
	name := ""
	if err := optionalJSON(in.ClientName, &name); err != nil {
		return nl, out, invalidMetadata("client_name must be a string")
	}
	if strings.TrimSpace(name) == "" {
		name = defaultClientName(nl.RedirectURIs)
	}
	if nl.Name, err = validateName(name); err != nil {
		msg := err.Error()
		if e, ok := err.(*apiError); ok {
			msg = strings.Replace(e.Message, "name: ", "client_name ", 1)
		}
		return nl, out, invalidMetadata("%s", msg)
	}

	// scope: the ceiling when omitted; otherwise what the ceiling allows
	// of it (the rest is dropped, and the answer says what was kept).
	var scope *string
	if err := optionalJSON(in.Scope, &scope); err != nil {
		return nl, out, invalidMetadata("scope must be a string of space-separated scopes")
	}
	var protocol []string
	if scope == nil || *scope == "" {
		nl.Scopes = slices.Clone(shared.NonNil(ceiling))
	} else {
		toks, err := shared.ParseScope(*scope)
		if err != nil {
			return nl, out, invalidMetadata("scope: %v", err)
		}
		var known []string
		for _, t := range toks {
			switch {
			case slices.Contains(shared.ProtocolScopes, t):
				if !slices.Contains(protocol, t) {
					protocol = append(protocol, t)
				}
			case slices.Contains(h.cfg.Catalog.Names(), t):
				known = append(known, t)
			}
		}
		if len(known) == 0 {
			nl.Scopes = []string{h.cfg.Catalog.Baseline()}
		} else if nl.Scopes, err = h.cfg.Catalog.Cap(strings.Join(known, " "), ceiling, ceiling); err != nil {
			return nl, out, invalidMetadata("scope: %v", err)
		}
	}
	kept := append(protocolInOrder(protocol), nl.Scopes...)

	out = registrationResponse{
		ClientName: nl.Name, RedirectURIs: nl.RedirectURIs, TokenEndpointAuthMethod: method,
		GrantTypes: g, ResponseTypes: responses, Scope: shared.FormatScope(kept),
	}
	return nl, out, nil
}

// protocolInOrder lists the protocol scopes of ps in shared.ProtocolScopes
// order.
func protocolInOrder(ps []string) []string {
	var out []string
	for _, p := range shared.ProtocolScopes {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	return out
}

// defaultClientName names an application that sent no client_name: the
// host of its first redirect URI.
func defaultClientName(uris []string) string {
	if len(uris) > 0 {
		if u, err := url.Parse(uris[0]); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	return "Unnamed application"
}

// optionalJSON decodes a member that may be absent or null (v keeps its
// value then).
func optionalJSON(raw json.RawMessage, v any) error {
	if raw == nil || isJSONNull(raw) {
		return nil
	}
	return json.Unmarshal(raw, v)
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// writeRegistrationError renders an RFC 7591 §3.2.2 error (no-store).
func writeRegistrationError(w http.ResponseWriter, e *registrationError) {
	w.Header().Set("Pragma", "no-cache")
	web.WriteJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// registrationFailed answers a failure of the store or the random source:
// 503 with Retry-After when a dependency is unavailable, else 500; the
// detail goes to the log only.
func (h *Handler) registrationFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, shared.ErrUnavailable) {
		web.Logger(r.Context()).Warn("registration: dependency unavailable", "error", err.Error())
		w.Header().Set("Retry-After", "1")
		writeRegistrationError(w, &registrationError{http.StatusServiceUnavailable, "temporarily_unavailable", "try again later"})
		return
	}
	web.Logger(r.Context()).Error("registration failed", "error", err.Error())
	writeRegistrationError(w, &registrationError{http.StatusInternalServerError, "server_error", "the server could not complete the registration"})
}
