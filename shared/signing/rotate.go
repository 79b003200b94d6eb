package signing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/applinks/applinks/shared"
)

// ActivationDelay is how long after a rotation the new key starts signing:
// the refresh interval (every instance has re-read the key set) plus
// JWKSMaxAge (every cached JWK Set holds the new key).
func (k *Keyring) ActivationDelay() time.Duration {
	return k.o.Refresh + JWKSMaxAge
}

// Rotation is the outcome of a staged rotation (or of EnsureKey staging a
// first key of its algorithm).
type Rotation struct {
	// Alg is the new key's algorithm.
	Alg string
	// KeyID is the new key's kid: in the JWK Set (and verifying) at once,
	// signing from ActiveFrom.
	KeyID string
	// ActiveFrom is when KeyID becomes the signing key of Alg (and, for a
	// rotation, of access tokens).
	ActiveFrom time.Time
	// PreviousKeyID is the key of Alg that signs until ActiveFrom and then
	// verifies until PreviousRetireAfter ("" when the key set had no key
	// of Alg).
	PreviousKeyID       string
	PreviousRetireAfter time.Time
	// PreviousAccessAlg is the algorithm of access tokens before
	// ActiveFrom (Rotate only); when it is not Alg, its current key keeps
	// signing the ID tokens of the clients that ask for it.
	PreviousAccessAlg string
}

// PendingRotationError is Rotate's error while the key of an earlier
// rotation is pending (published, not signing yet). It wraps
// shared.ErrConflict.
//
// Replacing a pending key is unsafe: an instance that read the key set
// before the replacement still switches to the replaced key at its
// active_from, with no I/O, and signs with a key that is no longer stored or
// published until its next refresh (issue 13). Keeping the replaced key as a
// verifier instead would need a bound on when every instance has re-read the
// set, which a failing refresh breaks; refusing keeps the rule simple: every
// key an instance can ever sign with is a current or a pending key of the
// stored set, and so in the JWK Set. The cost is small: a second
// rotation waits ActivationDelay at most, the time a new key would wait
// anyway before it signs.
type PendingRotationError struct {
	// KeyID is the pending key's kid.
	KeyID string
	// ActiveFrom is when it starts signing: a rotation succeeds from then.
	ActiveFrom time.Time
}

func (e *PendingRotationError) Error() string {
	return fmt.Sprintf("rotate signing key: key %s is pending until %s", e.KeyID, e.ActiveFrom.UTC().Format(time.RFC3339))
}

// Unwrap makes the error a shared.ErrConflict.
func (e *PendingRotationError) Unwrap() error { return shared.ErrConflict }

// Rotate stages a new key of alg (RS256 or ES256; "" for the algorithm that
// signs access tokens now): it is published in the JWK Set (and verifies)
// at once, and becomes the signing key of alg and of access tokens
// ActivationDelay later; from then the previous key of alg stays in the JWK
// Set (and verifies) for keep, which should be at least ACCESS_TOKEN_TTL,
// and the current key of another algorithm keeps signing ID tokens of
// that algorithm. A pending key whose time has come is made current first;
// while one is not yet active, Rotate refuses with a *PendingRotationError
// (ErrConflict) and changes nothing. Retired keys whose time has passed are
// dropped. Rotate starts from the stored document, not the cache (creating
// it first when none exists); two instances rotating at the same moment
// race (the last write wins), so rotate from one place (an operator or a
// scheduled job). The caller audits the rotation: it knows who asked.
func (k *Keyring) Rotate(ctx context.Context, alg string, keep time.Duration) (Rotation, error) {
	k.reload.Lock()
	defer k.reload.Unlock()
	set, rot, err := k.stage(ctx, alg, keep, true)
	if err != nil {
		return Rotation{}, err
	}
	if set != nil {
		k.install(set, k.o.Now())
	}
	return rot, nil
}

// EnsureKey makes sure the key set has a key of alg, current or pending: a
// key set written before alg was supported gets a first key of it, staged
// as a rotation's (published at once, signing ActivationDelay later), with
// no change to the algorithm of access tokens. It reports whether it
// staged one; a key set that has a key of alg is left as it is (nothing is
// written). Unlike Rotate it does not refuse while another algorithm's key
// is pending, since it replaces no key.
func (k *Keyring) EnsureKey(ctx context.Context, alg string) (Rotation, bool, error) {
	k.reload.Lock()
	defer k.reload.Unlock()
	set, rot, err := k.stage(ctx, alg, 0, false)
	if err != nil || set == nil {
		return Rotation{}, false, err
	}
	k.install(set, k.o.Now())
	return rot, true, nil
}

// stage writes a document with a new pending key of alg and returns it
// parsed, without installing it; k.reload must be held. access is a
// rotation (Rotate: access tokens move to alg); without it, stage adds a
// first key of alg or does nothing (nil set) when there is one.
func (k *Keyring) stage(ctx context.Context, alg string, keep time.Duration, access bool) (*keySet, Rotation, error) {
	what := "rotate signing key"
	if !access {
		what = "add signing key"
	}
	if keep < 0 {
		return nil, Rotation{}, fmt.Errorf("%s: negative keep %s", what, keep)
	}
	if alg != "" && !Supported(alg) {
		return nil, Rotation{}, fmt.Errorf("%s: unsupported algorithm %q", what, alg)
	}
	stored, err := k.loadOrCreate(ctx)
	if err != nil {
		return nil, Rotation{}, fmt.Errorf("%s: %w", what, err)
	}
	now := k.o.Now()
	doc := stored.at(now).doc.clone()
	if alg == "" {
		alg = doc.accessAlg()
	}
	prev := doc.chainOf(alg)
	if !access && prev != nil {
		return nil, Rotation{}, nil
	}
	if n, ok := doc.pending(); ok && access {
		return nil, Rotation{}, &PendingRotationError{KeyID: n.Key.KeyID, ActiveFrom: n.ActiveFrom}
	}
	key, err := k.generate(alg)
	if err != nil {
		return nil, Rotation{}, fmt.Errorf("%s: %w", what, err)
	}
	activeFrom := now.Add(k.ActivationDelay())
	c := chain{}
	if prev != nil {
		c = *prev
	}
	c.Next = &nextKey{Key: key, ActiveFrom: activeFrom, PreviousRetireAfter: activeFrom.Add(keep)}
	doc.setChain(alg, c)
	doc.dropRetired(now)
	rot := Rotation{Alg: alg, KeyID: key.KeyID, ActiveFrom: activeFrom}
	if c.Current != nil {
		rot.PreviousKeyID, rot.PreviousRetireAfter = c.Current.KeyID, c.Next.PreviousRetireAfter
	}
	if access {
		rot.PreviousAccessAlg = doc.accessAlg()
		doc.NextAccessAlg = nil
		if alg != doc.accessAlg() {
			doc.NextAccessAlg = &accessSwitch{Alg: alg, From: activeFrom}
		}
	}
	set, err := newKeySet(doc)
	if err != nil {
		return nil, Rotation{}, fmt.Errorf("%s: %w", what, err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, Rotation{}, fmt.Errorf("%s: encode: %w", what, err)
	}
	if err := k.src.PutSigningKeys(ctx, raw); err != nil {
		return nil, Rotation{}, fmt.Errorf("%s: store: %w", what, err)
	}
	return set, rot, nil
}

// Rotator stages rotations of the stored key set without holding one: it
// reads nothing until Rotate or EnsureKey, so a function that rotates but
// never signs or verifies (the admin function) reads no secret when it
// starts. It is safe for concurrent use.
type Rotator struct {
	k *Keyring
}

// NewRotator returns a Rotator on src. It does no I/O; o is as for New
// (Refresh sets the activation delay, with Now and Random).
func NewRotator(src Source, o Options) (*Rotator, error) {
	k, err := newUnloaded(src, o)
	if err != nil {
		return nil, err
	}
	return &Rotator{k: k}, nil
}

// Rotate is Keyring.Rotate on the stored key set; the Rotator keeps
// nothing of it.
func (r *Rotator) Rotate(ctx context.Context, alg string, keep time.Duration) (Rotation, error) {
	r.k.reload.Lock()
	defer r.k.reload.Unlock()
	_, rot, err := r.k.stage(ctx, alg, keep, true)
	return rot, err
}

// EnsureKey is Keyring.EnsureKey on the stored key set.
func (r *Rotator) EnsureKey(ctx context.Context, alg string) (Rotation, bool, error) {
	r.k.reload.Lock()
	defer r.k.reload.Unlock()
	set, rot, err := r.k.stage(ctx, alg, 0, false)
	return rot, set != nil, err
}

// KeyInfo describes one key of the set, without key material (the
// administrators' console lists them).
type KeyInfo struct {
	KeyID string
	// Alg is the key's algorithm, RS256 or ES256.
	Alg string
	// State is "current" (signs), "next" (published, signs from
	// ActiveFrom) or "retired" (verifies until RetireAfter).
	State string
	// AccessTokens: a current key that signs access tokens (the others
	// sign only the ID tokens of the clients that ask for their
	// algorithm), or a pending key that will from ActiveFrom.
	AccessTokens bool
	ActiveFrom   time.Time // next: when it signs; current: since when it signs (zero when not known)
	RetireAfter  time.Time // retired; for a current key, when a pending rotation retires it
}

// Describe lists the keys of a stored key-set document (Source's) as of
// now: the current keys (the one that signs access tokens first), the
// pending ones, then the retired keys that still verify, latest retirement
// first. Times are in UTC.
func Describe(raw []byte, now time.Time) ([]KeyInfo, error) {
	var d document
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	d = d.activate(now)
	var current, next, retired []KeyInfo
	nextAccess := d.accessAlg()
	if d.NextAccessAlg != nil {
		nextAccess = d.NextAccessAlg.Alg
	}
	for _, alg := range d.algs() {
		c := d.chainOf(alg)
		if cur := c.Current; cur != nil {
			ki := KeyInfo{KeyID: cur.KeyID, Alg: alg, State: "current", AccessTokens: alg == d.accessAlg(), ActiveFrom: c.CurrentSince.UTC()}
			if c.Next != nil {
				ki.RetireAfter = c.Next.PreviousRetireAfter.UTC()
			}
			if ki.AccessTokens {
				current = append([]KeyInfo{ki}, current...)
			} else {
				current = append(current, ki)
			}
		}
		if n := c.Next; n != nil {
			next = append(next, KeyInfo{KeyID: n.Key.KeyID, Alg: alg, State: "next", AccessTokens: alg == nextAccess, ActiveFrom: n.ActiveFrom.UTC()})
		}
		for _, r := range c.Retired {
			if now.Before(r.RetireAfter) {
				retired = append(retired, KeyInfo{KeyID: r.Key.KeyID, Alg: alg, State: "retired", RetireAfter: r.RetireAfter.UTC()})
			}
		}
	}
	sortRetired(retired)
	return append(append(current, next...), retired...), nil
}

// sortRetired orders retired keys latest retirement first.
func sortRetired(keys []KeyInfo) {
	slices.SortStableFunc(keys, func(a, b KeyInfo) int { return b.RetireAfter.Compare(a.RetireAfter) })
}
