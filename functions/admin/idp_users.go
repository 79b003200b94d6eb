package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// A user's upstream identity in the users API: "upstream": {"provider":
// ID, "subject": SUB} in POST and PATCH /admin/users (null in a PATCH
// unlinks), and in every user the API shows, with the issuer.

// UpstreamLinkStore links users to upstream identities; *store.Store
// implements it.
type UpstreamLinkStore interface {
	// SetUpstream links the user to id, or unlinks it (nil), ending the
	// user's sessions (store.ErrUpstreamLinked when id is another user's).
	SetUpstream(ctx context.Context, userID string, id *store.UpstreamIdentity, now time.Time) (store.User, error)
}

var _ UpstreamLinkStore = (*store.Store)(nil)

// maxSubjectLen bounds an upstream subject (OpenID Connect Core §2: at
// most 255 ASCII characters).
const maxSubjectLen = 255

// upstreamInput is the "upstream" member of a user body.
type upstreamInput struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
}

// Who created a user (userView.CreatedBy).
const (
	createdByAdministrator = "administrator"
	createdBySignIn        = "upstream_sign_in"
)

func createdBy(u store.User) string {
	if store.CreatedBySignIn(u.ID) {
		return createdBySignIn
	}
	return createdByAdministrator
}

// parseUpstream reads the raw "upstream" member: sent reports whether it
// was sent at all; a nil identity with sent is null (unlink).
func parseUpstream(raw json.RawMessage) (in *upstreamInput, sent bool, err error) {
	if raw == nil {
		return nil, false, nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var v upstreamInput
	if err := dec.Decode(&v); err != nil {
		return nil, true, errValidation("upstream", `must be {"provider": ID, "subject": SUB} or null`)
	}
	return &v, true, nil
}

// resolveUpstream checks in and names the identity it means: the
// provider must exist (its issuer makes the link), the subject must be
// 1 to 255 characters of UTF-8.
func (h *Handler) resolveUpstream(ctx context.Context, in *upstreamInput) (*store.UpstreamIdentity, error) {
	if in == nil {
		return nil, nil
	}
	if in.Provider == "" {
		return nil, errValidation("upstream.provider", "is required")
	}
	if in.Subject == "" || len(in.Subject) > maxSubjectLen || !utf8.ValidString(in.Subject) {
		return nil, errValidation("upstream.subject", fmt.Sprintf("must be 1 to %d bytes of UTF-8 (the upstream's sub claim)", maxSubjectLen))
	}
	st, err := h.idps()
	if err != nil {
		return nil, err
	}
	p, err := st.GetIdentityProvider(ctx, in.Provider)
	if isNotFound(err) {
		return nil, errValidation("upstream.provider", "names no identity provider")
	}
	if err != nil {
		return nil, wrapf(err, "get identity provider")
	}
	return &store.UpstreamIdentity{ProviderID: p.ID, Issuer: p.Issuer, Subject: in.Subject}, nil
}

// upstreamConflict is the 409 of an identity linked to someone else.
func upstreamConflict(err error) error {
	if errors.Is(err, store.ErrUpstreamLinked) {
		return errConflict("this upstream identity is already linked to another user; unlink it there first")
	}
	return err
}

// signInAdminError is the 422 of the administrator flag asked for a user
// created by an upstream sign-in (store.ErrSignInUserAdmin): such a user's
// item is the authorize function's to write, so the console never trusts
// its flag.
func signInAdminError(err error) error {
	if errors.Is(err, store.ErrSignInUserAdmin) {
		return errValidation("admin", "a user created by an upstream sign-in cannot be an administrator; create the administrator with the admin API or the console and link the upstream identity to them")
	}
	return err
}

// claimsPermissionsRefused refuses stored permissions when they come
// from the identity provider's claims.
func (h *Handler) claimsPermissionsRefused(in userInput) error {
	if in.Permissions != nil && h.cfg.Permissions.Source == config.PermissionsClaims {
		return errValidation("permissions", "come from the identity provider's claims here (PERMISSION_SOURCE=claims); map them with the provider's permission_map")
	}
	return nil
}

// setUpstreamOp links the user with id to the identity of in (nil:
// unlinks), for PATCH and the console.
func (h *Handler) setUpstreamOp(ctx context.Context, c call, u store.User, in *upstreamInput) (store.User, error) {
	st, ok := h.store.(UpstreamLinkStore)
	if !ok {
		return store.User{}, errNotFound("upstream identities are not available")
	}
	id, err := h.resolveUpstream(ctx, in)
	if err != nil {
		return store.User{}, err
	}
	got, err := st.SetUpstream(ctx, u.ID, id, h.now().UTC())
	if err != nil {
		if isNotFound(err) {
			return store.User{}, errNotFound("no user with this username")
		}
		return store.User{}, upstreamConflict(wrapf(err, "link user %q", u.Username))
	}
	if id == nil {
		c.audit(ctx, "user_upstream_unlinked", "user_id", u.ID, "username", u.Username)
	} else {
		c.audit(ctx, "user_upstream_linked", "user_id", u.ID, "username", u.Username, "provider", id.ProviderID, "subject", id.Subject)
	}
	return got, nil
}
