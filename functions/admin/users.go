package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/password"
	"github.com/applinks/applinks/shared/password/strength"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/throttle"
	"github.com/applinks/applinks/shared/web"
)

// Limits of the users API.
const (
	// MaxUsernameLen is the longest username.
	MaxUsernameLen = shared.MaxUsernameLen
	// MinPasswordBytes and MaxPasswordBytes bound a password's length in
	// bytes (the upper bound keeps argon2id's input, and so its cost,
	// bounded).
	MinPasswordBytes = 8
	MaxPasswordBytes = 1024
)

// userInput is the body of POST and PATCH /admin/users. A nil field was not
// sent (or sent as null). Username is refused by PATCH; Admin only the
// console may send (see call.changesAdministrators).
type userInput struct {
	Username      *string   `json:"username"`
	Password      *string   `json:"password"`
	Permissions   *[]string `json:"permissions"`
	Disabled      *bool     `json:"disabled"`
	Admin         *bool     `json:"admin"`
	Name          *string   `json:"name"`
	Email         *string   `json:"email"`
	EmailVerified *bool     `json:"email_verified"`
	// Upstream links an upstream identity: {"provider", "subject"}, or
	// null to unlink (idp_users.go). Absent: unchanged.
	Upstream json.RawMessage `json:"upstream"`
}

// userView is a user as the API shows it: never the password hash.
type userView struct {
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Permissions   []string  `json:"permissions"`
	Disabled      bool      `json:"disabled"`
	Admin         bool      `json:"admin"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Upstream is the linked upstream identity (null: none); CreatedBy
	// says where the user comes from: "administrator" or
	// "upstream_sign_in".
	Upstream  *store.UpstreamIdentity `json:"upstream"`
	CreatedBy string                  `json:"created_by"`
}

func viewUser(u store.User) userView {
	return userView{
		ID:            u.ID,
		Username:      u.Username,
		Permissions:   shared.NonNil(u.Permissions),
		Disabled:      u.Disabled,
		Admin:         u.Admin,
		Name:          u.Name,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		CreatedAt:     u.CreatedAt.UTC(),
		UpdatedAt:     u.UpdatedAt.UTC(),
		Upstream:      u.Upstream,
		CreatedBy:     createdBy(u),
	}
}

// Limits of the profile attributes.
const (
	// MaxDisplayNameLen is the longest display name, in bytes.
	MaxDisplayNameLen = 200
	// MaxEmailLen is the longest email address (RFC 5321 §4.5.3.1.3 path
	// limit less the angle brackets).
	MaxEmailLen = 254
)

// validateDisplayName checks a user's display name: at most
// MaxDisplayNameLen bytes of valid UTF-8 without control characters ("" is
// allowed: no name).
func validateDisplayName(name string) error {
	if len(name) > MaxDisplayNameLen {
		return errValidation("name", fmt.Sprintf("is %d bytes long, above the maximum of %d", len(name), MaxDisplayNameLen))
	}
	if !utf8.ValidString(name) {
		return errValidation("name", "must be valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errValidation("name", "must not contain control characters")
		}
	}
	if err := shared.CheckName(name); err != nil {
		return errValidation("name", err.Error())
	}
	return nil
}

// validateEmail checks an email address: "" (none), or a bare addr-spec
// (local@domain, no display name, no spaces) of at most MaxEmailLen bytes.
func validateEmail(email string) error {
	if email == "" {
		return nil
	}
	if len(email) > MaxEmailLen {
		return errValidation("email", fmt.Sprintf("is %d bytes long, above the maximum of %d", len(email), MaxEmailLen))
	}
	a, err := mail.ParseAddress(email)
	at := strings.LastIndexByte(email, '@')
	if err != nil || a.Address != email || a.Name != "" || at < 1 || at == len(email)-1 || strings.ContainsAny(email, " <>\"") {
		return errValidation("email", "must be an address like name@example.com")
	}
	return nil
}

// profileUpdate validates the profile attributes of in into u (nil fields
// are left alone) and returns the names of the fields sent.
func profileUpdate(in userInput, u *store.UserUpdate) ([]string, error) {
	var fields []string
	var bad problems
	if in.Admin != nil {
		u.Admin, fields = in.Admin, append(fields, "admin")
	}
	if in.Name != nil && bad.add(validateDisplayName(*in.Name)) {
		u.Name, fields = in.Name, append(fields, "name")
	}
	if in.Email != nil && bad.add(validateEmail(*in.Email)) {
		u.Email, fields = in.Email, append(fields, "email")
	}
	if in.EmailVerified != nil {
		u.EmailVerified, fields = in.EmailVerified, append(fields, "email_verified")
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	return fields, nil
}

// applyProfile copies the profile fields of up into u.
func applyProfile(up store.UserUpdate, u *store.User) {
	if up.Admin != nil {
		u.Admin = *up.Admin
	}
	if up.Name != nil {
		u.Name = *up.Name
	}
	if up.Email != nil {
		u.Email = *up.Email
	}
	if up.EmailVerified != nil {
		u.EmailVerified = *up.EmailVerified
	}
}

// validateUsername checks a username: 1 to MaxUsernameLen characters of
// [A-Za-z0-9._@-] (shared.CheckUsername). Usernames are kept as sent and
// compared regardless of case (store.UsernameKey): the alphabet is ASCII,
// so lowering ASCII letters is the whole of case folding, and it has no
// look-alike letters.
func validateUsername(name string) error {
	if err := shared.CheckUsername(name); err != nil {
		return errValidation("username", err.Error())
	}
	return nil
}

// validatePassword checks a new password of the user named username: its
// length (MinPasswordBytes to MaxPasswordBytes bytes), then that it is not
// easy to guess (strength.Check: common and compromised passwords,
// dictionary words, patterns, and the words of this context: the
// username, the provider's name, the issuer's host, "applinks"). The
// message never repeats the password.
func (h *Handler) validatePassword(pw, username string) error {
	switch {
	case len(pw) < MinPasswordBytes:
		return errValidation("password", fmt.Sprintf("must be at least %d bytes long", MinPasswordBytes))
	case len(pw) > MaxPasswordBytes:
		return errValidation("password", fmt.Sprintf("must be at most %d bytes long", MaxPasswordBytes))
	}
	context := []string{username, "applinks", h.cfg.ProviderName, config.ProviderNameFor(h.cfg.Issuer)}
	if err := strength.Check(pw, context...); err != nil {
		return errValidation("password", err.Error())
	}
	return nil
}

// hashPassword validates pw as the password of username and returns its
// argon2id hash.
func (h *Handler) hashPassword(pw, username string) (string, error) {
	if err := h.validatePassword(pw, username); err != nil {
		return "", err
	}
	hash, err := password.Hash(pw, h.random)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// createUser serves POST /admin/users: 201 with the user, 409 when the
// username is taken. permissions may be omitted (no permission beyond the
// catalog's baseline).
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, c call) error {
	var in userInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	u, err := h.createUserOp(r.Context(), c, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/users/"+u.Username)
	web.WriteJSON(w, http.StatusCreated, viewUser(u))
	return nil
}

// errAdminField is the JSON API's answer to "admin" in a user's body.
func errAdminField() error {
	return errValidation("admin", "is set only by PUT /admin/users/{username}/admin, not in this body")
}

// errAdministrator is the JSON API's answer to a change or deletion of an
// administrator through /admin/users/{username}.
func errAdministrator(username string) error {
	return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: fmt.Sprintf(
		"%s is an administrator: an administrator's credentials change only under /admin/users/%s/admin "+
			"(PUT /admin/users/%s/admin/password sets the password; PUT /admin/users/%s/admin with {\"admin\": false} "+
			"takes the flag away, after which the user is changed or deleted like any other)", username, username, username, username)}
}

// createUserOp validates in and creates the user, for the API and the
// console. Only the console may set the administrator flag here.
func (h *Handler) createUserOp(ctx context.Context, c call, in userInput) (store.User, error) {
	if in.Admin != nil && !c.changesAdministrators() {
		return store.User{}, errAdminField()
	}
	// Every field is checked, so that a form shows every invalid one at
	// once.
	var bad problems
	username := ""
	if in.Username == nil {
		bad.add(errValidation("username", "is required"))
	} else {
		username = *in.Username
		bad.add(validateUsername(username))
	}
	upIn, upSent, err := parseUpstream(in.Upstream)
	// A user linked to an upstream identity may have no password.
	if bad.add(err) && in.Password == nil && upIn == nil {
		bad.add(errValidation("password", "is required (unless upstream names the identity the user signs in with)"))
	}
	if in.Password != nil {
		bad.add(h.validatePassword(*in.Password, username))
	}
	permsOK := bad.add(h.claimsPermissionsRefused(in))
	var perms []string
	if in.Permissions != nil {
		perms = *in.Permissions
	}
	if permsOK {
		perms, err = validateScopes(h.cfg.Catalog, "permissions", perms)
		bad.add(err)
	}
	var profile store.UserUpdate
	_, err = profileUpdate(in, &profile)
	bad.add(err)
	if err := bad.err(); err != nil {
		return store.User{}, err
	}
	id, err := shared.NewID(h.random)
	if err != nil {
		return store.User{}, fmt.Errorf("new user id: %w", err)
	}
	u := store.User{ID: id, Username: *in.Username, Permissions: perms}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	applyProfile(profile, &u)
	if upSent {
		if u.Upstream, err = h.resolveUpstream(ctx, upIn); err != nil {
			return store.User{}, err
		}
	}
	if in.Password != nil {
		if u.PasswordHash, err = h.hashPassword(*in.Password, u.Username); err != nil {
			return store.User{}, err
		}
	}
	now := h.now().UTC()
	u.CreatedAt, u.UpdatedAt = now, now
	if err := h.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrUpstreamLinked) {
			return store.User{}, upstreamConflict(err)
		}
		if isConflict(err) {
			return store.User{}, errConflict(fmt.Sprintf("a user named %q already exists (usernames are compared regardless of letter case)", u.Username))
		}
		return store.User{}, wrapf(err, "create user %q", u.Username)
	}
	c.audit(ctx, "user_created", "user_id", u.ID,
		"username", u.Username, "permissions", u.Permissions, "disabled", u.Disabled, "admin", u.Admin)
	return u, nil
}

// getUser serves GET /admin/users/{username}; the username matches
// regardless of case.
func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, c call) error {
	u, err := h.userOp(r.Context(), c.param)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, viewUser(u))
	return nil
}

// userOp reads the user named username, in any case (404 "no user with
// this username"). A name outside the username alphabet names no user: it
// is 404 before any lookup, so that no store can fold it into another
// (U+212A KELVIN SIGN into k).
func (h *Handler) userOp(ctx context.Context, username string) (store.User, error) {
	if shared.CheckUsername(username) != nil {
		return store.User{}, errNotFound("no user with this username")
	}
	u, err := h.store.GetUserByName(ctx, username)
	if err != nil {
		return store.User{}, userError(wrapf(err, "get user %q", username))
	}
	return u, nil
}

// updateUser serves PATCH /admin/users/{username}: password, permissions,
// disabled and the profile may change; the username may not, nor the
// administrator flag (PUT .../admin). An administrator is 403: their
// credentials change only under /admin/users/{username}/admin. Lowered
// permissions take effect at the user's next token refresh, which caps the
// scope again. An empty object changes nothing and answers the user.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, c call) error {
	var in userInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	user, err := h.updateUserOp(r.Context(), c, c.param, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, viewUser(user))
	return nil
}

// updateUserOp validates in and applies it to the user named username;
// with nothing to change it answers the user as it is. Only the console may
// set the administrator flag here or change an administrator; for anyone
// else the store checks, in the update itself, that the user is not one.
func (h *Handler) updateUserOp(ctx context.Context, c call, username string, in userInput) (store.User, error) {
	guard := !c.changesAdministrators()
	if in.Admin != nil && guard {
		return store.User{}, errAdminField()
	}
	if in.Username != nil && store.UsernameKey(*in.Username) != store.UsernameKey(username) {
		return store.User{}, errValidation("username", "cannot be changed; create a new user instead")
	}
	// Every field sent is checked, so that a form shows every invalid one
	// at once.
	var bad problems
	var u store.UserUpdate
	fields, err := profileUpdate(in, &u)
	bad.add(err)
	upIn, upSent, err := parseUpstream(in.Upstream)
	bad.add(err)
	permsOK := bad.add(h.claimsPermissionsRefused(in))
	if in.Password != nil {
		bad.add(h.validatePassword(*in.Password, username))
	}
	if in.Permissions != nil && permsOK {
		perms, err := validateScopes(h.cfg.Catalog, "permissions", *in.Permissions)
		if bad.add(err) {
			u.Permissions, fields = &perms, append(fields, "permissions")
		}
	}
	if err := bad.err(); err != nil {
		return store.User{}, err
	}
	if in.Password != nil {
		hash, err := h.hashPassword(*in.Password, username)
		if err != nil {
			return store.User{}, err
		}
		u.PasswordHash, fields = &hash, append(fields, "password")
	}
	if in.Disabled != nil {
		u.Disabled, fields = in.Disabled, append(fields, "disabled")
	}
	cur, err := h.userOp(ctx, username)
	if err != nil {
		return store.User{}, err
	}
	if guard && cur.Admin {
		return store.User{}, errAdministrator(cur.Username)
	}
	if upSent {
		if cur, err = h.setUpstreamOp(ctx, c, cur, upIn); err != nil {
			return store.User{}, err
		}
	}
	if len(fields) == 0 {
		return cur, nil
	}
	u.UnlessAdmin = guard
	return h.applyUserUpdate(ctx, c, cur, u, fields)
}

// applyUserUpdate writes u to the user cur (as read), revokes the user's
// grants when u is a new password or a disabling, and writes the audit
// event naming fields.
func (h *Handler) applyUserUpdate(ctx context.Context, c call, cur store.User, u store.UserUpdate, fields []string) (store.User, error) {
	now := h.now().UTC()
	user, err := h.store.UpdateUser(ctx, cur.ID, u, now)
	if errors.Is(err, store.ErrAdministrator) {
		// Made an administrator since it was read.
		return store.User{}, errAdministrator(cur.Username)
	}
	if err != nil {
		return store.User{}, signInAdminError(userError(wrapf(err, "update user %q", cur.Username)))
	}
	// A new password set by an administrator, or a disabling, is incident
	// response: everything the user authorized is revoked for good
	// (enabling the user again brings nothing back; they authorize again).
	if reason := credentialsReason(u); reason != "" {
		if err := h.store.RevokeUserGrants(ctx, user.ID, reason, now); err != nil {
			return store.User{}, wrapf(err, "revoke grants of user %q", user.Username)
		}
	}
	c.audit(ctx, "user_updated", "user_id", user.ID,
		"username", user.Username, "fields", fields, "permissions", user.Permissions, "disabled", user.Disabled, "admin", user.Admin)
	return user, nil
}

// setAdmin serves PUT /admin/users/{username}/admin {"admin": true|false}:
// the JSON API's only way to make a user an administrator (they may open
// the console) or to take the flag away (the console refuses them from
// their next request; their sessions and grants stay, and the user is then
// changed or deleted through /admin/users/{username} like any other). 200
// with the user.
func (h *Handler) setAdmin(w http.ResponseWriter, r *http.Request, c call) error {
	var in struct {
		Admin *bool `json:"admin"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Admin == nil {
		return errValidation("admin", "is required: true or false")
	}
	cur, err := h.userOp(r.Context(), c.param)
	if err != nil {
		return err
	}
	user, err := h.applyUserUpdate(r.Context(), c, cur, store.UserUpdate{Admin: in.Admin}, []string{"admin"})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, viewUser(user))
	return nil
}

// setAdminPassword serves PUT /admin/users/{username}/admin/password
// {"password": ...}: it sets the password of any user, an administrator
// too (PATCH refuses one), so that an operator can recover an
// administrator's account. Like a password set by PATCH, it ends the
// user's sessions and pending codes and revokes everything they
// authorized, for good. 200 with the user.
func (h *Handler) setAdminPassword(w http.ResponseWriter, r *http.Request, c call) error {
	var in struct {
		Password *string `json:"password"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Password == nil {
		return errValidation("password", "is required")
	}
	hash, err := h.hashPassword(*in.Password, c.param)
	if err != nil {
		return err
	}
	cur, err := h.userOp(r.Context(), c.param)
	if err != nil {
		return err
	}
	user, err := h.applyUserUpdate(r.Context(), c, cur, store.UserUpdate{PasswordHash: &hash}, []string{"password"})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, viewUser(user))
	return nil
}

// credentialsReason names why an update revokes the user's grants: a new
// password or a disabling; "" for any other update.
func credentialsReason(u store.UserUpdate) string {
	switch {
	case u.PasswordHash != nil:
		return "password_set"
	case u.Disabled != nil && *u.Disabled:
		return "user_disabled"
	}
	return ""
}

// deleteUser serves DELETE /admin/users/{username}: the store revokes every
// grant of the user; afterwards the username is 404 (and free again: a new
// user of that name gets a new id, and nothing of the old one works for it).
// An administrator is 403 (PUT .../admin {"admin": false} first).
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, c call) error {
	if err := h.deleteUserOp(r.Context(), c, c.param); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteUserOp deletes the user named username and revokes their grants.
// Only the console may delete an administrator; for anyone else the store
// checks, in the deletion itself, that the user is not one.
func (h *Handler) deleteUserOp(ctx context.Context, c call, username string) error {
	u, err := h.userOp(ctx, username)
	if err != nil {
		return err
	}
	del := h.store.DeleteUser
	if !c.changesAdministrators() {
		if u.Admin {
			return errAdministrator(u.Username)
		}
		del = h.store.DeleteUserUnlessAdmin
	}
	if err := del(ctx, u.ID, h.now().UTC()); err != nil {
		if errors.Is(err, store.ErrAdministrator) {
			return errAdministrator(u.Username)
		}
		return userError(wrapf(err, "delete user %q", username))
	}
	c.audit(ctx, "user_deleted", "user_id", u.ID, "username", u.Username)
	return nil
}

// revokeUserGrants serves DELETE /admin/users/{username}/grants: every
// application the user authorized loses access at once (every token of
// every grant inactive, pending codes refused); the user stays and can
// authorize again.
func (h *Handler) revokeUserGrants(w http.ResponseWriter, r *http.Request, c call) error {
	if err := h.revokeUserGrantsOp(r.Context(), c, c.param); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeUserGrantsOp revokes everything the user named username has
// authorized: every grant (one per link), so every token of each is
// inactive and every pending code refused; the user stays.
func (h *Handler) revokeUserGrantsOp(ctx context.Context, c call, username string) error {
	u, err := h.userOp(ctx, username)
	if err != nil {
		return err
	}
	if err := h.store.RevokeUserGrants(ctx, u.ID, "admin_revoked", h.now().UTC()); err != nil {
		return wrapf(err, "revoke grants of user %q", u.Username)
	}
	c.audit(ctx, "user_grants_revoked", "user_id", u.ID, "username", u.Username)
	return nil
}

// unlockUser serves POST /admin/users/{username}/unlock: the user's failed
// sign-ins are forgotten, so a user locked by the sign-in throttle (too
// many failures within its window) can sign in again at once. 204 whether
// or not they were locked.
func (h *Handler) unlockUser(w http.ResponseWriter, r *http.Request, c call) error {
	if err := h.unlockUserOp(r.Context(), c, c.param); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// unlockUserOp clears the sign-in throttle's count of the user named
// username (the per-username counter; a source's count stays).
func (h *Handler) unlockUserOp(ctx context.Context, c call, username string) error {
	u, err := h.userOp(ctx, username)
	if err != nil {
		return err
	}
	if err := h.store.ClearLoginFailures(ctx, u.Username); err != nil {
		return wrapf(err, "unlock user %q", u.Username)
	}
	c.audit(ctx, "user_unlocked", "user_id", u.ID, "username", u.Username)
	return nil
}

// loginLockedUntil is until when the user's sign-ins are refused by the
// throttle (zero: not locked).
func (h *Handler) loginLockedUntil(ctx context.Context, username string) (time.Time, error) {
	t, err := h.store.LoginLockedUntil(ctx, username, throttle.MaxUsernameFailures, h.now())
	if err != nil {
		return time.Time{}, wrapf(err, "read sign-in lock of %q", username)
	}
	return t, nil
}

// userError names the missing resource of a not-found user.
func userError(err error) error {
	if isNotFound(err) {
		return errNotFound("no user with this username")
	}
	return err
}
