package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

func decodeUser(it item) User {
	return User{
		Username:      it.s(aUsername),
		PasswordHash:  it.s(aPasswordHash),
		Permissions:   it.l(aPermissions),
		Disabled:      it.b(aDisabled),
		Admin:         it.b(aAdmin),
		Name:          it.s(aName),
		Email:         it.s(aEmail),
		EmailVerified: it.b(aEmailVerified),
		CreatedAt:     it.t(aCreatedAt),
		UpdatedAt:     it.t(aUpdatedAt),

		CredentialsChangedAt: it.t(aCredsChangedAt),
	}
}

// CreateUser creates a user (ErrConflict when the username is taken).
func (s *Store) CreateUser(ctx context.Context, u User) error {
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(userPrefix + u.Username), aSK: str(skUser),
			aUsername: str(u.Username), aPasswordHash: str(u.PasswordHash),
			aPermissions: list(nonNil(u.Permissions)), aDisabled: boolean(u.Disabled),
			aAdmin: boolean(u.Admin), aName: str(u.Name), aEmail: str(u.Email), aEmailVerified: boolean(u.EmailVerified),
			aCreatedAt: str(fmtTime(u.CreatedAt)), aUpdatedAt: str(fmtTime(u.UpdatedAt)),
			aCredsChangedAt: str(fmtTime(u.CreatedAt)),
		},
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, classify(err, false))
	}
	return nil
}

// GetUser reads a user (1 call, ErrNotFound).
func (s *Store) GetUser(ctx context.Context, username string) (User, error) {
	if tooLong(username) {
		return User{}, fmt.Errorf("get user: %w", shared.ErrNotFound)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(userPrefix+username, skUser), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", username, classify(err, false))
	}
	if out.Item == nil {
		return User{}, fmt.Errorf("get user %q: %w", username, shared.ErrNotFound)
	}
	return decodeUser(out.Item), nil
}

// UpdateUser applies u and returns the updated user (ErrNotFound).
func (s *Store) UpdateUser(ctx context.Context, username string, u UserUpdate, now time.Time) (User, error) {
	if tooLong(username) {
		return User{}, fmt.Errorf("update user: %w", shared.ErrNotFound)
	}
	e := newExpr()
	up := update{e: e}
	if u.PasswordHash != nil {
		up.Set(aPasswordHash, str(*u.PasswordHash))
	}
	if u.Permissions != nil {
		up.Set(aPermissions, list(nonNil(*u.Permissions)))
	}
	if u.Disabled != nil {
		up.Set(aDisabled, boolean(*u.Disabled))
	}
	if u.Admin != nil {
		up.Set(aAdmin, boolean(*u.Admin))
	}
	if u.Name != nil {
		up.Set(aName, str(*u.Name))
	}
	if u.Email != nil {
		up.Set(aEmail, str(*u.Email))
	}
	if u.EmailVerified != nil {
		up.Set(aEmailVerified, boolean(*u.EmailVerified))
	}
	if u.PasswordHash != nil || (u.Disabled != nil && *u.Disabled) {
		// Ends every browser session begun before (see User).
		up.Set(aCredsChangedAt, str(fmtTime(now)))
	}
	up.Set(aUpdatedAt, str(fmtTime(now)))
	out, err := s.updateItem(ctx, key(userPrefix+username, skUser), up.String(), "attribute_exists("+e.n(aPK)+")", e)
	if err != nil {
		return User{}, fmt.Errorf("update user %q: %w", username, notFoundOnConflict(classify(err, false)))
	}
	return decodeUser(out.Attributes), nil
}

// DeleteUser deletes a user and revokes every grant of theirs (ErrNotFound).
// The grants are revoked first, so a failure part-way leaves the user in
// place and a retry finishes the job.
func (s *Store) DeleteUser(ctx context.Context, username string, now time.Time) error {
	if tooLong(username) {
		return fmt.Errorf("delete user: %w", shared.ErrNotFound)
	}
	if _, err := s.GetUser(ctx, username); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if err := s.revokeAll(ctx, gsiUserGrants, userGrantsPrefix+username, "user_deleted", now); err != nil {
		return fmt.Errorf("delete user %q: revoke grants: %w", username, err)
	}
	e := newExpr()
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: s.tableName(), Key: key(userPrefix+username, skUser),
		ConditionExpression:      aws.String("attribute_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, notFoundOnConflict(classify(err, false)))
	}
	// Forget the user's sign-in failures too (best effort: they expire).
	_ = s.ClearLoginFailures(ctx, username)
	return nil
}

// ReserveLoginAttempt counts one sign-in attempt for username (known or
// not) before its password is checked, and reports whether it may go on:
// false when max attempts have been counted in the current window, which
// starts at the first attempt and lasts window. A failed attempt stays
// counted; a successful one clears the count (ClearLoginFailures).
// Reserving before checking bounds the passwords checked per window even
// when guesses arrive in parallel: each one must win a slot first.
//
// One conditional UpdateItem adds 1 while there is no record, or the
// window is open and the count below max (if_not_exists sets the window's
// end and TTL on the first attempt). When its condition fails, a
// consistent read tells a full window (refused) from a passed one, which a
// conditional put restarts at 1; losing that race to a concurrent attempt
// tries again.
func (s *Store) ReserveLoginAttempt(ctx context.Context, username string, max int, window time.Duration, now time.Time) (bool, error) {
	k := key(throttlePrefix+username, skThrottle)
	end := now.Add(window)
	for range 3 {
		e := newExpr()
		upd := "SET " + e.n(aWindowEnd) + " = if_not_exists(" + e.n(aWindowEnd) + ", " + e.v(str(fmtTime(end))) + "), " +
			e.n(aTTL) + " = if_not_exists(" + e.n(aTTL) + ", " + e.v(ttl(end)) + ") ADD " +
			e.n(aCount) + " " + e.v(num(1))
		cond := "attribute_not_exists(" + e.n(aPK) + ") OR (" + e.n(aWindowEnd) + " > " + e.v(str(fmtTime(now))) +
			" AND " + e.n(aCount) + " < " + e.v(num(int64(max))) + ")"
		_, err := s.updateItem(ctx, k, upd, cond, e)
		if err == nil {
			return true, nil
		}
		if err = classify(err, false); !errors.Is(err, shared.ErrConflict) {
			return false, fmt.Errorf("reserve login attempt %q: %w", username, err)
		}
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.tableName(), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return false, fmt.Errorf("reserve login attempt %q: %w", username, classify(err, false))
		}
		it := item(out.Item)
		if out.Item != nil && now.Before(it.t(aWindowEnd)) {
			if it.n(aCount) >= int64(max) {
				return false, nil
			}
			continue // cleared or restarted meanwhile: try again
		}
		// The window has passed: start a new one, unless a concurrent
		// attempt just did.
		e = newExpr()
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: s.tableName(),
			Item: map[string]types.AttributeValue{
				aPK: str(throttlePrefix + username), aSK: str(skThrottle),
				aCount: num(1), aWindowEnd: str(fmtTime(end)), aTTL: ttl(end),
			},
			ConditionExpression: aws.String("attribute_not_exists(" + e.n(aPK) + ") OR " +
				e.n(aWindowEnd) + " <= " + e.v(str(fmtTime(now)))),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		})
		if err == nil {
			return true, nil
		}
		if err = classify(err, false); !errors.Is(err, shared.ErrConflict) {
			return false, fmt.Errorf("reserve login attempt %q: %w", username, err)
		}
	}
	return false, fmt.Errorf("reserve login attempt %q: too much contention: %w", username, shared.ErrUnavailable)
}

// ClearLoginFailures forgets the failures of username.
func (s *Store) ClearLoginFailures(ctx context.Context, username string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: s.tableName(), Key: key(throttlePrefix+username, skThrottle),
	})
	if err != nil {
		return fmt.Errorf("clear login failures %q: %w", username, classify(err, false))
	}
	return nil
}
