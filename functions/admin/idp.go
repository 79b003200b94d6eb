package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/upstream"
	"github.com/applinks/applinks/shared/web"
)

// The identity providers: upstream OpenID Providers people may sign in
// with (the authorize function's /oauth2/upstream/*, the console's
// /console/upstream/*).
//
//	GET    /admin/identity-providers
//	POST   /admin/identity-providers          201; the discovery document is checked first
//	GET    /admin/identity-providers/{id}
//	PATCH  /admin/identity-providers/{id}     partial; the issuer cannot change
//	DELETE /admin/identity-providers/{id}     204

// IdentityProviderStore keeps identity providers; *store.Store implements
// it.
type IdentityProviderStore interface {
	CreateIdentityProvider(ctx context.Context, p store.IdentityProvider, clientSecret string) error
	GetIdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error)
	ListIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error)
	UpdateIdentityProvider(ctx context.Context, id string, u store.IdentityProviderUpdate, now time.Time) (store.IdentityProvider, error)
	DeleteIdentityProvider(ctx context.Context, id string) error
	GetIdentityProviderSecret(ctx context.Context, id string) (string, error)
}

// Limits of an identity provider's settings.
const (
	maxIssuerLen       = 2000
	maxClientIDLen     = 255
	maxClientSecretLen = 1024
	maxClaimNameLen    = 100
	maxListLen         = 50
	maxMapEntries      = 100
)

// DefaultUpstreamScopes are the scopes asked of an upstream when none are
// configured.
var DefaultUpstreamScopes = []string{"openid", "profile", "email"}

// idpInput is the body of POST and PATCH /admin/identity-providers. A nil
// field was not sent.
type idpInput struct {
	Name             *string              `json:"name"`
	Issuer           *string              `json:"issuer"`
	ClientID         *string              `json:"client_id"`
	ClientSecret     *string              `json:"client_secret"`
	Scopes           *[]string            `json:"scopes"`
	UsernameClaim    *string              `json:"username_claim"`
	EmailDomains     *[]string            `json:"email_domains"`
	CreateUsers      *bool                `json:"create_users"`
	PermissionsClaim *string              `json:"permissions_claim"`
	PermissionMap    *map[string][]string `json:"permission_map"`
	Enabled          *bool                `json:"enabled"`
}

// idpView is a provider as the API shows it: never the client secret.
type idpView struct {
	ID               string              `json:"id"`
	Name             string              `json:"name"`
	Issuer           string              `json:"issuer"`
	ClientID         string              `json:"client_id"`
	Scopes           []string            `json:"scopes"`
	UsernameClaim    string              `json:"username_claim"`
	EmailDomains     []string            `json:"email_domains"`
	CreateUsers      bool                `json:"create_users"`
	PermissionsClaim string              `json:"permissions_claim"`
	PermissionMap    map[string][]string `json:"permission_map"`
	Enabled          bool                `json:"enabled"`
	// RedirectURI is what to register at the upstream.
	RedirectURI string    `json:"redirect_uri"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// upstreamCallback is the redirect URI every identity provider sends
// people back to.
const upstreamCallback = "/oauth2/upstream/callback"

func (h *Handler) viewIDP(p store.IdentityProvider) idpView {
	pm := p.PermissionMap
	if pm == nil {
		pm = map[string][]string{}
	}
	return idpView{ID: p.ID, Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, Scopes: shared.NonNil(p.Scopes),
		UsernameClaim: p.UsernameClaim, EmailDomains: shared.NonNil(p.EmailDomains), CreateUsers: p.CreateUsers,
		PermissionsClaim: p.PermissionsClaim, PermissionMap: pm, Enabled: p.Enabled,
		RedirectURI: h.cfg.Issuer + upstreamCallback, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

// validateIssuer checks an issuer identifier: https, or plain http on a
// loopback host (upstream.CheckURL), no query or fragment (OpenID Connect
// Discovery §3; RFC 8414 §2).
func validateIssuer(s string) error {
	if s == "" {
		return errValidation("issuer", "is required")
	}
	if len(s) > maxIssuerLen {
		return errValidation("issuer", fmt.Sprintf("is longer than %d bytes", maxIssuerLen))
	}
	u, err := url.Parse(s)
	if err != nil || upstream.CheckURL(s) != nil {
		return errValidation("issuer", "must be an https URL (plain http only on 127.0.0.1, [::1] or localhost)")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return errValidation("issuer", "must not have a query or a fragment")
	}
	return nil
}

// token checks a single-line printable ASCII value of at most max bytes
// (client ids, claim names, scope names).
func printable(field, s string, max int, required bool) error {
	if s == "" {
		if required {
			return errValidation(field, "is required")
		}
		return nil
	}
	if len(s) > max {
		return errValidation(field, fmt.Sprintf("is longer than %d bytes", max))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return errValidation(field, "must be printable ASCII without spaces")
		}
	}
	return nil
}

// validDomain reports whether s is a DNS name of letters, digits and
// hyphens, in dot-separated labels.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// idpSettings validates the settings of in into p (fields not sent stay
// as they are) and returns the names of the fields sent.
func (h *Handler) idpSettings(in idpInput, p *store.IdentityProvider) ([]string, error) {
	// Every field sent is checked, so that a form shows every invalid one
	// at once.
	var fields []string
	var bad problems
	if in.Name != nil {
		name, err := validateName(*in.Name)
		if bad.add(err) {
			p.Name, fields = name, append(fields, "name")
		}
	}
	if in.ClientID != nil && bad.add(printable("client_id", *in.ClientID, maxClientIDLen, true)) {
		p.ClientID, fields = *in.ClientID, append(fields, "client_id")
	}
	if in.Scopes != nil {
		scopes := *in.Scopes
		ok := true
		if len(scopes) > maxListLen {
			ok = bad.add(errValidation("scopes", fmt.Sprintf("has more than %d scopes", maxListLen)))
		} else {
			for i, s := range scopes {
				ok = bad.add(printable(fmt.Sprintf("scopes[%d]", i), s, maxClaimNameLen, true)) && ok
			}
			if ok && !slices.Contains(scopes, "openid") {
				ok = bad.add(errValidation("scopes", "must include openid"))
			}
		}
		if ok {
			p.Scopes, fields = scopes, append(fields, "scopes")
		}
	}
	if in.UsernameClaim != nil && bad.add(printable("username_claim", *in.UsernameClaim, maxClaimNameLen, true)) {
		p.UsernameClaim, fields = *in.UsernameClaim, append(fields, "username_claim")
	}
	if in.EmailDomains != nil {
		ds := *in.EmailDomains
		ok := true
		out := make([]string, len(ds))
		if len(ds) > maxListLen {
			ok = bad.add(errValidation("email_domains", fmt.Sprintf("has more than %d domains", maxListLen)))
		} else {
			for i, d := range ds {
				out[i] = strings.ToLower(strings.TrimSpace(d))
				if !validDomain(out[i]) {
					ok = bad.add(errValidation(fmt.Sprintf("email_domains[%d]", i), "must be a domain name such as example.com"))
				}
			}
		}
		if ok {
			p.EmailDomains, fields = out, append(fields, "email_domains")
		}
	}
	if in.CreateUsers != nil {
		p.CreateUsers, fields = *in.CreateUsers, append(fields, "create_users")
	}
	if in.PermissionsClaim != nil && bad.add(printable("permissions_claim", *in.PermissionsClaim, maxClaimNameLen, false)) {
		p.PermissionsClaim, fields = *in.PermissionsClaim, append(fields, "permissions_claim")
	}
	if in.PermissionMap != nil {
		m, err := h.validatePermissionMap(*in.PermissionMap)
		if bad.add(err) {
			p.PermissionMap, fields = m, append(fields, "permission_map")
		}
	}
	if in.Enabled != nil {
		p.Enabled, fields = *in.Enabled, append(fields, "enabled")
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	return fields, nil
}

// validatePermissionMap checks {"claim value": ["SCOPE", ...]}: every
// scope is the catalog's (an unknown one is 422 naming its place, e.g.
// permission_map["devs"][1]).
func (h *Handler) validatePermissionMap(m map[string][]string) (map[string][]string, error) {
	if len(m) > maxMapEntries {
		return nil, errValidation("permission_map", fmt.Sprintf("has more than %d entries", maxMapEntries))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string][]string{}
	var bad problems
	for _, k := range keys {
		field := fmt.Sprintf("permission_map[%q]", k)
		if k == "" || len(k) > 256 || !utf8.ValidString(k) {
			bad.add(errValidation(field, "a claim value must be 1 to 256 bytes of UTF-8"))
			continue
		}
		scopes, err := validateScopes(h.cfg.Catalog, field, m[k])
		if bad.add(err) {
			out[k] = scopes
		}
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (h *Handler) idps() (IdentityProviderStore, error) {
	s, ok := h.store.(IdentityProviderStore)
	if !ok {
		return nil, errNotFound("identity providers are not available")
	}
	return s, nil
}

// createIdentityProvider serves POST /admin/identity-providers.
func (h *Handler) createIdentityProvider(w http.ResponseWriter, r *http.Request, c call) error {
	var in idpInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	p, err := h.createIdentityProviderOp(r.Context(), c, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/identity-providers/"+p.ID)
	web.WriteJSON(w, http.StatusCreated, h.viewIDP(p))
	return nil
}

// createIdentityProviderOp validates in, checks the upstream's discovery
// document, and creates the provider with its secret.
func (h *Handler) createIdentityProviderOp(ctx context.Context, c call, in idpInput) (store.IdentityProvider, error) {
	st, err := h.idps()
	if err != nil {
		return store.IdentityProvider{}, err
	}
	// Every field is checked, so that a form shows every invalid one at
	// once.
	var bad problems
	if in.Name == nil {
		bad.add(errValidation("name", "is required"))
	}
	if in.Issuer == nil {
		bad.add(errValidation("issuer", "is required"))
	} else {
		bad.add(validateIssuer(*in.Issuer))
	}
	if in.ClientID == nil {
		bad.add(errValidation("client_id", "is required"))
	}
	switch {
	case in.ClientSecret == nil || *in.ClientSecret == "":
		bad.add(errValidation("client_secret", "is required"))
	case len(*in.ClientSecret) > maxClientSecretLen || !utf8.ValidString(*in.ClientSecret):
		bad.add(errValidation("client_secret", fmt.Sprintf("must be UTF-8 of at most %d bytes", maxClientSecretLen)))
	}
	p := store.IdentityProvider{Scopes: DefaultUpstreamScopes, UsernameClaim: "preferred_username",
		EmailDomains: []string{}, PermissionMap: map[string][]string{}, Enabled: true}
	if in.Issuer != nil {
		p.Issuer = *in.Issuer
	}
	_, err = h.idpSettings(in, &p)
	bad.add(err)
	if err := bad.err(); err != nil {
		return store.IdentityProvider{}, err
	}
	if err := h.idpClient.Check(ctx, p.Issuer); err != nil {
		web.Logger(ctx).Info("identity provider refused", "issuer", p.Issuer, "reason", err.Error())
		return store.IdentityProvider{}, errValidation("issuer", err.Error())
	}
	if p.ID, err = shared.NewID(h.random); err != nil {
		return store.IdentityProvider{}, err
	}
	now := h.now().UTC()
	p.CreatedAt, p.UpdatedAt = now, now
	if err := st.CreateIdentityProvider(ctx, p, *in.ClientSecret); err != nil {
		if isConflict(err) {
			return store.IdentityProvider{}, errConflict("another identity provider has the issuer " + p.Issuer)
		}
		return store.IdentityProvider{}, wrapf(err, "create identity provider")
	}
	c.audit(ctx, "identity_provider_created", "provider", p.ID, "name", p.Name, "issuer", p.Issuer,
		"client_id", p.ClientID, "create_users", p.CreateUsers, "enabled", p.Enabled)
	return p, nil
}

// listIdentityProviders serves GET /admin/identity-providers: every
// provider, by name.
func (h *Handler) listIdentityProviders(w http.ResponseWriter, r *http.Request, c call) error {
	ps, err := h.listIdentityProvidersOp(r.Context())
	if err != nil {
		return err
	}
	out := make([]idpView, len(ps))
	for i, p := range ps {
		out[i] = h.viewIDP(p)
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"identity_providers": out})
	return nil
}

func (h *Handler) listIdentityProvidersOp(ctx context.Context) ([]store.IdentityProvider, error) {
	st, err := h.idps()
	if err != nil {
		return nil, err
	}
	ps, err := st.ListIdentityProviders(ctx)
	if err != nil {
		return nil, wrapf(err, "list identity providers")
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return strings.ToLower(ps[i].Name) < strings.ToLower(ps[j].Name)
		}
		return ps[i].ID < ps[j].ID
	})
	return ps, nil
}

// getIdentityProvider serves GET /admin/identity-providers/{id}.
func (h *Handler) getIdentityProvider(w http.ResponseWriter, r *http.Request, c call) error {
	p, err := h.identityProviderOp(r.Context(), c.param)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, h.viewIDP(p))
	return nil
}

func (h *Handler) identityProviderOp(ctx context.Context, id string) (store.IdentityProvider, error) {
	st, err := h.idps()
	if err != nil {
		return store.IdentityProvider{}, err
	}
	p, err := st.GetIdentityProvider(ctx, id)
	if isNotFound(err) {
		return store.IdentityProvider{}, errNotFound("no identity provider with this id")
	}
	if err != nil {
		return store.IdentityProvider{}, wrapf(err, "get identity provider")
	}
	return p, nil
}

// updateIdentityProvider serves PATCH /admin/identity-providers/{id}.
func (h *Handler) updateIdentityProvider(w http.ResponseWriter, r *http.Request, c call) error {
	var in idpInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	p, err := h.updateIdentityProviderOp(r.Context(), c, c.param, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, h.viewIDP(p))
	return nil
}

// updateIdentityProviderOp applies the fields of in; the issuer may be
// sent only unchanged.
func (h *Handler) updateIdentityProviderOp(ctx context.Context, c call, id string, in idpInput) (store.IdentityProvider, error) {
	st, err := h.idps()
	if err != nil {
		return store.IdentityProvider{}, err
	}
	cur, err := h.identityProviderOp(ctx, id)
	if err != nil {
		return store.IdentityProvider{}, err
	}
	if in.Issuer != nil && *in.Issuer != cur.Issuer {
		return store.IdentityProvider{}, errValidation("issuer", "cannot be changed; create another identity provider")
	}
	next := cur
	var bad problems
	fields, err := h.idpSettings(in, &next)
	bad.add(err)
	if in.ClientSecret != nil && (*in.ClientSecret == "" || len(*in.ClientSecret) > maxClientSecretLen || !utf8.ValidString(*in.ClientSecret)) {
		bad.add(errValidation("client_secret", fmt.Sprintf("must be UTF-8 of 1 to %d bytes", maxClientSecretLen)))
	}
	if err := bad.err(); err != nil {
		return store.IdentityProvider{}, err
	}
	u := store.IdentityProviderUpdate{}
	for _, f := range fields {
		switch f {
		case "name":
			u.Name = &next.Name
		case "client_id":
			u.ClientID = &next.ClientID
		case "scopes":
			u.Scopes = &next.Scopes
		case "username_claim":
			u.UsernameClaim = &next.UsernameClaim
		case "email_domains":
			u.EmailDomains = &next.EmailDomains
		case "create_users":
			u.CreateUsers = &next.CreateUsers
		case "permissions_claim":
			u.PermissionsClaim = &next.PermissionsClaim
		case "permission_map":
			u.PermissionMap = &next.PermissionMap
		case "enabled":
			u.Enabled = &next.Enabled
		}
	}
	if in.ClientSecret != nil {
		u.ClientSecret, fields = in.ClientSecret, append(fields, "client_secret")
	}
	if len(fields) == 0 {
		return cur, nil
	}
	p, err := st.UpdateIdentityProvider(ctx, id, u, h.now().UTC())
	if err != nil {
		if isNotFound(err) {
			return store.IdentityProvider{}, errNotFound("no identity provider with this id")
		}
		return store.IdentityProvider{}, wrapf(err, "update identity provider")
	}
	c.audit(ctx, "identity_provider_updated", "provider", p.ID, "fields", fields, "enabled", p.Enabled)
	return p, nil
}

// deleteIdentityProvider serves DELETE /admin/identity-providers/{id}.
// Users linked through it keep their link (by issuer and subject).
func (h *Handler) deleteIdentityProvider(w http.ResponseWriter, r *http.Request, c call) error {
	st, err := h.idps()
	if err != nil {
		return err
	}
	if err := st.DeleteIdentityProvider(r.Context(), c.param); err != nil {
		if isNotFound(err) {
			return errNotFound("no identity provider with this id")
		}
		return wrapf(err, "delete identity provider")
	}
	c.audit(r.Context(), "identity_provider_deleted", "provider", c.param)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var _ IdentityProviderStore = (*store.Store)(nil)
