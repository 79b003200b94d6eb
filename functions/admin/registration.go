package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// RegistrationStore keeps the administrator's policy for links that
// applications register themselves (Client ID Metadata Documents, RFC
// 7591), the decisions on such links, and the limits on their creation;
// *store.Store implements it.
type RegistrationStore interface {
	// GetRegistrationPolicy reads the stored policy (found false: none
	// was ever written).
	GetRegistrationPolicy(ctx context.Context) (shared.RegistrationPolicy, time.Time, bool, error)
	// PutRegistrationPolicy replaces the policy.
	PutRegistrationPolicy(ctx context.Context, p shared.RegistrationPolicy, now time.Time) error
	// ListLinksBy lists the links of an origin and/or status (pages may be
	// short; the listing ends when the cursor does).
	ListLinksBy(ctx context.Context, f store.LinkFilter, limit int, cursor string) ([]store.Link, string, error)
	// SetLinkStatus approves, rejects or makes pending a self-registered
	// link (store.ErrNotSelfRegistered for an administrator's).
	SetLinkStatus(ctx context.Context, id, status string, now time.Time) (store.Link, error)
	// CountPendingLinks counts the pending links (of either origin).
	CountPendingLinks(ctx context.Context) (int, error)
	// RegistrationAttempt counts one link creation from source; false
	// when the source's hourly limit is reached.
	RegistrationAttempt(ctx context.Context, source string, now time.Time) (bool, error)
}

// policySubject is the activity subject of the registration policy.
const policySubject = "client-registration"

// registrationPolicy reads the policy in force: the stored one, or the
// default of a new deployment (both modes off).
func (h *Handler) registrationPolicy(ctx context.Context) (shared.RegistrationPolicy, error) {
	p, _, found, err := h.store.GetRegistrationPolicy(ctx)
	if err != nil {
		return shared.RegistrationPolicy{}, wrapf(err, "get registration policy")
	}
	if !found {
		return shared.DefaultRegistrationPolicy(h.cfg.Catalog), nil
	}
	return p.Normalize(h.cfg.Catalog), nil
}

// getClientRegistration serves GET /admin/client-registration: the policy
// in force (the default when none was saved).
func (h *Handler) getClientRegistration(w http.ResponseWriter, r *http.Request, c call) error {
	p, err := h.registrationPolicy(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

// putClientRegistration serves PUT /admin/client-registration: the body
// replaces the whole policy (200 with it, as stored); an invalid one is
// 422 naming every bad field.
func (h *Handler) putClientRegistration(w http.ResponseWriter, r *http.Request, c call) error {
	var in shared.RegistrationPolicy
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	p, err := h.putRegistrationPolicyOp(r.Context(), c, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, p)
	return nil
}

// putRegistrationPolicyOp validates p and stores it, with the audit (and
// activity) event client_registration_changed.
func (h *Handler) putRegistrationPolicyOp(ctx context.Context, c call, p shared.RegistrationPolicy) (shared.RegistrationPolicy, error) {
	if errs := p.Validate(h.cfg.Catalog); len(errs) > 0 {
		return shared.RegistrationPolicy{}, errFields(errs)
	}
	p = p.Normalize(h.cfg.Catalog)
	if err := h.store.PutRegistrationPolicy(ctx, p, h.now().UTC()); err != nil {
		return shared.RegistrationPolicy{}, wrapf(err, "put registration policy")
	}
	md, dr := p.MetadataDocuments, p.DynamicRegistration
	c.audit(ctx, "client_registration_changed", "policy", policySubject,
		"metadata_documents_mode", md.Mode, "trusted_hosts", md.TrustedHosts, "metadata_documents_scopes", md.Scopes,
		"dynamic_registration_mode", dr.Mode, "dynamic_registration_scopes", dr.Scopes, "idle_days", dr.IdleDays)
	return p, nil
}

// errFields is the 422 of a document with several bad fields: the message
// names each ("field: reason; field: reason"), and fields lists them.
func errFields(errs []shared.FieldError) *apiError {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	e := &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: strings.Join(msgs, "; ")}
	for _, f := range errs {
		e.fields = append(e.fields, fieldProblem{f.Field, f.Message})
	}
	return e
}

// parseLinkFilter reads the origin and status query parameters of GET
// /admin/links ("" when absent: every link); another value is 422.
func parseLinkFilter(q url.Values) (store.LinkFilter, error) {
	f := store.LinkFilter{Origin: q.Get("origin"), Status: q.Get("status")}
	switch f.Origin {
	case "", shared.OriginAdmin, shared.OriginMetadataDocument, shared.OriginDynamic:
	default:
		return f, errValidation("origin", `must be "admin", "metadata_document" or "dynamic"`)
	}
	switch f.Status {
	case "", shared.StatusActive, shared.StatusPending, shared.StatusRejected:
	default:
		return f, errValidation("status", `must be "active", "pending" or "rejected"`)
	}
	return f, nil
}

// approveLink serves POST /admin/links/{id}/approve: a self-registered
// link becomes active (200 with the link); 409 for a link an
// administrator created.
func (h *Handler) approveLink(w http.ResponseWriter, r *http.Request, c call) error {
	return h.decideLink(w, r, c, shared.StatusActive)
}

// rejectLink serves POST /admin/links/{id}/reject: a self-registered link
// is refused from now on and stays, so that its next use is refused again
// (200 with the link); 409 for a link an administrator created.
func (h *Handler) rejectLink(w http.ResponseWriter, r *http.Request, c call) error {
	return h.decideLink(w, r, c, shared.StatusRejected)
}

func (h *Handler) decideLink(w http.ResponseWriter, r *http.Request, c call, status string) error {
	if err := decodeOptional(r, &struct{}{}); err != nil {
		return err
	}
	link, err := h.decideLinkOp(r.Context(), c, c.param, status)
	if err != nil {
		return err
	}
	views := []linkView{viewLink(link)}
	h.linkLastUse(r.Context(), views)
	web.WriteJSON(w, http.StatusOK, views[0])
	return nil
}

// decideLinkOp records the administrator's decision on the link id
// (shared.StatusActive: approved; StatusRejected: rejected), with the
// audit event link_approved or link_rejected.
func (h *Handler) decideLinkOp(ctx context.Context, c call, id, status string) (store.Link, error) {
	link, err := h.store.SetLinkStatus(ctx, id, status, h.now().UTC())
	if errors.Is(err, store.ErrNotSelfRegistered) {
		return store.Link{}, errConflict("this link was created by an administrator; only a link an application registered itself is approved or rejected (to stop this one, disable it)")
	}
	if err != nil {
		return store.Link{}, linkError(wrapf(err, "set status of link %q", id))
	}
	event := "link_approved"
	if status == shared.StatusRejected {
		event = "link_rejected"
	}
	c.audit(ctx, event, "link_id", link.ID, "client_id", link.ClientID, "origin", link.Origin, "name", link.Name)
	return link, nil
}
