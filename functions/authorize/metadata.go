package authorize

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/clientmeta"
	"github.com/applinks/applinks/shared/page/component"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// MetadataLinkStore is what Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document) need of the store: the
// administrator's policy, the links the authorize function records itself
// (store.CreateMetadataLink: CIMD# items, never an administrator's link),
// and the limits of unauthenticated creation. When the handler's Store is
// not one, a client_id that is a URL is an unknown application.
type MetadataLinkStore interface {
	// GetRegistrationPolicy reads the policy (found false: none was
	// saved, shared.DefaultRegistrationPolicy applies).
	GetRegistrationPolicy(ctx context.Context) (p shared.RegistrationPolicy, updated time.Time, found bool, err error)
	// CreateMetadataLink records a document's link at its first use
	// (shared.ErrConflict when another request recorded it first).
	CreateMetadataLink(ctx context.Context, in store.NewMetadataLink, now time.Time) (store.Link, error)
	// RefreshMetadataLink records a document fetched again.
	RefreshMetadataLink(ctx context.Context, clientID string, r store.MetadataRefresh, now time.Time) (store.Link, error)
	// RegistrationAttempt counts a creation from a source address
	// (false: over the limit).
	RegistrationAttempt(ctx context.Context, source string, now time.Time) (bool, error)
	// CountPendingLinks counts the links waiting for approval.
	CountPendingLinks(ctx context.Context) (int, error)
}

var _ MetadataLinkStore = (*store.Store)(nil)

// metadataProblem is a metadata-document client the authorization endpoint
// refuses, with the page that explains why.
type metadataProblem int

const (
	// metaBadDocument: the URL or its document cannot be used (400, the
	// reason shown).
	metaBadDocument metadataProblem = iota + 1
	// metaNotAllowed: the policy does not allow the host, or the
	// administrator rejected the application (400).
	metaNotAllowed
	// metaPending: the administrator must approve the application first
	// (400).
	metaPending
	// metaTooMany: the limits of unauthenticated creation (429).
	metaTooMany
)

// metadataError is a refusal of a metadata-document client: never sent to
// the application's redirect URI, which nothing has validated yet.
type metadataError struct {
	kind   metadataProblem
	host   string // the document URL's host
	reason string // metaBadDocument: what is wrong
}

func (e *metadataError) Error() string { return "client metadata document: " + e.reason }

// registrationPolicy is the stored policy, or the default.
func (h *Handler) registrationPolicy(ctx context.Context) (shared.RegistrationPolicy, error) {
	p, _, found, err := h.metaLinks.GetRegistrationPolicy(ctx)
	if err != nil {
		return p, err
	}
	if !found {
		p = shared.DefaultRegistrationPolicy(h.catalog)
	}
	return p, nil
}

// resolveMetadataClient makes sure the link of a client_id that names a
// Client ID Metadata Document is recorded and current before the request
// is validated as any other (parseAuthRequest reads the link then):
//
//   - policy mode off, or no MetadataLinkStore: nothing is done (the
//     client_id is then an unknown application, as before);
//   - the URL is checked (clientmeta.CheckClientID), then, under
//     trusted_hosts, its host: an untrusted host is refused before any
//     fetch;
//   - a recorded link is used as it is while its cache lasts; once it
//     expired the document is fetched again, and a changed name or
//     redirect URIs put a link back to pending under approval; a rejected
//     link is refused, a pending one waits;
//   - a new document is fetched and recorded, within the limits of
//     unauthenticated creation (per source address, and in all while
//     pending): active under trusted_hosts with the policy's ceiling,
//     pending under approval.
//
// It returns a *metadataError for the person's page, or a store failure.
func (h *Handler) resolveMetadataClient(ctx context.Context, r *http.Request, clientID string) error {
	if h.metaLinks == nil {
		return nil
	}
	policy, err := h.registrationPolicy(ctx)
	if err != nil {
		web.Logger(ctx).Error("get registration policy", "err", err.Error())
		return err
	}
	mp := policy.MetadataDocuments
	if mp.Mode == shared.ModeOff || mp.Mode == "" {
		return &metadataError{kind: metaOff}
	}
	u, err := clientmeta.CheckClientID(clientID, h.metadata.AllowLoopback())
	if err != nil {
		return &metadataError{kind: metaBadDocument, reason: err.Error()}
	}
	host := u.Hostname()
	if mp.Mode == shared.ModeTrustedHosts && !shared.HostTrusted(mp.TrustedHosts, host) {
		return &metadataError{kind: metaNotAllowed, host: host}
	}
	now := h.now()
	link, err := h.store.GetLinkByClientID(ctx, clientID)
	switch {
	case errors.Is(err, shared.ErrNotFound):
		link, err = h.createMetadataLink(ctx, r, clientID, host, mp)
		if err != nil {
			return err
		}
	case err != nil:
		web.Logger(ctx).Error("get link", "err", err.Error())
		return err
	case link.Metadata == nil:
		// Not a metadata-document link: no such link is ever written
		// under a URL, but if one were, it is not refreshed here.
		return nil
	case !now.Before(link.Metadata.CacheUntil) && link.Enabled && link.Status != shared.StatusRejected:
		if link, err = h.refreshMetadataLink(ctx, link, host, mp); err != nil {
			return err
		}
	}
	switch link.Status {
	case shared.StatusRejected:
		return &metadataError{kind: metaNotAllowed, host: host}
	case shared.StatusPending:
		return &metadataError{kind: metaPending, host: host}
	}
	return nil
}

// metaOff is the policy's mode off: not an error page of its own (the
// client_id is then unknown).
const metaOff metadataProblem = -1

// createMetadataLink fetches a new document and records its link.
func (h *Handler) createMetadataLink(ctx context.Context, r *http.Request, clientID, host string, mp shared.MetadataDocumentPolicy) (store.Link, error) {
	now := h.now()
	if ok, err := h.metaLinks.RegistrationAttempt(ctx, h.limiter.Source(r), now); err != nil {
		web.Logger(ctx).Error("registration attempt", "err", err.Error())
		return store.Link{}, err
	} else if !ok {
		web.Logger(ctx).Info("metadata document refused: too many new applications from this source", "client_id", clientID)
		return store.Link{}, &metadataError{kind: metaTooMany, host: host}
	}
	status := shared.StatusActive
	if mp.Mode == shared.ModeApproval {
		status = shared.StatusPending
		n, err := h.metaLinks.CountPendingLinks(ctx)
		if err != nil {
			web.Logger(ctx).Error("count pending links", "err", err.Error())
			return store.Link{}, err
		}
		if n >= store.MaxPendingLinks {
			web.Logger(ctx).Info("metadata document refused: too many pending links", "client_id", clientID, "pending", n)
			return store.Link{}, &metadataError{kind: metaTooMany, host: host}
		}
	}
	f, err := h.metadata.Fetch(ctx, clientID)
	if err != nil {
		web.Logger(ctx).Info("metadata document refused", "client_id", clientID, "reason", err.Error())
		return store.Link{}, &metadataError{kind: metaBadDocument, host: host, reason: err.Error()}
	}
	l, err := h.metaLinks.CreateMetadataLink(ctx, store.NewMetadataLink{
		ClientID: clientID, Name: f.Document.ClientName, RedirectURIs: f.Document.RedirectURIs,
		Scopes: mp.Scopes, Status: status,
		Cache: store.MetadataCache{FetchedAt: f.FetchedAt, CacheUntil: f.CacheUntil},
	}, now)
	if errors.Is(err, shared.ErrConflict) {
		// Another request recorded it first: use that one.
		l, err = h.store.GetLinkByClientID(ctx, clientID)
	}
	if err != nil {
		web.Logger(ctx).Error("create metadata link", "err", err.Error())
		return store.Link{}, err
	}
	web.Audit(ctx, "metadata_link_created", "link_id", l.ID, "client_id", clientID, "status", l.Status,
		"scope", shared.FormatScope(l.Scopes))
	return l, nil
}

// refreshMetadataLink fetches an expired document again and records it; a
// changed name or redirect URIs put the link back to pending when the
// policy wants approval.
func (h *Handler) refreshMetadataLink(ctx context.Context, link store.Link, host string, mp shared.MetadataDocumentPolicy) (store.Link, error) {
	f, err := h.metadata.Fetch(ctx, link.ClientID)
	if err != nil {
		web.Logger(ctx).Info("metadata document refused on refresh", "client_id", link.ClientID, "reason", err.Error())
		return store.Link{}, &metadataError{kind: metaBadDocument, host: host, reason: err.Error()}
	}
	changed := f.Document.ClientName != link.Name || !slices.Equal(f.Document.RedirectURIs, link.RedirectURIs)
	back := changed && mp.Mode == shared.ModeApproval
	l, err := h.metaLinks.RefreshMetadataLink(ctx, link.ClientID, store.MetadataRefresh{
		Name: f.Document.ClientName, RedirectURIs: f.Document.RedirectURIs,
		Cache:         store.MetadataCache{FetchedAt: f.FetchedAt, CacheUntil: f.CacheUntil},
		BackToPending: back,
	}, h.now())
	if err != nil {
		web.Logger(ctx).Error("refresh metadata link", "err", err.Error())
		return store.Link{}, err
	}
	if changed {
		web.Audit(ctx, "metadata_link_changed", "link_id", l.ID, "client_id", l.ClientID, "status", l.Status)
	}
	return l, nil
}

// metadataHost is the host a metadata-document link's client_id URL
// names ("" for any other link): what the consent page shows prominently.
func metadataHost(l store.Link) string {
	if l.Origin != shared.OriginMetadataDocument || !clientmeta.IsURL(l.ClientID) {
		return ""
	}
	u, err := url.Parse(l.ClientID)
	if err != nil {
		return ""
	}
	return u.Host
}

// selfRegistered reports whether l was created by the application itself
// (a metadata document or a dynamic registration).
func selfRegistered(l store.Link) bool {
	return l.Origin == shared.OriginMetadataDocument || l.Origin == shared.OriginDynamic
}

// allLoopback reports whether every redirect URI of l is on a loopback
// host: the answer then goes to a program on the user's own machine,
// which any program there could be.
func allLoopback(uris []string) bool {
	if len(uris) == 0 {
		return false
	}
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil {
			return false
		}
		if !shared.IsLoopbackHost(u.Hostname()) {
			return false
		}
	}
	return true
}

// metadataErrorPage answers a refused metadata-document client with the
// error page (never a redirect: no redirect URI was validated): the
// not-recognised page when the policy is off; the document's problem in
// plain words (400); "not allowed" (400); "must be approved first" (400);
// too many new applications (429). Any other error is the store's.
func (h *Handler) metadataErrorPage(w http.ResponseWriter, r *http.Request, err error) {
	var me *metadataError
	if !errors.As(err, &me) {
		h.authorizeError(w, r, shared.AuthorizeTarget{}, shared.NoRedirect(shared.AsError(err)))
		return
	}
	app := "This application"
	if me.host != "" {
		app = "The application at " + me.host
	}
	d := authError{site: h.site(), Code: shared.CodeInvalidRequest}
	status := http.StatusBadRequest
	switch me.kind {
	case metaOff:
		h.authorizeError(w, r, shared.AuthorizeTarget{}, pageError(problemApp, "", "the application is unknown or disabled"))
		return
	case metaBadDocument:
		d.Title = "This application's description cannot be used"
		d.Text = app + " describes itself in a document that " + h.provider + " cannot use: " + me.reason + "."
		d.Next = "Go back to the application. Its developer must correct the document before anyone can sign in to it."
		d.Code, d.Description = "invalid_client", me.reason
	case metaNotAllowed:
		d.Title = "This application is not allowed"
		d.Text = app + " is not allowed to use " + h.provider + ": the administrator does not allow it."
		d.Next = "Go back to the application. If you need it, ask your administrator to allow it."
		d.Code, d.Description = "unauthorized_client", "the administrator does not allow this application"
	case metaPending:
		d.Title = "This application must be approved first"
		d.Text = app + " is new to " + h.provider + ", and the administrator must approve the application first: until then no one can sign in to it."
		d.Next = "Ask your administrator to approve it, then try again from the application."
		d.Code, d.Description = "unauthorized_client", "the administrator must approve this application first"
	case metaTooMany:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "3600")
		d.Title = "Too many new applications"
		d.Text = "Too many new applications have asked to use " + h.provider + " recently, so this one cannot be added now."
		d.Next = "Try again later. If this keeps happening, tell your administrator."
		d.Code, d.Description = "temporarily_unavailable", "too many new applications from this address, or waiting for approval"
	}
	component.Render(w, status, errorPage(d))
}
