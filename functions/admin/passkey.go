package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/web"
)

// Passkeys (WebAuthn Level 3, https://www.w3.org/TR/webauthn-3/) are the
// console administrators' second factor, verified with
// github.com/go-webauthn/webauthn. The relying party ID is the issuer's
// host and the only origin the issuer's (config.PasskeyRPID): with an
// issuer whose host is an IP address, browsers refuse passkeys, so under
// ADMIN_MFA=optional the console then offers none (required refuses such
// an issuer at start-up).
//
// Every ceremony's challenge is kept server-side (store.PasskeyCeremony)
// under an id bound to the browser: the second step's cookie
// (passkeyCookie) for a sign-in or an enrollment, the console session for
// a confirmation or an added passkey. The browser answers with the
// credential's JSON (PublicKeyCredential.toJSON()) in a form field; the
// ceremony is taken from the store (once: TakePasskeyCeremony) before the
// answer is verified, so a challenge is answered once at most.
// User verification is required in every ceremony: a passkey is a
// possession and a PIN or biometric, not a bare touch.
//
// Under ADMIN_MFA=required:
//   - the password alone never opens the console: an administrator without
//     a passkey gets a page naming the admin API call that issues an
//     enrollment link, and no session;
//   - a passkey is enrolled only through such a link (passkey_enroll.go),
//     which needs the password too, so neither a leaked link nor a stolen
//     password is enough; the console cannot add or remove one;
//   - the confirmation that guards powerful actions is the passkey.
//
// Under optional, an administrator who has a passkey needs it after the
// password, may add one from their own user page (after a fresh
// confirmation) and remove their own; either the password or the passkey
// confirms.

const (
	// EnrollmentTTL is how long an enrollment link lasts.
	EnrollmentTTL = 15 * time.Minute
	// ceremonyTTL is how long a ceremony in flight (a second step's page
	// left open) lasts; passkeyTimeout the timeout the browser is given
	// for the authenticator, within it.
	ceremonyTTL    = 5 * time.Minute
	passkeyTimeout = 3 * time.Minute
)

// Ceremony kinds (store.PasskeyCeremony.Kind).
const (
	ceremonyLogin   = "login"   // the second step of a sign-in
	ceremonyEnroll  = "enroll"  // a registration through an enrollment link
	ceremonyConfirm = "confirm" // a confirmation of a signed-in administrator
	ceremonyAdd     = "add"     // a registration from the console (optional)
)

// PasskeyStore keeps the administrators' passkeys and their enrollment
// links; *store.Store implements it.
type PasskeyStore interface {
	// GetPasskeys returns the user's passkeys (none: empty), in one call.
	GetPasskeys(ctx context.Context, userID string) ([]store.Passkey, error)
	// AddPasskey adds a passkey (ErrConflict: a duplicate, or max reached).
	AddPasskey(ctx context.Context, p store.Passkey, max int) error
	// UsePasskey records a sign-in with p (its updated record) at now;
	// ErrNotFound when it was removed meanwhile.
	UsePasskey(ctx context.Context, p store.Passkey, now time.Time) error
	// RemovePasskey removes one passkey (ErrNotFound when absent).
	RemovePasskey(ctx context.Context, userID, id string) error
	// RemovePasskeys removes all of the user's passkeys and ends the
	// user's sessions (ErrNotFound: no such user).
	RemovePasskeys(ctx context.Context, userID string, now time.Time) error
	// CreatePasskeyEnrollment stores an enrollment link.
	CreatePasskeyEnrollment(ctx context.Context, e store.PasskeyEnrollment) error
	// GetPasskeyEnrollment reads an unused enrollment link before its end.
	GetPasskeyEnrollment(ctx context.Context, id string, now time.Time) (store.PasskeyEnrollment, error)
	// EnrollPasskey adds p and consumes the link in one transaction
	// (ErrConflict: used, ended, another user's, or the user is no longer
	// an enabled administrator).
	EnrollPasskey(ctx context.Context, enrollmentID string, p store.Passkey, max int, now time.Time) error
}

// CeremonyStore keeps the WebAuthn ceremonies in flight; *store.Store
// implements it.
type CeremonyStore interface {
	// PutPasskeyCeremony stores a ceremony (replacing one of its id).
	PutPasskeyCeremony(ctx context.Context, c store.PasskeyCeremony) error
	// GetPasskeyCeremony reads a ceremony before its end.
	GetPasskeyCeremony(ctx context.Context, id string, now time.Time) (store.PasskeyCeremony, error)
	// TakePasskeyCeremony ends a ceremony whose CSRF token is csrf and
	// returns it, once (ErrNotFound otherwise).
	TakePasskeyCeremony(ctx context.Context, id, csrf string, now time.Time) (store.PasskeyCeremony, error)
}

// newRelyingParty is the WebAuthn relying party of cfg's issuer, nil when
// the issuer's host is an IP address.
func newRelyingParty(cfg config.Config) (*webauthn.WebAuthn, error) {
	rpID := config.PasskeyRPID(cfg.Issuer)
	if rpID == "" {
		if cfg.AdminMFA == config.AdminMFARequired {
			return nil, errors.New("ADMIN_MFA=required needs an issuer whose host is a domain name")
		}
		return nil, nil
	}
	name := cfg.ProviderName
	if name == "" {
		name = rpID
	}
	return webauthn.New(&webauthn.Config{
		RPID:          rpID,
		RPDisplayName: name + " administration",
		RPOrigins:     []string{cfg.Issuer},
		// No attestation: which make of authenticator holds the key is
		// not a decision the console takes.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: passkeyTimeout, TimeoutUVD: passkeyTimeout},
			Registration: webauthn.TimeoutConfig{Timeout: passkeyTimeout, TimeoutUVD: passkeyTimeout},
		},
	})
}

// passkeysOn reports whether the console offers passkeys (the issuer has
// a domain name).
func (h *Handler) passkeysOn() bool { return h.rp != nil }

// mfaRequired reports ADMIN_MFA=required.
func (h *Handler) mfaRequired() bool { return h.cfg.AdminMFA == config.AdminMFARequired }

// passkeyCookie is the cookie of a sign-in's (or an enrollment's) second
// step: it names the ceremony in flight. Like the console's, it is
// __Host- prefixed on https, HttpOnly and SameSite=Strict.
func (h *Handler) passkeyCookie() string {
	if h.cookies.Secure {
		return "__Host-console_passkey"
	}
	return "console_passkey"
}

// sessionCeremonyID is the id of a signed-in administrator's ceremony of
// kind: derived from the console session, so no other browser has it.
func sessionCeremonyID(kind string, sess store.ConsoleSession) string {
	return shared.HashToken(kind + "\x00" + sess.ID)
}

// passkeyUser is a user as go-webauthn sees one. Its user handle is the
// user's id: random, immutable and never reused, so a passkey of a user
// who was deleted never speaks for one created later under the same name.
type passkeyUser struct {
	u     store.User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte   { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string { return p.u.Username }
func (p passkeyUser) WebAuthnDisplayName() string {
	if p.u.Name != "" {
		return p.u.Name
	}
	return p.u.Username
}
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

var _ webauthn.User = passkeyUser{}

// adminKeys are an administrator's passkeys of this relying party, as
// stored and as go-webauthn credentials (same order).
type adminKeys struct {
	stored []store.Passkey
	creds  []webauthn.Credential
}

// passkeys reads u's passkeys registered for this relying party (one
// store call). A record that does not decode is left out (and logged): it
// can never sign in.
func (h *Handler) passkeys(ctx context.Context, u store.User) (adminKeys, error) {
	var k adminKeys
	if !h.passkeysOn() {
		return k, nil
	}
	all, err := h.store.GetPasskeys(ctx, u.ID)
	if err != nil {
		return k, wrapf(err, "get passkeys")
	}
	for _, p := range all {
		if p.RPID != h.rp.Config.RPID {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(p.Record, &c); err != nil {
			web.Logger(ctx).Warn("passkey record does not decode", "username", u.Username, "credential", credPrefix(p.ID))
			continue
		}
		k.stored = append(k.stored, p)
		k.creds = append(k.creds, c)
	}
	return k, nil
}

// credPrefix is a short, loggable reference to a credential id.
func credPrefix(id string) string { return id[:min(len(id), 8)] }

// beginLogin starts an authentication ceremony for u's passkeys: the
// options for the page (JSON) and the session data to keep.
func (h *Handler) beginLogin(u store.User, k adminKeys) (string, []byte, error) {
	assertion, sd, err := h.rp.BeginLogin(passkeyUser{u: u, creds: k.creds}, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return "", nil, fmt.Errorf("begin passkey login: %w", err)
	}
	return encodeCeremony(assertion.Response, sd)
}

// beginRegistration starts a registration ceremony for u, excluding the
// passkeys u has (an authenticator holding one refuses to make another).
func (h *Handler) beginRegistration(u store.User, k adminKeys) (string, []byte, error) {
	creation, sd, err := h.rp.BeginRegistration(passkeyUser{u: u, creds: k.creds},
		webauthn.WithExclusions(webauthn.Credentials(k.creds).CredentialDescriptors()))
	if err != nil {
		return "", nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return encodeCeremony(creation.Response, sd)
}

func encodeCeremony(options any, sd *webauthn.SessionData) (string, []byte, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return "", nil, fmt.Errorf("encode passkey options: %w", err)
	}
	session, err := json.Marshal(sd)
	if err != nil {
		return "", nil, fmt.Errorf("encode passkey session: %w", err)
	}
	return string(opts), session, nil
}

// errPasskeyRefused is an answer from the browser that does not verify:
// malformed, for another challenge, origin or credential, without user
// verification, or from a cloned authenticator. Its detail is logged, not
// shown.
var errPasskeyRefused = errors.New("passkey refused")

// maxCredentialJSON bounds the credential JSON a form may carry (a
// registration with a large attestation stays well below).
const maxCredentialJSON = 32 << 10

// finishLogin verifies the browser's answer (credential JSON) to the
// authentication ceremony c of u, and records the use. It returns the
// passkey used, or errPasskeyRefused (wrapped with the reason).
func (h *Handler) finishLogin(ctx context.Context, u store.User, k adminKeys, c store.PasskeyCeremony, answer string) (store.Passkey, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.Session, &sd); err != nil {
		return store.Passkey{}, fmt.Errorf("decode passkey session: %w", err)
	}
	if answer == "" || len(answer) > maxCredentialJSON {
		return store.Passkey{}, fmt.Errorf("%w: no answer of a usable size (%d bytes)", errPasskeyRefused, len(answer))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(answer))
	if err != nil {
		return store.Passkey{}, fmt.Errorf("%w: %s", errPasskeyRefused, protocolDetail(err))
	}
	cred, err := h.rp.ValidateLogin(passkeyUser{u: u, creds: k.creds}, sd, parsed)
	if err != nil {
		return store.Passkey{}, fmt.Errorf("%w: %s", errPasskeyRefused, protocolDetail(err))
	}
	if cred.Authenticator.CloneWarning {
		return store.Passkey{}, fmt.Errorf("%w: the signature counter went back (a cloned authenticator?)", errPasskeyRefused)
	}
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	for _, p := range k.stored {
		if p.ID != id {
			continue
		}
		rec, err := json.Marshal(cred)
		if err != nil {
			return store.Passkey{}, fmt.Errorf("encode passkey: %w", err)
		}
		p.Record = rec
		if err := h.store.UsePasskey(ctx, p, h.now()); err != nil {
			if isNotFound(err) {
				return store.Passkey{}, fmt.Errorf("%w: removed meanwhile", errPasskeyRefused)
			}
			return store.Passkey{}, wrapf(err, "record passkey use")
		}
		return p, nil
	}
	return store.Passkey{}, fmt.Errorf("%w: not one of the user's passkeys", errPasskeyRefused)
}

// finishRegistration verifies the browser's answer to the registration
// ceremony c of u and returns the passkey to store (not stored yet).
func (h *Handler) finishRegistration(u store.User, c store.PasskeyCeremony, answer string) (store.Passkey, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.Session, &sd); err != nil {
		return store.Passkey{}, fmt.Errorf("decode passkey session: %w", err)
	}
	if answer == "" || len(answer) > maxCredentialJSON {
		return store.Passkey{}, fmt.Errorf("%w: no answer of a usable size (%d bytes)", errPasskeyRefused, len(answer))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(answer))
	if err != nil {
		return store.Passkey{}, fmt.Errorf("%w: %s", errPasskeyRefused, protocolDetail(err))
	}
	cred, err := h.rp.CreateCredential(passkeyUser{u: u}, sd, parsed)
	if err != nil {
		return store.Passkey{}, fmt.Errorf("%w: %s", errPasskeyRefused, protocolDetail(err))
	}
	if !cred.Flags.UserVerified {
		return store.Passkey{}, fmt.Errorf("%w: the authenticator did not verify the user", errPasskeyRefused)
	}
	rec, err := json.Marshal(cred)
	if err != nil {
		return store.Passkey{}, fmt.Errorf("encode passkey: %w", err)
	}
	if len(rec) > store.MaxPasskeyRecord {
		return store.Passkey{}, fmt.Errorf("%w: a credential record of %d bytes", errPasskeyRefused, len(rec))
	}
	return store.Passkey{UserID: u.ID, ID: base64.RawURLEncoding.EncodeToString(cred.ID), RPID: h.rp.Config.RPID,
		Record: rec, CreatedAt: h.now()}, nil
}

// protocolDetail is the loggable reason of a go-webauthn error (its
// details and developer info, never the answer itself).
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		s := pe.Type + ": " + pe.Details
		if pe.DevInfo != "" {
			s += " (" + pe.DevInfo + ")"
		}
		return s
	}
	return err.Error()
}

// newCeremony stores a ceremony of kind for u, bound to id, and returns
// it (its CSRF token is fresh).
func (h *Handler) newCeremony(ctx context.Context, id, kind string, u store.User, options string, session []byte, returnTo, enrollment string) (store.PasskeyCeremony, error) {
	csrf, err := shared.NewToken(h.random)
	if err != nil {
		return store.PasskeyCeremony{}, wrapf(err, "new passkey csrf")
	}
	now := h.now()
	c := store.PasskeyCeremony{ID: id, Kind: kind, UserID: u.ID, CSRF: csrf, Session: session, Options: options,
		ReturnTo: returnTo, EnrollmentID: enrollment, CreatedAt: now, ExpiresAt: now.Add(ceremonyTTL)}
	if err := h.store.PutPasskeyCeremony(ctx, c); err != nil {
		return store.PasskeyCeremony{}, wrapf(err, "store passkey ceremony")
	}
	return c, nil
}

// clearPasskeyCookie ends the second step's cookie.
func (h *Handler) clearPasskeyCookie(w http.ResponseWriter) {
	http.SetCookie(w, h.cookies.MakeStrict(h.passkeyCookie(), "", -1))
}
