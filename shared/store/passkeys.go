package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// Passkeys (WebAuthn credentials) of the console's administrators, the
// one-time links that enroll them, and the ceremonies in flight. Every item
// here is written by the admin function alone: none of the prefixes below
// is among the authorize or token function's write prefixes
// (table.WritePrefixes), so neither can add a passkey to an account,
// consume an enrollment link or forge a ceremony's challenge.

// Passkey is one WebAuthn credential of a console administrator.
type Passkey struct {
	UserID string
	// ID is the credential id, base64url without padding (at most 1,023
	// bytes before encoding, as WebAuthn allows).
	ID string
	// RPID is the relying party ID the credential was registered for (the
	// issuer's host): a credential of another one cannot sign in here.
	RPID string
	// Record is the credential record as the admin function encodes it
	// (go-webauthn's Credential as JSON: public key, sign count, flags);
	// opaque to the store, at most MaxPasskeyRecord bytes.
	Record     []byte
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used after its registration
}

// MaxPasskeyRecord bounds Passkey.Record, so that MaxPasskeys of them fit
// in one item (DynamoDB's 400 KB) with room to spare.
const MaxPasskeyRecord = 16 << 10

// MaxPasskeys is the most passkeys a user may have.
const MaxPasskeys = 10

// PasskeyEnrollment is a one-time link that lets an administrator register
// a passkey (after their password). ID is shared.HashToken of the link's
// token: the token itself is never stored.
type PasskeyEnrollment struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PasskeyCeremony is a WebAuthn ceremony in flight (a registration or an
// authentication): the challenge the server chose, kept here and never
// trusted from the browser. ID binds it to one browser: shared.HashToken
// of a cookie's value, or a value derived from the console session.
type PasskeyCeremony struct {
	ID   string
	Kind string // chosen by the caller: "login", "enroll", "confirm", "add"
	// UserID is whose ceremony it is; CSRF the token its form must carry.
	UserID string
	CSRF   string
	// Session is go-webauthn's SessionData (the challenge, the allowed
	// credentials, the user verification asked for), as JSON; Options the
	// options the page hands the browser.
	Session []byte
	Options string
	// ReturnTo is the console page to go to afterwards; EnrollmentID the
	// enrollment link a registration consumes (Kind "enroll").
	ReturnTo     string
	EnrollmentID string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

const (
	passkeyPrefix  = "PASSKEY#"         // PASSKEY#<user id>: the user's passkeys, one item
	enrollPrefix   = "PASSKEYENROLL#"   // PASSKEYENROLL#<sha256(token)>: an enrollment link
	ceremonyPrefix = "PASSKEYCEREMONY#" // PASSKEYCEREMONY#<id>: a ceremony in flight
	skPasskeys     = "PASSKEYS"
	skEnroll       = "PASSKEYENROLL"
	skCeremony     = "PASSKEYCEREMONY"

	// A passkey is the attribute cred#<credential id> of its user's item
	// (a map); passkey_count counts them, so that one condition can cap
	// them (MaxPasskeys) without reading the item.
	passkeyAttrPrefix = "cred#"
	aPasskeyCount     = "passkey_count"
	aRPID             = "rp_id"
	aRecord           = "record"
	aLastUsedAt       = "last_used_at"
	aKind             = "kind"
	aSession          = "session"
	aOptions          = "options"
	aReturnTo         = "return_to"
	aEnrollment       = "enrollment"
)

// maxCredentialID is the longest credential id accepted, base64url
// encoded: 1,023 bytes (WebAuthn's bound) encode to 1,364 characters.
const maxCredentialID = 1364

func passkeysKey(userID string) map[string]types.AttributeValue {
	return key(passkeyPrefix+userID, skPasskeys)
}

func bin(b []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: b} }

func (it item) bin(name string) []byte {
	if v, ok := it[name].(*types.AttributeValueMemberB); ok {
		return v.Value
	}
	return nil
}

func (it item) m(name string) item {
	if v, ok := it[name].(*types.AttributeValueMemberM); ok {
		return item(v.Value)
	}
	return nil
}

func validPasskey(p Passkey) error {
	switch {
	case p.UserID == "" || tooLong(p.UserID):
		return errors.New("no valid user id")
	case p.ID == "" || len(p.ID) > maxCredentialID:
		return errors.New("no valid credential id")
	case len(p.Record) == 0 || len(p.Record) > MaxPasskeyRecord:
		return fmt.Errorf("record of %d bytes (at most %d)", len(p.Record), MaxPasskeyRecord)
	}
	return nil
}

// addPasskey is the update that adds p to its user's item (creating the
// item if need be), on condition that it is new and the user has fewer
// than max.
func (s *Store) addPasskey(p Passkey, max int) *types.Update {
	e := newExpr()
	cred := map[string]types.AttributeValue{
		aRPID: str(p.RPID), aRecord: bin(p.Record), aCreatedAt: str(fmtTime(p.CreatedAt)),
	}
	upd := "SET " + e.n(passkeyAttrPrefix+p.ID) + " = " + e.v(&types.AttributeValueMemberM{Value: cred}) +
		" ADD " + e.n(aPasskeyCount) + " " + e.v(num(1))
	cond := "attribute_not_exists(" + e.n(passkeyAttrPrefix+p.ID) + ") AND (attribute_not_exists(" + e.n(aPasskeyCount) +
		") OR " + e.n(aPasskeyCount) + " < " + e.v(num(int64(max))) + ")"
	return &types.Update{
		TableName: s.tableName(), Key: passkeysKey(p.UserID),
		UpdateExpression: aws.String(upd), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	}
}

// GetPasskeys returns the user's passkeys, oldest first (none: an empty
// slice): one strongly consistent GetItem, so that the sign-in reads them
// in one call.
func (s *Store) GetPasskeys(ctx context.Context, userID string) ([]Passkey, error) {
	if userID == "" || tooLong(userID) {
		return []Passkey{}, nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: passkeysKey(userID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get passkeys of %s: %w", userID, classify(err, false))
	}
	keys := []Passkey{}
	for name := range out.Item {
		id, ok := strings.CutPrefix(name, passkeyAttrPrefix)
		if !ok {
			continue
		}
		c := item(out.Item).m(name)
		keys = append(keys, Passkey{UserID: userID, ID: id, RPID: c.s(aRPID), Record: c.bin(aRecord),
			CreatedAt: c.t(aCreatedAt), LastUsedAt: c.t(aLastUsedAt)})
	}
	slices.SortFunc(keys, func(a, b Passkey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return keys, nil
}

// AddPasskey adds a passkey to its user (one UpdateItem): ErrConflict when
// the user has one with that id already, or MaxPasskeys of them (max, when
// smaller).
func (s *Store) AddPasskey(ctx context.Context, p Passkey, max int) error {
	if err := validPasskey(p); err != nil {
		return fmt.Errorf("add passkey: %v", err)
	}
	u := s.addPasskey(p, min(max, MaxPasskeys))
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
		ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
	})
	if err != nil {
		return fmt.Errorf("add passkey of %s: %w", p.UserID, classify(err, false))
	}
	return nil
}

// UsePasskey records a sign-in with the passkey p (as GetPasskeys read it,
// with its updated record: sign count, flags) at now. The passkey's
// attribute is written whole (not a nested path, which kumo, the engine of
// make run, would take for an attribute name). ErrNotFound when the
// passkey was removed meanwhile: it is not brought back.
func (s *Store) UsePasskey(ctx context.Context, p Passkey, now time.Time) error {
	if err := validPasskey(p); err != nil {
		return fmt.Errorf("use passkey: %v", err)
	}
	e := newExpr()
	attr := e.n(passkeyAttrPrefix + p.ID)
	cred := map[string]types.AttributeValue{
		aRPID: str(p.RPID), aRecord: bin(p.Record), aCreatedAt: str(fmtTime(p.CreatedAt)), aLastUsedAt: str(fmtTime(now)),
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: s.tableName(), Key: passkeysKey(p.UserID),
		UpdateExpression:         aws.String("SET " + attr + " = " + e.v(&types.AttributeValueMemberM{Value: cred})),
		ConditionExpression:      aws.String("attribute_exists(" + attr + ")"),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	if err = classify(err, false); errors.Is(err, shared.ErrConflict) && !errors.Is(err, ErrTransactionConflict) {
		err = shared.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("use passkey of %s: %w", p.UserID, err)
	}
	return nil
}

// RemovePasskey removes one passkey of the user (ErrNotFound when it has
// none with that id).
func (s *Store) RemovePasskey(ctx context.Context, userID, id string) error {
	if userID == "" || tooLong(userID) || id == "" || len(id) > maxCredentialID {
		return fmt.Errorf("remove passkey: %w", shared.ErrNotFound)
	}
	e := newExpr()
	attr := e.n(passkeyAttrPrefix + id)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: s.tableName(), Key: passkeysKey(userID),
		UpdateExpression:         aws.String("REMOVE " + attr + " ADD " + e.n(aPasskeyCount) + " " + e.v(num(-1))),
		ConditionExpression:      aws.String("attribute_exists(" + attr + ")"),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	if err = classify(err, false); errors.Is(err, shared.ErrConflict) && !errors.Is(err, ErrTransactionConflict) {
		err = shared.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("remove passkey of %s: %w", userID, err)
	}
	return nil
}

// RemovePasskeys removes every passkey of the user and ends the user's
// sessions, in one transaction: the passkeys' item is deleted and the
// user's credentials_changed_at moves to now, so that every console
// session (and sign-in session, and pending code) issued before no longer
// speaks for the user (User.IssuedSince), as after a new password.
// ErrNotFound when there is no such user.
func (s *Store) RemovePasskeys(ctx context.Context, userID string, now time.Time) error {
	if userID == "" || tooLong(userID) {
		return fmt.Errorf("remove passkeys: %w", shared.ErrNotFound)
	}
	write := func() error {
		e := newExpr()
		del := types.TransactWriteItem{Delete: &types.Delete{TableName: s.tableName(), Key: passkeysKey(userID)}}
		user := types.TransactWriteItem{Update: &types.Update{
			TableName: s.tableName(), Key: key(userPrefix+userID, skUser),
			UpdateExpression:         aws.String("SET " + e.n(aCredsChangedAt) + " = " + e.v(str(fmtTime(now)))),
			ConditionExpression:      aws.String("attribute_exists(" + e.n(aPK) + ")"),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		}}
		if s.notx {
			// The user first: the end of the sessions is the security
			// effect; then the passkeys (notx.go).
			return s.decideThen(ctx, user, del)
		}
		return s.transact(ctx, []types.TransactWriteItem{del, user})
	}
	err := RetryInFlight(ctx, write(), write)
	if errors.Is(err, shared.ErrConflict) {
		err = shared.ErrNotFound // the user's condition failed: no such user
	}
	if err != nil {
		return fmt.Errorf("remove passkeys of %s: %w", userID, err)
	}
	return nil
}

// CreatePasskeyEnrollment stores an enrollment link (ErrConflict when its
// id exists); its TTL is its end.
func (s *Store) CreatePasskeyEnrollment(ctx context.Context, en PasskeyEnrollment) error {
	if en.ID == "" || en.UserID == "" || tooLong(en.ID, en.UserID) {
		return errors.New("create passkey enrollment: no valid id")
	}
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(enrollPrefix + en.ID), aSK: str(skEnroll), aUserID: str(en.UserID),
			aCreatedAt: str(fmtTime(en.CreatedAt)), aExpiresAt: str(fmtTime(en.ExpiresAt)), aTTL: ttl(en.ExpiresAt),
		},
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("create passkey enrollment %s: %w", shortID(en.ID), classify(err, false))
	}
	return nil
}

// GetPasskeyEnrollment reads an enrollment link by id; one used, or at or
// past its end, is ErrNotFound.
func (s *Store) GetPasskeyEnrollment(ctx context.Context, id string, now time.Time) (PasskeyEnrollment, error) {
	if id == "" || tooLong(id) {
		return PasskeyEnrollment{}, fmt.Errorf("get passkey enrollment: %w", shared.ErrNotFound)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(enrollPrefix+id, skEnroll), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return PasskeyEnrollment{}, fmt.Errorf("get passkey enrollment %s: %w", shortID(id), classify(err, false))
	}
	it := item(out.Item)
	en := PasskeyEnrollment{ID: id, UserID: it.s(aUserID), CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt)}
	if out.Item == nil || !now.Before(en.ExpiresAt) {
		return PasskeyEnrollment{}, fmt.Errorf("get passkey enrollment %s: %w", shortID(id), shared.ErrNotFound)
	}
	return en, nil
}

// EnrollPasskey registers p through the enrollment link enrollmentID, in
// one transaction: the link is deleted (condition: it exists, is p's
// user's and has not ended at now), the passkey added (condition: new, and
// fewer than max), and the user checked (condition: exists, an
// administrator, not disabled). Any failed condition is ErrConflict and
// writes nothing, so a link registers one passkey at most.
func (s *Store) EnrollPasskey(ctx context.Context, enrollmentID string, p Passkey, max int, now time.Time) error {
	if err := validPasskey(p); err != nil {
		return fmt.Errorf("enroll passkey: %v", err)
	}
	if enrollmentID == "" || tooLong(enrollmentID) {
		return fmt.Errorf("enroll passkey: %w", shared.ErrConflict)
	}
	write := func() error {
		de, ue := newExpr(), newExpr()
		spend := types.TransactWriteItem{Delete: &types.Delete{
			TableName: s.tableName(), Key: key(enrollPrefix+enrollmentID, skEnroll),
			ConditionExpression: aws.String("attribute_exists(" + de.n(aPK) + ") AND " + de.n(aUserID) + " = " + de.v(str(p.UserID)) +
				" AND " + de.n(aExpiresAt) + " > " + de.v(str(fmtTime(now)))),
			ExpressionAttributeNames: de.Names(), ExpressionAttributeValues: de.Values(),
		}}
		add := types.TransactWriteItem{Update: s.addPasskey(p, min(max, MaxPasskeys))}
		if s.notx {
			return s.enrollNoTx(ctx, p, spend, add)
		}
		return s.transact(ctx, []types.TransactWriteItem{spend, add,
			{ConditionCheck: &types.ConditionCheck{
				TableName: s.tableName(), Key: key(userPrefix+p.UserID, skUser),
				ConditionExpression: aws.String("attribute_exists(" + ue.n(aPK) + ") AND " + ue.n(aAdmin) + " = " + ue.v(boolean(true)) +
					" AND (attribute_not_exists(" + ue.n(aDisabled) + ") OR " + ue.n(aDisabled) + " = " + ue.v(boolean(false)) + ")"),
				ExpressionAttributeNames: ue.Names(), ExpressionAttributeValues: ue.Values(),
			}},
		})
	}
	if err := RetryInFlight(ctx, write(), write); err != nil {
		return fmt.Errorf("enroll passkey of %s: %w", p.UserID, err)
	}
	return nil
}

// PutPasskeyCeremony stores a ceremony, replacing any earlier one of the
// same id (a page opened again begins a new ceremony; the earlier
// challenge is then forgotten). Its TTL is its end.
func (s *Store) PutPasskeyCeremony(ctx context.Context, c PasskeyCeremony) error {
	if c.ID == "" || tooLong(c.ID) {
		return errors.New("put passkey ceremony: no valid id")
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(ceremonyPrefix + c.ID), aSK: str(skCeremony),
			aKind: str(c.Kind), aUserID: str(c.UserID), aCSRF: str(c.CSRF),
			aSession: bin(c.Session), aOptions: str(c.Options), aReturnTo: str(c.ReturnTo), aEnrollment: str(c.EnrollmentID),
			aCreatedAt: str(fmtTime(c.CreatedAt)), aExpiresAt: str(fmtTime(c.ExpiresAt)), aTTL: ttl(c.ExpiresAt),
		},
	})
	if err != nil {
		return fmt.Errorf("put passkey ceremony %s: %w", shortID(c.ID), classify(err, false))
	}
	return nil
}

func decodeCeremony(id string, it item) PasskeyCeremony {
	return PasskeyCeremony{
		ID: id, Kind: it.s(aKind), UserID: it.s(aUserID), CSRF: it.s(aCSRF),
		Session: it.bin(aSession), Options: it.s(aOptions), ReturnTo: it.s(aReturnTo), EnrollmentID: it.s(aEnrollment),
		CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt),
	}
}

// GetPasskeyCeremony reads a ceremony (for its page); one at or past its
// end is ErrNotFound.
func (s *Store) GetPasskeyCeremony(ctx context.Context, id string, now time.Time) (PasskeyCeremony, error) {
	if id == "" || tooLong(id) {
		return PasskeyCeremony{}, fmt.Errorf("get passkey ceremony: %w", shared.ErrNotFound)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(ceremonyPrefix+id, skCeremony), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("get passkey ceremony %s: %w", shortID(id), classify(err, false))
	}
	c := decodeCeremony(id, out.Item)
	if out.Item == nil || !now.Before(c.ExpiresAt) {
		return PasskeyCeremony{}, fmt.Errorf("get passkey ceremony %s: %w", shortID(id), shared.ErrNotFound)
	}
	return c, nil
}

// TakePasskeyCeremony ends a ceremony and returns it, in one conditional
// DeleteItem (condition: it exists, has not ended at now, and its CSRF
// token is csrf), so that each challenge is answered once at most: of two
// concurrent takes one gets it, the other ErrNotFound. A wrong csrf takes
// nothing (ErrNotFound) and leaves the ceremony to its browser.
func (s *Store) TakePasskeyCeremony(ctx context.Context, id, csrf string, now time.Time) (PasskeyCeremony, error) {
	if id == "" || tooLong(id) || csrf == "" || tooLong(csrf) {
		return PasskeyCeremony{}, fmt.Errorf("take passkey ceremony: %w", shared.ErrNotFound)
	}
	e := newExpr()
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: s.tableName(), Key: key(ceremonyPrefix+id, skCeremony),
		ConditionExpression: aws.String("attribute_exists(" + e.n(aPK) + ") AND " + e.n(aExpiresAt) + " > " + e.v(str(fmtTime(now))) +
			" AND " + e.n(aCSRF) + " = " + e.v(str(csrf))),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err = classify(err, false); errors.Is(err, shared.ErrConflict) && !errors.Is(err, ErrTransactionConflict) {
		err = shared.ErrNotFound
	}
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("take passkey ceremony %s: %w", shortID(id), err)
	}
	return decodeCeremony(id, out.Attributes), nil
}
