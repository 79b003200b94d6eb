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
	"github.com/applinks/applinks/shared/store/table"
)

// ErrAdministrator is returned (wrapped) by UpdateUser with UnlessAdmin
// and by DeleteUserUnlessAdmin when the user is an administrator.
var ErrAdministrator = errors.New("the user is an administrator")

// notAdminCond is the condition "the item exists and is not an
// administrator's".
func notAdminCond(e *expr) string {
	return "attribute_exists(" + e.n(aPK) + ") AND (attribute_not_exists(" + e.n(aAdmin) + ") OR " +
		e.n(aAdmin) + " = " + e.v(boolean(false)) + ")"
}

// guardFailure names why a write conditioned on notAdminCond failed, by
// reading the user again: ErrNotFound when it is gone, ErrAdministrator
// when it is an administrator, else err (a change in between).
func (s *Store) guardFailure(ctx context.Context, id string, err error) error {
	u, gerr := s.GetUser(ctx, id)
	switch {
	case errors.Is(gerr, shared.ErrNotFound):
		return shared.ErrNotFound
	case gerr == nil && u.Admin:
		return ErrAdministrator
	}
	return err
}

func decodeUser(it item) User {
	return User{
		ID:            it.s(aID),
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
		Upstream:             decodeUpstream(it),
	}
}

// UsernameKey is the form of a username that uniqueness and sign-in
// compare: its ASCII letters lowered, every other byte as it is.
// Usernames are ASCII letters, digits and ". _ @ -" (shared.CheckUsername;
// the admin API and the sign-in refuse anything else), so lowering ASCII
// is the whole of case folding and no Unicode normalisation is needed.
// Nothing else is lowered: strings.ToLower would fold U+212A KELVIN SIGN
// into an ASCII k, so that a look-alike name would find the user "kim".
func UsernameKey(username string) string {
	b := []byte(username)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// CreateUser creates u (u.ID is a fresh random id chosen by the caller):
// one transaction writes the user and the pointer from its username key,
// both on condition that they are new, so two names that differ only by
// case cannot both exist (ErrConflict), and no id is used twice.
func (s *Store) CreateUser(ctx context.Context, u User) error {
	if u.ID == "" || tooLong(u.ID, u.Username) {
		return fmt.Errorf("create user %q: no valid id", u.Username)
	}
	ukey := UsernameKey(u.Username)
	userItem := map[string]types.AttributeValue{
		aPK: str(userPrefix + u.ID), aSK: str(skUser),
		aID: str(u.ID), aUsername: str(u.Username), aPasswordHash: str(u.PasswordHash),
		aPermissions: list(nonNil(u.Permissions)), aDisabled: boolean(u.Disabled),
		aAdmin: boolean(u.Admin), aName: str(u.Name), aEmail: str(u.Email), aEmailVerified: boolean(u.EmailVerified),
		aCreatedAt: str(fmtTime(u.CreatedAt)), aUpdatedAt: str(fmtTime(u.UpdatedAt)),
		aCredsChangedAt:         str(fmtTime(u.CreatedAt)),
		table.GSI2.PartitionKey: str(usersIndexPK), table.GSI2.SortKey: str(ukey + "#" + u.ID),
	}
	pointer := map[string]types.AttributeValue{
		aPK: str(usernamePrefix + ukey), aSK: str(skUsername), aUserID: str(u.ID),
	}
	// With an upstream identity, its pointer goes in the same transaction.
	extra, err := s.upstreamItems(u, userItem)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, err)
	}
	if s.notx {
		err = s.createUserNoTx(ctx, u, pointer, userItem)
	} else {
		err = s.transact(ctx, append([]types.TransactWriteItem{s.putNew(pointer), s.putNew(userItem)}, extra...))
	}
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, s.conflictCause(ctx, u.Upstream, err))
	}
	return nil
}

// GetUser reads a user by id (1 call, ErrNotFound).
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	if id == "" || tooLong(id) {
		return User{}, fmt.Errorf("get user: %w", shared.ErrNotFound)
	}
	if s.claimsPermissions {
		return s.getUserWithClaims(ctx, id)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(userPrefix+id, skUser), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", id, classify(err, false))
	}
	if out.Item == nil {
		return User{}, fmt.Errorf("get user %s: %w", id, shared.ErrNotFound)
	}
	return decodeUser(out.Item), nil
}

// UserID finds the id of the user whose username matches username
// regardless of case (1 call, ErrNotFound). A string outside the username
// alphabet (shared.CheckUsername) is ErrNotFound without a call.
func (s *Store) UserID(ctx context.Context, username string) (string, error) {
	if shared.CheckUsername(username) != nil {
		// Not a username: it names no user (and is not looked up).
		return "", fmt.Errorf("find user: %w", shared.ErrNotFound)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(usernamePrefix+UsernameKey(username), skUsername), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("find user %q: %w", username, classify(err, false))
	}
	if out.Item == nil || item(out.Item).s(aUserID) == "" {
		return "", fmt.Errorf("find user %q: %w", username, shared.ErrNotFound)
	}
	return item(out.Item).s(aUserID), nil
}

// GetUserByName reads the user whose username matches username regardless
// of case (2 calls: the pointer, then the user; ErrNotFound).
func (s *Store) GetUserByName(ctx context.Context, username string) (User, error) {
	id, err := s.UserID(ctx, username)
	if err != nil {
		return User{}, err
	}
	return s.GetUser(ctx, id)
}

// ListUsers lists users by username key (case-insensitive order), with a
// cursor as in ListLinks.
func (s *Store) ListUsers(ctx context.Context, limit int, cursor string) ([]User, string, error) {
	items, next, err := s.queryPage(ctx, gsiUsers, usersIndexPK, true, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	users := make([]User, len(items))
	for i, it := range items {
		users[i] = decodeUser(it)
	}
	return users, next, nil
}

// UpdateUser applies u to the user with id and returns the updated user
// (ErrNotFound; with u.UnlessAdmin, ErrAdministrator for an
// administrator). A new password or a disabling moves
// CredentialsChangedAt, which ends the user's browser sessions and refuses
// their pending codes; the caller revokes the user's grants too
// (RevokeUserGrants).
func (s *Store) UpdateUser(ctx context.Context, id string, u UserUpdate, now time.Time) (User, error) {
	if id == "" || tooLong(id) {
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
		if *u.Admin && CreatedBySignIn(id) {
			return User{}, fmt.Errorf("update user %s: %w", id, ErrSignInUserAdmin)
		}
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
	cond := "attribute_exists(" + e.n(aPK) + ")"
	if u.UnlessAdmin {
		cond = notAdminCond(e)
	}
	out, err := s.updateItem(ctx, key(userPrefix+id, skUser), up.String(), cond, e)
	if err != nil {
		err = classify(err, false)
		if u.UnlessAdmin && errors.Is(err, shared.ErrConflict) {
			err = s.guardFailure(ctx, id, err)
		}
		return User{}, fmt.Errorf("update user %s: %w", id, notFoundOnConflict(err))
	}
	return decodeUser(out.Attributes), nil
}

// DeleteUser deletes the user with id (ErrNotFound) and every grant of
// theirs. The user and the username pointer go in one transaction (so the
// name is free again at once, and a new user of that name gets a new id);
// then the grants partition is emptied with a strongly consistent query.
// No grant can be written after the user is gone (ApproveGrant checks the
// user in its transaction), so none is missed; a failure part-way leaves
// grants that no token can use (their user does not exist), and they are
// revoked first so listings do not show them. Then the user's sign-in
// failures are forgotten.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) error {
	return s.deleteUser(ctx, id, false, now)
}

// DeleteUserUnlessAdmin is DeleteUser for a user who is not an
// administrator: ErrAdministrator for one, checked when the user is read
// and again in the deletion's transaction, so a user made an
// administrator in between is not deleted (the grants revoked before the
// transaction stay revoked).
func (s *Store) DeleteUserUnlessAdmin(ctx context.Context, id string, now time.Time) error {
	return s.deleteUser(ctx, id, true, now)
}

func (s *Store) deleteUser(ctx context.Context, id string, unlessAdmin bool, now time.Time) error {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if unlessAdmin && u.Admin {
		return fmt.Errorf("delete user %s: %w", id, ErrAdministrator)
	}
	if err := s.RevokeUserGrants(ctx, id, "user_deleted", now); err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	e := newExpr()
	cond := "attribute_exists(" + e.n(aPK) + ")"
	if unlessAdmin {
		cond = notAdminCond(e)
	}
	ep := newExpr()
	// The user's upstream identity pointer and claims permissions go with
	// it (upstreamDeletes).
	items := append([]types.TransactWriteItem{
		{Delete: &types.Delete{TableName: s.tableName(), Key: key(userPrefix+id, skUser),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}},
		{Delete: &types.Delete{TableName: s.tableName(), Key: key(usernamePrefix+UsernameKey(u.Username), skUsername),
			ConditionExpression:       aws.String(ep.n(aUserID) + " = " + ep.v(str(id))),
			ExpressionAttributeNames:  ep.Names(),
			ExpressionAttributeValues: ep.Values()}},
	}, s.upstreamDeletes(u)...)
	if s.notx {
		// The user first, which decides; then its pointers, which name
		// nobody once it is gone (notx.go).
		err = s.decideThen(ctx, items[0], items[1:]...)
	} else {
		err = s.transact(ctx, items)
	}
	if err != nil {
		if unlessAdmin && errors.Is(err, shared.ErrConflict) {
			err = s.guardFailure(ctx, id, err)
		}
		return fmt.Errorf("delete user %s: %w", id, notFoundOnConflict(err))
	}
	// A grant approved between the revocation above and the deletion: the
	// partition is read again, strongly consistent, after the user is gone.
	if err := s.RevokeUserGrants(ctx, id, "user_deleted", now); err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	// Forget the user's sign-in failures too (best effort: they expire).
	_ = s.ClearLoginFailures(ctx, u.Username)
	return nil
}
