package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Limits of the links API.
const (
	// MaxNameRunes is the longest link name, in characters.
	MaxNameRunes = 200
	// MaxIdempotencyKey is the longest Idempotency-Key header value.
	MaxIdempotencyKey = 200
	// MaxOverlap is the longest time an old client secret keeps working
	// after a rotation (SPEC: at most 7 days).
	MaxOverlap = 7 * 24 * time.Hour
	// DefaultPageSize and MaxPageSize bound the limit of list requests.
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// linkInput is the body of POST and PATCH /admin/links. A nil field was not
// sent (or sent as null).
type linkInput struct {
	Name                   *string   `json:"name"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	Scopes                 *[]string `json:"scopes"`
	ClientType             *string   `json:"client_type"`
	Enabled                *bool     `json:"enabled"`
	GrantTypes             *[]string `json:"grant_types"`
	ResourceURIs           *[]string `json:"resource_uris"`
	IDTokenAlg             *string   `json:"id_token_signed_response_alg"`
}

// linkView is a link as the API shows it. ClientSecret is set only in the
// answer to a create.
type linkView struct {
	ID           string   `json:"id"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are the link's post_logout_redirect_uris (OpenID
	// Connect RP-Initiated Logout 1.0 §3), [] when none.
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	Scopes                 []string  `json:"scopes"`
	ClientType             string    `json:"client_type"`
	Enabled                bool      `json:"enabled"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
	// GrantTypes are the grants the link may use (RFC 7591 §2 names):
	// authorization_code, refresh_token,
	// urn:ietf:params:oauth:grant-type:device_code; [] for a resource
	// server.
	GrantTypes []string `json:"grant_types"`
	// LastUsedAt is when the link last issued tokens (a code exchange, a
	// refresh, a device-code redemption), to within an hour; null when
	// never (or not known).
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// ResourceURIs are a resource server's resource indicators (RFC
	// 8707): the aud of the access tokens asked for with one of them; []
	// for any other link.
	ResourceURIs []string `json:"resource_uris"`
	// IDTokenAlg is the algorithm of the link's ID tokens (OpenID Connect
	// Dynamic Client Registration 1.0 §2): RS256 or ES256; absent for a
	// resource server.
	IDTokenAlg string `json:"id_token_signed_response_alg,omitempty"`
	// Origin is who created the link: admin, metadata_document or dynamic
	// (registered by the application itself); Status the administrator's
	// decision on a self-registered link: active, pending or rejected.
	Origin string `json:"origin"`
	Status string `json:"status"`
}

func viewLink(l store.Link) linkView {
	return linkView{
		Origin:                 cmp.Or(l.Origin, shared.OriginAdmin),
		Status:                 cmp.Or(l.Status, shared.StatusActive),
		ID:                     l.ID,
		ClientID:               l.ClientID,
		Name:                   l.Name,
		RedirectURIs:           shared.NonNil(l.RedirectURIs),
		PostLogoutRedirectURIs: shared.NonNil(l.PostLogoutRedirectURIs),
		Scopes:                 shared.NonNil(l.Scopes),
		ClientType:             l.ClientType,
		Enabled:                l.Enabled,
		GrantTypes:             shared.NonNil(l.GrantTypes),
		ResourceURIs:           shared.NonNil(l.ResourceURIs),
		IDTokenAlg:             l.IDTokenSignedResponseAlg,
		CreatedAt:              l.CreatedAt.UTC(),
		UpdatedAt:              l.UpdatedAt.UTC(),
	}
}

// validateName checks a link name and returns it trimmed: 1 to MaxNameRunes
// characters, no control characters, and none of the bidirectional controls
// and zero-width characters of shared.CheckName (the name is shown on the
// consent page, where those could disguise it).
func validateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", errValidation("name", "must not be empty")
	case n > MaxNameRunes:
		return "", errValidation("name", fmt.Sprintf("is %d characters long, above the maximum of %d", n, MaxNameRunes))
	}
	for _, c := range name {
		switch {
		case c == utf8.RuneError:
			return "", errValidation("name", "must be valid UTF-8")
		case unicode.IsControl(c):
			return "", errValidation("name", "must not contain control characters")
		}
	}
	if err := shared.CheckName(name); err != nil {
		return "", errValidation("name", err.Error())
	}
	return name, nil
}

// validateClientType checks a client type; nil is the default, confidential.
func validateClientType(t *string) (string, error) {
	if t == nil {
		return store.Confidential, nil
	}
	switch *t {
	case store.Confidential, store.Public, store.ResourceServer:
		return *t, nil
	}
	return "", errValidation("client_type", fmt.Sprintf("must be %q, %q or %q", store.Confidential, store.Public, store.ResourceServer))
}

// validateGrantTypes checks the grant_types of a link of clientType and
// returns them as stored: none for a resource server (it obtains no
// tokens), else at least one known grant type, in a fixed order
// (shared.NormalizeGrantTypes); nil (not sent) is the default.
func validateGrantTypes(clientType string, in *[]string) ([]string, error) {
	switch {
	case clientType == store.ResourceServer && (in == nil || len(*in) == 0):
		return []string{}, nil
	case clientType == store.ResourceServer:
		return nil, errValidation("grant_types", "a resource_server link has no grant types (it receives tokens, it does not ask for them)")
	case in == nil:
		return shared.DefaultGrantTypes(), nil
	}
	g, err := shared.NormalizeGrantTypes(*in)
	if err != nil {
		return nil, errValidation("grant_types", err.Error())
	}
	return g, nil
}

// validateLinkRedirectURIs checks the redirect URIs of a link of
// clientType with grant types grants (SPEC "Redirect URIs"): a resource
// server has none; any other link at most shared.MaxRedirectURIs, at
// least one for the authorization code flow (a link used only by devices
// needs none), each valid, no duplicates. The message names the offending
// element, e.g. "redirect_uris[1]: ...".
func validateLinkRedirectURIs(clientType string, grants, uris []string) error {
	return validateURIList("redirect_uris", clientType, uris, slices.Contains(grants, shared.GrantTypeAuthorizationCode))
}

// validatePostLogoutRedirectURIs checks a link's post_logout_redirect_uris under
// the rules of its redirect URIs (SPEC), except that the list may be
// empty: a link without any sends nobody back after sign-out.
func validatePostLogoutRedirectURIs(clientType string, uris []string) error {
	return validateURIList("post_logout_redirect_uris", clientType, uris, false)
}

// validateURIList checks the list field of redirection URIs: none for a
// resource server (it sends no browser anywhere); otherwise at most
// shared.MaxRedirectURIs (at least one when required), each a valid
// redirect URI, no duplicates.
func validateURIList(field, clientType string, uris []string, required bool) error {
	if clientType == store.ResourceServer {
		if len(uris) > 0 {
			return errValidation(field, "a resource_server link has no redirect URIs (it receives tokens, it does not ask for them)")
		}
		return nil
	}
	if len(uris) == 0 && !required {
		return nil
	}
	// The list rules live in shared; this words them, naming the element.
	var bad problems
	for _, p := range shared.CheckRedirectURIs(uris) {
		elem := fmt.Sprintf("%s[%d]", field, p.Index)
		switch {
		case p.Index < 0 && len(uris) == 0:
			return errValidation(field, "at least one redirect URI is required")
		case p.Index < 0:
			return errValidation(field, fmt.Sprintf("has %d URIs, above the maximum of %d", len(uris), shared.MaxRedirectURIs))
		case p.Err != nil:
			bad.add(errValidation(elem, p.Err.Error()))
		default:
			bad.add(errValidation(elem, fmt.Sprintf("duplicates %s[%d]", field, p.First)))
		}
	}
	return bad.err()
}

// validateResourceURIs checks the resource_uris of a link of clientType
// (RFC 8707): only a resource server has them, at most
// shared.MaxResourceURIs, each an absolute https URL (http on a loopback
// host) without a fragment, none twice, and none that is AUDIENCE (tokens
// without a resource carry it already) or PERMISSIONS_URL (the permission
// service would then be a resource server of this provider's tokens,
// which start-up cannot check: links live in the table). An empty list is
// none. The message names the offending element, e.g.
// "resource_uris[1]: ...".
func (h *Handler) validateResourceURIs(clientType string, uris []string) error {
	const field = "resource_uris"
	switch {
	case len(uris) == 0:
		return nil
	case clientType != store.ResourceServer:
		return errValidation(field, "only a resource_server link has resource URIs (RFC 8707)")
	case len(uris) > shared.MaxResourceURIs:
		return errValidation(field, fmt.Sprintf("has %d URIs, above the maximum of %d", len(uris), shared.MaxResourceURIs))
	}
	var bad problems
	for i, u := range uris {
		elem := fmt.Sprintf("%s[%d]", field, i)
		switch err := shared.ValidateResourceURI(u); {
		case err != nil:
			bad.add(errValidation(elem, err.Error()))
		case slices.Index(uris[:i], u) >= 0:
			bad.add(errValidation(elem, fmt.Sprintf("duplicates %s[%d]", field, slices.Index(uris[:i], u))))
		case config.SameURL(u, h.cfg.Audience):
			bad.add(errValidation(elem, "is AUDIENCE, the audience of every access token asked for without a resource; a resource server needs a URI of its own"))
		case h.cfg.Permissions.URL != "" && config.SameURL(u, h.cfg.Permissions.URL):
			bad.add(errValidation(elem, "is PERMISSIONS_URL, where this provider asks for permissions; the permission service must not be a resource server of its tokens"))
		}
	}
	return bad.err()
}

// resourceTaken answers a resource URI another link registered: 409
// naming it.
func resourceTaken(err error) error {
	var taken *store.ResourceTakenError
	if errors.As(err, &taken) {
		e := errConflict(fmt.Sprintf("the resource URI %q is registered by another link; a resource URI names one resource server", taken.URI))
		e.field = "resource_uris"
		return e
	}
	return err
}

// validateScopes checks names against the catalog and returns them
// deduplicated in catalog order. An empty list is allowed (a link with no
// scope gets the catalog's baseline; a user with no permission gets only
// the baseline).
func validateScopes(c *shared.Catalog, field string, names []string) ([]string, error) {
	var bad problems
	for i, n := range names {
		if _, err := c.Validate([]string{n}); err != nil {
			bad.add(errValidation(fmt.Sprintf("%s[%d]", field, i), err.Error()))
		}
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	out, err := c.Validate(names)
	if err != nil {
		return nil, errValidation(field, err.Error())
	}
	return shared.NonNil(out), nil
}

// idempotencyKey reads the optional Idempotency-Key header: 1 to
// MaxIdempotencyKey printable ASCII characters.
func idempotencyKey(r *http.Request) (string, error) {
	vs := r.Header.Values("Idempotency-Key")
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", errInvalidRequest("Idempotency-Key is repeated")
	}
	k := vs[0]
	if k == "" || len(k) > MaxIdempotencyKey {
		return "", errInvalidRequest(fmt.Sprintf("Idempotency-Key must be 1 to %d characters", MaxIdempotencyKey))
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", errInvalidRequest("Idempotency-Key must be printable ASCII")
		}
	}
	return k, nil
}

// createLink serves POST /admin/links. With an Idempotency-Key, a retry
// by the same principal returns the link created the first time, with its
// credentials, again as 201 (and Idempotent-Replayed: true); the same key
// with a different request is 409, and so is a retry after the link's
// secret was rotated (see createLinkOp). Another principal's key is
// another key. The store keeps keys for 24 hours.
func (h *Handler) createLink(w http.ResponseWriter, r *http.Request, c call) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in linkInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	v, replayed, err := h.createLinkOp(r.Context(), c, in, key)
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/admin/links/"+v.ID)
	web.WriteJSON(w, http.StatusCreated, v)
	return nil
}

// validateNewLink checks the fields of a new link into nl (the console
// asks before it creates a link with no permission, so it validates
// first).
func (h *Handler) validateNewLink(in linkInput, nl store.NewLink) (store.NewLink, error) {
	// Every field is checked, so that a form shows every invalid one at
	// once; the checks that depend on the client type (or the grant
	// types) are skipped when it is invalid.
	var err error
	var bad problems
	if in.Name == nil {
		bad.add(errValidation("name", "is required"))
	} else {
		nl.Name, err = validateName(*in.Name)
		bad.add(err)
	}
	nl.ClientType, err = validateClientType(in.ClientType)
	typeOK := bad.add(err)
	if in.RedirectURIs != nil {
		nl.RedirectURIs = *in.RedirectURIs
	}
	if in.PostLogoutRedirectURIs != nil {
		nl.PostLogoutRedirectURIs = *in.PostLogoutRedirectURIs
	}
	if in.ResourceURIs != nil {
		nl.ResourceURIs = *in.ResourceURIs
	}
	if typeOK {
		nl.GrantTypes, err = validateGrantTypes(nl.ClientType, in.GrantTypes)
		// A resource server's redirect URIs are refused whatever its
		// grant types; another link's need valid ones.
		if bad.add(err) || nl.ClientType == store.ResourceServer {
			bad.add(validateLinkRedirectURIs(nl.ClientType, nl.GrantTypes, nl.RedirectURIs))
		}
		bad.add(validatePostLogoutRedirectURIs(nl.ClientType, nl.PostLogoutRedirectURIs))
		bad.add(h.validateResourceURIs(nl.ClientType, nl.ResourceURIs))
	}
	nl.RedirectURIs = shared.NonNil(nl.RedirectURIs)
	nl.PostLogoutRedirectURIs = shared.NonNil(nl.PostLogoutRedirectURIs)
	nl.ResourceURIs = shared.NonNil(nl.ResourceURIs)
	var scopes []string
	if in.Scopes != nil {
		scopes = *in.Scopes
	}
	nl.Scopes, err = validateScopes(h.cfg.Catalog, "scopes", scopes)
	bad.add(err)
	if typeOK {
		nl.IDTokenSignedResponseAlg, err = validateIDTokenAlg(nl.ClientType, in.IDTokenAlg)
		bad.add(err)
	}
	if err := bad.err(); err != nil {
		return nl, err
	}
	if in.Enabled != nil {
		nl.Enabled = *in.Enabled
	}
	return nl, nil
}

// createLinkOp validates in and creates the link, for the API and the
// console: the link with its client secret (none for a public link), and
// whether the store answered a retry with the link an earlier request with
// key created (no audit event then).
//
// A key is scoped to the principal that sent it (idempotencyScope), so a
// key never replays another principal's creation. A retry whose link's
// secret was rotated since is 409 naming the link: the creation's secret
// may be why it was rotated (it leaked), and the new one is for "View
// credentials" alone, so the retry gets neither.
func (h *Handler) createLinkOp(ctx context.Context, c call, in linkInput, key string) (linkView, bool, error) {
	nl := store.NewLink{IdempotencyKey: key, Enabled: true}
	if key != "" {
		nl.IdempotencyScope = c.idempotencyScope()
	}
	var err error
	if nl, err = h.validateNewLink(in, nl); err != nil {
		return linkView{}, false, err
	}
	if err := h.ensureIDTokenKey(ctx, c, nl.IDTokenSignedResponseAlg); err != nil {
		return linkView{}, false, err
	}

	if nl.ID, err = shared.NewID(h.random); err != nil {
		return linkView{}, false, err
	}
	if nl.ClientID, err = shared.NewID(h.random); err != nil {
		return linkView{}, false, err
	}
	if nl.ClientType != store.Public {
		if nl.Secret, err = shared.NewToken(h.random); err != nil {
			return linkView{}, false, err
		}
	}

	link, secret, err := h.store.CreateLink(ctx, nl, h.now().UTC())
	if rot := (*store.SecretRotatedError)(nil); errors.As(err, &rot) {
		return linkView{}, false, errConflict(fmt.Sprintf("the link this Idempotency-Key created (id %s) has had its client secret rotated since, "+
			"so a retry no longer answers a secret; read the current one with GET /admin/links/%s/credentials", rot.Link.ID, rot.Link.ID))
	}
	if err != nil {
		if rerr := resourceTaken(err); rerr != err {
			return linkView{}, false, rerr
		}
		if key != "" && isConflict(err) {
			return linkView{}, false, errConflict("this Idempotency-Key was already used for a different request (or for a link since deleted)")
		}
		return linkView{}, false, wrapf(err, "create link")
	}
	// A retry with the same Idempotency-Key: the store answered the link
	// created the first time.
	replayed := link.ID != nl.ID
	if !replayed {
		c.audit(ctx, "link_created",
			"link_id", link.ID, "client_id", link.ClientID, "client_type", link.ClientType,
			"name", link.Name, "scopes", link.Scopes, "redirect_uris", link.RedirectURIs,
			"post_logout_redirect_uris", link.PostLogoutRedirectURIs, "grant_types", link.GrantTypes,
			"resource_uris", link.ResourceURIs,
			"id_token_signed_response_alg", link.IDTokenSignedResponseAlg, "enabled", link.Enabled)
	}
	v := viewLink(link)
	if link.ClientType != store.Public {
		v.ClientSecret = secret
	}
	return v, replayed, nil
}

// pageParams reads the limit (1..MaxPageSize, default DefaultPageSize) and cursor
// query parameters of a list request. An empty value is an omitted one (the
// first page, the default limit), as SPEC writes the template
// `?limit=&cursor=`.
func pageParams(r *http.Request) (int, string, error) {
	q, err := web.ParseForm(r, true)
	if err != nil {
		return 0, "", errInvalidRequest(err.Error())
	}
	limit := DefaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return 0, "", errValidation("limit", fmt.Sprintf("must be an integer from 1 to %d", MaxPageSize))
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > maxCursor {
		return 0, "", errInvalidRequest("cursor is not valid: pass next_cursor from the previous page unchanged")
	}
	return limit, cursor, nil
}

// maxCursor bounds the cursor parameter; the store's cursors are far
// shorter.
const maxCursor = 2048

// listLinks serves GET /admin/links: {"links": [...], "next_cursor": "..."},
// next_cursor absent after the last page; with unused_days or sort, the
// links no one uses (links_bylastuse.go).
func (h *Handler) listLinks(w http.ResponseWriter, r *http.Request, c call) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	q, err := web.ParseForm(r, true)
	if err != nil {
		return errInvalidRequest(err.Error())
	}
	lq, err := parseLinkQuery(q)
	if err != nil {
		return err
	}
	links, uses, next, err := h.listLinksOp(r.Context(), lq, limit, cursor)
	if err != nil {
		return err
	}
	out := struct {
		Links      []linkView `json:"links"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Links: make([]linkView, 0, len(links)), NextCursor: next}
	for _, l := range links {
		v := viewLink(l)
		if t, ok := uses[store.LastUseRef{ClientID: l.ClientID}]; ok {
			t = t.UTC()
			v.LastUsedAt = &t
		}
		out.Links = append(out.Links, v)
	}
	if uses == nil {
		h.linkLastUse(r.Context(), out.Links)
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// listLinksOp lists a page of the links q chooses: the plain listing in
// creation order (uses nil: not read), or by last use (uses: the last use
// of every link read, absent when never).
func (h *Handler) listLinksOp(ctx context.Context, q linkQuery, limit int, cursor string) (links []store.Link, uses map[store.LastUseRef]time.Time, next string, err error) {
	if !q.plain() {
		return h.listLinksByUse(ctx, q, limit, cursor)
	}
	// A filtered page may be short, even empty, and still have a next
	// cursor (store.ListLinksBy).
	links, next, err = h.store.ListLinksBy(ctx, q.Filter, limit, cursor)
	if err != nil {
		return nil, nil, "", cursorError(cursor, wrapf(err, "list links"))
	}
	return links, nil, next, nil
}

// getLink serves GET /admin/links/{id}.
func (h *Handler) getLink(w http.ResponseWriter, r *http.Request, c call) error {
	link, err := h.getLinkOp(r.Context(), c.param)
	if err != nil {
		return err
	}
	views := []linkView{viewLink(link)}
	h.linkLastUse(r.Context(), views)
	web.WriteJSON(w, http.StatusOK, views[0])
	return nil
}

// getLinkOp reads a link by id (404 not_found "no link with this id").
func (h *Handler) getLinkOp(ctx context.Context, id string) (store.Link, error) {
	link, err := h.store.GetLink(ctx, id)
	if err != nil {
		return store.Link{}, linkError(wrapf(err, "get link %q", id))
	}
	return link, nil
}

// updateLink serves PATCH /admin/links/{id}: name, redirect_uris,
// post_logout_redirect_uris, scopes, grant_types, resource_uris,
// id_token_signed_response_alg and enabled may change; client_type may not (create a new link instead). An
// empty object changes nothing and answers the link.
func (h *Handler) updateLink(w http.ResponseWriter, r *http.Request, c call) error {
	var in linkInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	link, err := h.updateLinkOp(r.Context(), c, c.param, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, viewLink(link))
	return nil
}

// validateLinkUpdate checks the fields of in against the link cur and
// returns the update and the names of the fields it changes.
func (h *Handler) validateLinkUpdate(cur store.Link, in linkInput) (store.LinkUpdate, []string, error) {
	// Every field sent is checked, so that a form shows every invalid one
	// at once.
	var u store.LinkUpdate
	var fields []string
	var bad problems
	if in.Name != nil {
		name, err := validateName(*in.Name)
		if bad.add(err) {
			u.Name, fields = &name, append(fields, "name")
		}
	}
	grants, grantsOK := cur.GrantTypes, true
	if in.GrantTypes != nil {
		g, err := validateGrantTypes(cur.ClientType, in.GrantTypes)
		if grantsOK = bad.add(err); grantsOK {
			grants, u.GrantTypes, fields = g, &g, append(fields, "grant_types")
		}
	}
	switch {
	case in.RedirectURIs != nil:
		uris := shared.NonNil(*in.RedirectURIs)
		if grantsOK && bad.add(validateLinkRedirectURIs(cur.ClientType, grants, uris)) {
			u.RedirectURIs, fields = &uris, append(fields, "redirect_uris")
		}
	case in.GrantTypes != nil && grantsOK:
		// Grant types that now include authorization_code need the
		// redirect URIs the link has.
		bad.add(validateLinkRedirectURIs(cur.ClientType, grants, cur.RedirectURIs))
	}
	if in.PostLogoutRedirectURIs != nil {
		uris := shared.NonNil(*in.PostLogoutRedirectURIs)
		if bad.add(validatePostLogoutRedirectURIs(cur.ClientType, uris)) {
			u.PostLogoutRedirectURIs, fields = &uris, append(fields, "post_logout_redirect_uris")
		}
	}
	if in.Scopes != nil {
		scopes, err := validateScopes(h.cfg.Catalog, "scopes", *in.Scopes)
		if bad.add(err) {
			u.Scopes, fields = &scopes, append(fields, "scopes")
		}
	}
	if in.ResourceURIs != nil {
		uris := shared.NonNil(*in.ResourceURIs)
		if bad.add(h.validateResourceURIs(cur.ClientType, uris)) && !slices.Equal(uris, cur.ResourceURIs) {
			u.ResourceURIs, fields = &uris, append(fields, "resource_uris")
		}
	}
	var alg string
	if in.IDTokenAlg != nil {
		var err error
		alg, err = validateIDTokenAlg(cur.ClientType, in.IDTokenAlg)
		bad.add(err)
	}
	if err := bad.err(); err != nil {
		return store.LinkUpdate{}, nil, err
	}
	if in.Enabled != nil {
		u.Enabled, fields = in.Enabled, append(fields, "enabled")
	}
	if in.IDTokenAlg != nil {
		u.IDTokenSignedResponseAlg, fields = &alg, append(fields, "id_token_signed_response_alg")
	}
	return u, fields, nil
}

// updateLinkOp validates in and applies it to the link id; with nothing to
// change it answers the link as it is.
func (h *Handler) updateLinkOp(ctx context.Context, c call, id string, in linkInput) (store.Link, error) {
	cur, err := h.getLinkOp(ctx, id)
	if err != nil {
		return store.Link{}, err
	}
	if in.ClientType != nil && *in.ClientType != cur.ClientType {
		return store.Link{}, errValidation("client_type", "cannot be changed; create a new link instead")
	}
	u, fields, err := h.validateLinkUpdate(cur, in)
	if err != nil {
		return store.Link{}, err
	}
	if u.IDTokenSignedResponseAlg != nil {
		if err := h.ensureIDTokenKey(ctx, c, *u.IDTokenSignedResponseAlg); err != nil {
			return store.Link{}, err
		}
	}
	if len(fields) == 0 {
		return cur, nil
	}
	link, err := h.store.UpdateLink(ctx, id, u, h.now().UTC())
	if err != nil {
		return store.Link{}, linkError(resourceTaken(wrapf(err, "update link %q", id)))
	}
	c.audit(ctx, "link_updated",
		"link_id", link.ID, "client_id", link.ClientID, "fields", fields,
		"name", link.Name, "scopes", link.Scopes, "redirect_uris", link.RedirectURIs,
		"post_logout_redirect_uris", link.PostLogoutRedirectURIs, "grant_types", link.GrantTypes,
		"resource_uris", link.ResourceURIs,
		"id_token_signed_response_alg", link.IDTokenSignedResponseAlg, "enabled", link.Enabled)
	return link, nil
}

// deleteLink serves DELETE /admin/links/{id}: the store revokes every grant
// and token of the link and deletes its secret; afterwards the id is 404.
func (h *Handler) deleteLink(w http.ResponseWriter, r *http.Request, c call) error {
	if err := h.deleteLinkOp(r.Context(), c, c.param); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteLinkOp deletes the link id, revoking every grant and token of it.
// Its audit event names the link too (name), since the id names nothing
// afterwards.
//
// A deletion that stopped part-way (the link already invisible, its secret
// or items not yet deleted) is finished by the retry: a link the read does
// not find still goes to the store's DeleteLink, which resumes it or
// answers not found.
func (h *Handler) deleteLinkOp(ctx context.Context, c call, id string) error {
	link, err := h.store.GetLink(ctx, id)
	switch {
	case err == nil:
		id = link.ID
	case !isNotFound(err):
		return linkError(wrapf(err, "get link %q", id))
	}
	if err := h.store.DeleteLink(ctx, id, h.now().UTC()); err != nil {
		return linkError(wrapf(err, "delete link %q", id))
	}
	if link.ID == "" {
		c.audit(ctx, "link_deleted", "link_id", id, "resumed", true)
		return nil
	}
	c.audit(ctx, "link_deleted", "link_id", link.ID, "name", link.Name)
	return nil
}

// credentialsView is the answer of the credentials endpoints.
type credentialsView struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// PreviousExpiresAt is when the previous secret stops working, during
	// a rotation overlap.
	PreviousExpiresAt *time.Time `json:"previous_expires_at,omitempty"`
}

// errPublicNoSecret answers the credentials endpoints for a public link: a
// 409, since the link exists but, by its type, has no secret to show or
// rotate.
func errPublicNoSecret() *apiError {
	return errConflict("a public link has no client secret: it authenticates with PKCE alone")
}

// viewCredentials serves GET /admin/links/{id}/credentials ("View
// credentials"): the client id and the current secret; 409 for a public
// link.
func (h *Handler) viewCredentials(w http.ResponseWriter, r *http.Request, c call) error {
	out, err := h.viewCredentialsOp(r.Context(), c, c.param)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// viewCredentialsOp reads the client id and current secret of the link id
// (409 for a public link), with an audit event.
func (h *Handler) viewCredentialsOp(ctx context.Context, c call, id string) (credentialsView, error) {
	link, err := h.getLinkOp(ctx, id)
	if err != nil {
		return credentialsView{}, err
	}
	if link.ClientType == store.Public {
		return credentialsView{}, errPublicNoSecret()
	}
	sec, err := h.store.GetLinkSecret(ctx, link.ID)
	if err != nil {
		return credentialsView{}, linkError(wrapf(err, "get secret of link %q", link.ID))
	}
	out := credentialsView{ClientID: link.ClientID, ClientSecret: sec.ClientSecret}
	if sec.PreviousSecret != "" && sec.PreviousExpiresAt.After(h.now()) {
		t := sec.PreviousExpiresAt.UTC()
		out.PreviousExpiresAt = &t
	}
	c.audit(ctx, "credentials_viewed", "link_id", link.ID, "client_id", link.ClientID)
	return out, nil
}

// rotateInput is the optional body of a credentials rotation.
type rotateInput struct {
	OverlapSeconds *int64 `json:"overlap_seconds"`
}

// rotateCredentials serves POST /admin/links/{id}/credentials/rotate: a new
// secret becomes current at once; the old one keeps working for
// overlap_seconds (0, the default, to 604800) and only one previous secret
// is kept, so a rotation ends any earlier overlap. 409 for a public link.
func (h *Handler) rotateCredentials(w http.ResponseWriter, r *http.Request, c call) error {
	var in rotateInput
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	out, err := h.rotateCredentialsOp(r.Context(), c, c.param, in.OverlapSeconds)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// rotateCredentialsOp gives the link id a new secret; the old one keeps
// working for overlapSeconds (nil: 0).
func (h *Handler) rotateCredentialsOp(ctx context.Context, c call, id string, overlapSeconds *int64) (credentialsView, error) {
	var overlap time.Duration
	if overlapSeconds != nil {
		s := *overlapSeconds
		if s < 0 || s > int64(MaxOverlap/time.Second) {
			return credentialsView{}, errValidation("overlap_seconds", fmt.Sprintf("must be from 0 to %d (7 days)", int64(MaxOverlap/time.Second)))
		}
		overlap = time.Duration(s) * time.Second
	}
	secret, err := shared.NewToken(h.random)
	if err != nil {
		return credentialsView{}, err
	}
	// The store reads the link itself: no second read here.
	link, err := h.store.RotateLinkSecret(ctx, id, secret, overlap, h.now().UTC())
	if errors.Is(err, store.ErrPublicLink) {
		return credentialsView{}, errPublicNoSecret()
	}
	if err != nil {
		return credentialsView{}, linkError(wrapf(err, "rotate secret of link %q", id))
	}
	out := credentialsView{ClientID: link.ClientID, ClientSecret: secret}
	if overlap > 0 && !link.PrevSecretExpires.IsZero() {
		t := link.PrevSecretExpires.UTC()
		out.PreviousExpiresAt = &t
	}
	c.audit(ctx, "credentials_rotated", "link_id", link.ID, "client_id", link.ClientID, "overlap_seconds", int64(overlap/time.Second))
	return out, nil
}

// grantView is one grant as GET /admin/links/{id}/grants shows it.
type grantView struct {
	GrantID   string     `json:"grant_id"`
	UserID    string     `json:"user_id"`
	Username  string     `json:"username"`
	Scope     []string   `json:"scope"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"` // the user's latest approval
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// LastUsedAt is when the grant last issued tokens, to within an hour;
	// absent when never.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// viewGrant shows a grant: revoked_at only when it is revoked and the time
// is known.
func viewGrant(g store.Grant) grantView {
	v := grantView{GrantID: g.ID, UserID: g.UserID, Username: g.Username, Scope: shared.NonNil(g.Scope),
		CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC(), Revoked: g.Revoked}
	if g.Revoked && !g.RevokedAt.IsZero() {
		t := g.RevokedAt.UTC()
		v.RevokedAt = &t
	}
	return v
}

// listGrants serves GET /admin/links/{id}/grants: who authorized the link
// (one grant per user: active, or revoked in the last
// store.RevokedGrantTTL), with the scope they approved, when, and when it
// was last used, newest authorization first.
func (h *Handler) listGrants(w http.ResponseWriter, r *http.Request, c call) error {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return err
	}
	_, grants, next, err := h.listGrantsOp(r.Context(), c.param, limit, cursor)
	if err != nil {
		return err
	}
	out := struct {
		Grants     []grantView `json:"grants"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}{Grants: make([]grantView, 0, len(grants)), NextCursor: next}
	for _, g := range grants {
		out.Grants = append(out.Grants, viewGrant(g))
	}
	if len(grants) > 0 {
		h.grantLastUse(r.Context(), grants[0].ClientID, out.Grants)
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// listGrantsOp reads the link id and a page of its grants, newest first,
// without revoked ones whose RevokedGrantTTL is up (a page may then hold
// fewer than limit).
func (h *Handler) listGrantsOp(ctx context.Context, id string, limit int, cursor string) (store.Link, []store.Grant, string, error) {
	link, err := h.getLinkOp(ctx, id)
	if err != nil {
		return store.Link{}, nil, "", err
	}
	grants, next, err := h.store.ListGrantsByLink(ctx, link.ClientID, limit, cursor)
	if err != nil {
		return store.Link{}, nil, "", cursorError(cursor, wrapf(err, "list grants of link %q", link.ID))
	}
	// DynamoDB deletes an expired item within days, not at once.
	now := h.now()
	grants = slices.DeleteFunc(grants, func(g store.Grant) bool {
		return g.Revoked && !g.RevokedAt.IsZero() && !now.Before(g.RevokedAt.Add(store.RevokedGrantTTL))
	})
	return link, grants, next, nil
}

// revokeGrant serves DELETE /admin/links/{id}/grants/{grant_id}: the grant
// and every token issued under it stop working at once (204; revoking a
// revoked grant is 204 too, and changes nothing). A grant of another link
// is 404.
func (h *Handler) revokeGrant(w http.ResponseWriter, r *http.Request, c call) error {
	if _, err := h.revokeGrantOp(r.Context(), c, c.param, c.param2); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeGrantOp revokes the grant grantID of the link id and returns it,
// revoked.
func (h *Handler) revokeGrantOp(ctx context.Context, c call, id, grantID string) (store.Grant, error) {
	link, err := h.getLinkOp(ctx, id)
	if err != nil {
		return store.Grant{}, err
	}
	g, err := h.findGrant(ctx, link.ClientID, grantID)
	if err != nil {
		return store.Grant{}, err
	}
	if g.Revoked { // revoked before: nothing more to do, nothing to audit
		return g, nil
	}
	// Revoking the grant refuses its pending codes too: they name its id.
	revoked, err := store.RevokeGrantAudited(ctx, h.store, g.UserID, link.ClientID, g.ID, h.now().UTC(), c.audit, "link_id", link.ID)
	if err != nil {
		if isNotFound(err) { // revoked or replaced meanwhile
			return store.Grant{}, errNotFound("this link has no grant with this id")
		}
		return store.Grant{}, wrapf(err, "revoke grant")
	}
	return revoked, nil
}

// revokedGrant reads the grant of userID for the link's client when it is
// revoked and its item has not expired (store.RevokedGrantTTL after the
// revocation): the console shows it as revoked that long.
func (h *Handler) revokedGrant(ctx context.Context, clientID, userID string) (store.Grant, bool) {
	if userID == "" {
		return store.Grant{}, false
	}
	g, err := h.store.GetGrant(ctx, userID, clientID)
	if err != nil || !g.Revoked || g.RevokedAt.IsZero() || !h.now().Before(g.RevokedAt.Add(store.RevokedGrantTTL)) {
		return store.Grant{}, false
	}
	return g, true
}

// findGrant finds the grant grantID of clientID in the link's listing
// (grants are keyed by user and link; an administrator's revocation is
// rare enough to read the listing for it), then reads it as it is: the
// listing is an eventually consistent index. A grant that another one
// replaced (the user authorized again after a revocation) is not found.
func (h *Handler) findGrant(ctx context.Context, clientID, grantID string) (store.Grant, error) {
	cursor := ""
	for {
		grants, next, err := h.store.ListGrantsByLink(ctx, clientID, 100, cursor)
		if err != nil {
			return store.Grant{}, wrapf(err, "list grants")
		}
		for _, g := range grants {
			if g.ID != grantID {
				continue
			}
			cur, err := h.store.GetGrant(ctx, g.UserID, clientID)
			if isNotFound(err) || err == nil && cur.ID != grantID {
				return store.Grant{}, errNotFound("this link has no grant with this id")
			}
			if err != nil {
				return store.Grant{}, wrapf(err, "read grant")
			}
			return cur, nil
		}
		if next == "" {
			return store.Grant{}, errNotFound("this link has no grant with this id")
		}
		cursor = next
	}
}

// linkError names the missing resource of a not-found link.
func linkError(err error) error {
	if isNotFound(err) {
		return errNotFound("no link with this id")
	}
	return err
}
