package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
)

// The crash tests of the store without transactions (notx.go): for each
// commit point, a failure just before it leaves nothing readers see, and
// one just after it leaves a state readers handle (rolled forward, or a
// pointer that counts for nobody) and that a retry, or the next writer,
// finishes. Every backend here refuses transactions (the test fails on
// one).

// rawS reads the string attribute a of an item read with rawItem.
func rawS(it map[string]types.AttributeValue, a string) string {
	if v, ok := it[a].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// stamp is the store's time format.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// putRefresh writes a refresh token of g directly (status, successor).
func putRefresh(t *testing.T, b storetest.Backend, g store.Grant, hash, status, successor string, at time.Time) {
	t.Helper()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	it := map[string]types.AttributeValue{
		"pk": s("RT#" + hash), "sk": s("RT"), "grant_id": s(g.ID), "client_id": s(g.ClientID), "user_id": s(g.UserID),
		"scope": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("REPO_READ")}}, "status": s(status),
		"auth_time": s(stamp(at)), "protocol_scopes": &types.AttributeValueMemberL{},
		"created_at": s(stamp(at)), "expires_at": s(stamp(at.Add(24 * time.Hour))),
	}
	if successor != "" {
		it["successor"], it["rotated_at"] = s(successor), s(stamp(at))
	}
	if _, err := b.DynamoDB.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String(b.Options.TableName), Item: it}); err != nil {
		t.Fatal(err)
	}
}

// fetchRefresh reads a refresh token as the token endpoint does.
func fetchRefresh(t *testing.T, s *store.Store, hash string) *store.RefreshToken {
	t.Helper()
	bundle, err := s.Fetch(ctx(), store.Keys{RefreshHash: hash})
	if err != nil {
		t.Fatalf("Fetch(refresh %s): %v", hash, err)
	}
	return bundle.Refresh
}

// updates fails the first UpdateItem on pk whose values hold value (any
// when "").
func updates(pk, value string) func(*dynamodb.UpdateItemInput) error {
	return once(func(in *dynamodb.UpdateItemInput) bool {
		return keyPK(in.Key) == pk && (value == "" || hasValue(in.ExpressionAttributeValues, value))
	})
}

// TestNoTxRedeemDeviceCrash: the device authorization is the commit point
// of RedeemDevice. A failure at it leaves the pending token invisible and
// a retry redeems; a crash after it (the token still pending) is rolled
// forward by the first Fetch of the token, and the device stays redeemed.
func TestNoTxRedeemDeviceCrash(t *testing.T) {
	t.Parallel()
	b := storetest.DynamoLocalNoTxBackend(t)
	s := b.Store()
	at := now()
	g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
	redeem := func(db *faultyDB) (store.Device, store.RefreshToken, error) {
		d := newDevice(t, s, "client", at, 10*time.Minute)
		if _, err := s.DecideDevice(ctx(), d.UserCodeHash, store.DeviceDecision{Approve: true, UserID: g.UserID, GrantID: g.ID}, at); err != nil {
			t.Fatal(err)
		}
		rt := newRefresh(g, at)
		return d, rt, store.New(db, b.SecretsManager, b.Options).RedeemDevice(ctx(), d.UserCodeHash, time.Time{}, &rt, at.Add(time.Second))
	}

	// At the commit point.
	db := &faultyDB{DynamoDB: b.DynamoDB}
	db.update = func(in *dynamodb.UpdateItemInput) error {
		if strings.HasPrefix(keyPK(in.Key), "DEVICE#") && hasValue(in.ExpressionAttributeValues, store.DeviceRedeemed) {
			return errInjected
		}
		return nil
	}
	d, rt, err := redeem(db)
	if !errors.Is(err, errInjected) {
		t.Fatalf("RedeemDevice failing at its commit point = %v, want the injected error", err)
	}
	if got := fetchRefresh(t, s, rt.Hash); got != nil {
		t.Errorf("the token of a failed redemption = %+v, want none", got)
	}
	retry := newRefresh(g, at)
	if err := s.RedeemDevice(ctx(), d.UserCodeHash, time.Time{}, &retry, at.Add(2*time.Second)); err != nil {
		t.Fatalf("retried RedeemDevice: %v", err)
	}
	if got := fetchRefresh(t, s, retry.Hash); got == nil || got.Status != store.RefreshActive {
		t.Errorf("the retry's token = %+v, want active", got)
	}

	// After the commit point: the token's activation is lost.
	db = &faultyDB{DynamoDB: b.DynamoDB}
	d, rt, _ = func() (store.Device, store.RefreshToken, error) {
		db.update = func(in *dynamodb.UpdateItemInput) error {
			if strings.HasPrefix(keyPK(in.Key), "RT#") {
				return errInjected
			}
			return nil
		}
		return redeem(db)
	}()
	if got := rawS(rawItem(t, b, "RT#"+rt.Hash, "RT"), "status"); got != store.RefreshPending {
		t.Fatalf("the token after a crash past the commit point is %q, want pending (the set-up is wrong)", got)
	}
	if got := fetchRefresh(t, s, rt.Hash); got == nil || got.Status != store.RefreshActive {
		t.Errorf("Fetch of a token whose commit point names it = %+v, want it active", got)
	}
	if got := rawS(rawItem(t, b, "RT#"+rt.Hash, "RT"), "status"); got != store.RefreshActive {
		t.Errorf("the token after Fetch is %q, want rolled forward to active", got)
	}
	again := newRefresh(g, at)
	if err := s.RedeemDevice(ctx(), d.UserCodeHash, time.Time{}, &again, at.Add(3*time.Second)); !errors.Is(err, shared.ErrConflict) {
		t.Errorf("a second redemption = %v, want ErrConflict", err)
	}
}

// TestNoTxReplaceSuccessorCrash: the current successor turning replaced
// is the commit point of ReplaceSuccessor. A failure at it leaves the new
// token invisible and the successor active, and a retry replaces; a crash
// after it (old's successor not moved, the new token pending) is rolled
// forward by the first Fetch of the new token; a grant revoked before the
// decision is ErrConflict.
func TestNoTxReplaceSuccessorCrash(t *testing.T) {
	t.Parallel()
	b := storetest.DynamoLocalNoTxBackend(t)
	s := b.Store()
	at := now()
	g := approved(t, s, seedUser(t, s, "alice", at), "client", at)
	family := func() (old, succ store.RefreshToken) {
		old, succ = newRefresh(g, at), newRefresh(g, at)
		putRefresh(t, b, g, old.Hash, store.RefreshRotated, succ.Hash, at)
		putRefresh(t, b, g, succ.Hash, store.RefreshActive, "", at)
		old.Status, old.Successor = store.RefreshRotated, succ.Hash
		return old, succ
	}

	old, succ := family()
	next := newRefresh(g, at)
	db := &faultyDB{DynamoDB: b.DynamoDB, update: updates("RT#"+succ.Hash, store.RefreshReplaced)}
	if err := store.New(db, b.SecretsManager, b.Options).ReplaceSuccessor(ctx(), old, next, at); !errors.Is(err, errInjected) {
		t.Fatalf("ReplaceSuccessor failing at its commit point = %v, want the injected error", err)
	}
	if got := fetchRefresh(t, s, next.Hash); got != nil {
		t.Errorf("the token of a failed replacement = %+v, want none", got)
	}
	if got := fetchRefresh(t, s, succ.Hash); got == nil || got.Status != store.RefreshActive {
		t.Errorf("the successor after a failed replacement = %+v, want active", got)
	}
	if err := s.ReplaceSuccessor(ctx(), old, next, at); err != nil {
		t.Fatalf("retried ReplaceSuccessor: %v", err)
	}
	if got := rawS(rawItem(t, b, "RT#"+old.Hash, "RT"), "successor"); got != next.Hash {
		t.Errorf("old's successor after the retry = %q, want the new token", got)
	}

	old, succ = family()
	next = newRefresh(g, at)
	db = &faultyDB{DynamoDB: b.DynamoDB, update: updates("RT#"+old.Hash, "")}
	if err := store.New(db, b.SecretsManager, b.Options).ReplaceSuccessor(ctx(), old, next, at); !errors.Is(err, errInjected) {
		t.Fatalf("ReplaceSuccessor crashing after its commit point = %v, want the injected error", err)
	}
	if got := rawS(rawItem(t, b, "RT#"+next.Hash, "RT"), "status"); got != store.RefreshPending {
		t.Fatalf("the new token after the crash is %q, want pending (the set-up is wrong)", got)
	}
	if got := fetchRefresh(t, s, succ.Hash); got == nil || got.Status != store.RefreshReplaced {
		t.Errorf("the successor after the commit point = %+v, want replaced", got)
	}
	if got := fetchRefresh(t, s, next.Hash); got == nil || got.Status != store.RefreshActive {
		t.Errorf("Fetch of the new token = %+v, want it rolled forward, active", got)
	}
	if got := rawS(rawItem(t, b, "RT#"+old.Hash, "RT"), "successor"); got != next.Hash {
		t.Errorf("old's successor after the roll-forward = %q, want the new token", got)
	}

	old, _ = family()
	if _, err := s.RevokeGrant(ctx(), g.UserID, g.ClientID, g.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceSuccessor(ctx(), old, newRefresh(g, at), at); !errors.Is(err, shared.ErrConflict) {
		t.Errorf("ReplaceSuccessor on a revoked grant = %v, want ErrConflict", err)
	}
}

// TestNoTxApproveGrantUserDeleted: without the transaction's check of the
// user, an approval whose user is deleted between its grant write and its
// read of the user revokes the grant it wrote and answers ErrNotFound.
func TestNoTxApproveGrantUserDeleted(t *testing.T) {
	t.Parallel()
	b := storetest.DynamoLocalNoTxBackend(t)
	s := b.Store()
	at := now()
	u := seedUser(t, s, "alice", at)
	wrote := false
	db := &faultyDB{DynamoDB: b.DynamoDB,
		get: func(in *dynamodb.GetItemInput) error {
			if wrote && keyPK(in.Key) == "USER#"+u.ID {
				wrote = false
				if _, err := b.DynamoDB.DeleteItem(ctx(), &dynamodb.DeleteItemInput{TableName: aws.String(b.Options.TableName), Key: in.Key}); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		},
		put: func(in *dynamodb.PutItemInput) error {
			if strings.HasPrefix(keyPK(in.Item), "GRANTS#") {
				wrote = true
			}
			return nil
		},
	}
	_, err := store.New(db, b.SecretsManager, b.Options).ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: u.ID,
		Username: u.Username, ClientID: "client", Scope: []string{"REPO_READ"}}, unionOf, at)
	if !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("ApproveGrant of a user deleted meanwhile = %v, want ErrNotFound", err)
	}
	if g, err := s.GetGrant(ctx(), u.ID, "client"); err != nil || !g.Revoked {
		t.Errorf("the grant written for a deleted user = %+v, %v, want revoked", g, err)
	}
}

// TestNoTxCreateLinkCrash: the idempotency record is the last of a link's
// creation items. A crash before it (the clean-up lost too) leaves a
// pending link, invisible, and a retry with the same key creates the link.
func TestNoTxCreateLinkCrash(t *testing.T) {
	t.Parallel()
	b := storetest.DynamoLocalNoTxBackend(t)
	s := b.Store()
	at := now()
	key := uniq("key")
	in := newLink(key)
	db := &faultyDB{DynamoDB: b.DynamoDB,
		put: func(in *dynamodb.PutItemInput) error {
			if strings.HasPrefix(keyPK(in.Item), "IDEM#") {
				return errInjected
			}
			return nil
		},
		del: func(*dynamodb.DeleteItemInput) error { return errInjected }, // the crash: no clean-up
	}
	if _, _, err := store.New(db, b.SecretsManager, b.Options).CreateLink(ctx(), in, at); !errors.Is(err, errInjected) {
		t.Fatalf("CreateLink crashing before its record = %v, want the injected error", err)
	}
	if rawItem(t, b, "LINK#"+in.ClientID, "LINK") == nil {
		t.Fatal("no pending link: the set-up is wrong")
	}
	if _, err := s.GetLink(ctx(), in.ID); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("GetLink of the crashed creation = %v, want ErrNotFound", err)
	}
	retry := newLink(key)
	l, secret, err := s.CreateLink(ctx(), retry, at)
	if err != nil {
		t.Fatalf("retried CreateLink: %v", err)
	}
	if got, err := s.GetLink(ctx(), l.ID); err != nil || !got.VerifySecret(secret, at) {
		t.Errorf("the retried link = %+v, %v, want it active with its secret", got, err)
	}
	if again, _, err := s.CreateLink(ctx(), newLink(key), at); err != nil || again.ID != l.ID {
		t.Errorf("a third creation with the key = %s, %v, want the retry's link %s", again.ID, err, l.ID)
	}
}

// TestNoTxOrphanPointers: a crash between a pointer and its target (a
// resource URI claimed by a link whose activation was lost, a username
// whose user was never written) leaves a pointer that readers do not
// follow; another writer takes it over once it is older than a creation
// in flight can be, and not before.
func TestNoTxOrphanPointers(t *testing.T) {
	t.Parallel()
	b := storetest.DynamoLocalNoTxBackend(t)
	s := b.Store()
	at := now()
	later := at.Add(6 * time.Minute)
	crashed := func() *faultyDB {
		return &faultyDB{DynamoDB: b.DynamoDB,
			update: func(in *dynamodb.UpdateItemInput) error {
				if strings.HasPrefix(keyPK(in.Key), "LINK#") {
					return errInjected // the activation, and the clean-up
				}
				return nil
			},
			put: func(in *dynamodb.PutItemInput) error {
				if strings.HasPrefix(keyPK(in.Item), "USER#") {
					return errInjected
				}
				return nil
			},
			del: func(in *dynamodb.DeleteItemInput) error {
				if pk := keyPK(in.Key); strings.HasPrefix(pk, "RESOURCE#") || strings.HasPrefix(pk, "USERNAME#") {
					return errInjected // the pointers' release
				}
				return nil
			},
		}
	}

	uri := "https://api.example/" + uniq("r")
	if _, _, err := store.New(crashed(), b.SecretsManager, b.Options).CreateLink(ctx(), newResourceServer(uri), at); !errors.Is(err, errInjected) {
		t.Fatalf("CreateLink crashing at its activation = %v, want the injected error", err)
	}
	if countItems(t, b, "RESOURCE#") != 1 {
		t.Fatal("no orphan resource pointer: the set-up is wrong")
	}
	if owner := ownerOf(t, s, uri); owner != "" {
		if bundle, err := s.Fetch(ctx(), store.Keys{ResourceClientID: owner}); err != nil || bundle.ResourceLink.ServesResource(uri) {
			t.Errorf("the orphan pointer's link serves %q: %+v, %v", uri, bundle.ResourceLink, err)
		}
	}
	if _, _, err := s.CreateLink(ctx(), newResourceServer(uri), at); !errors.Is(err, shared.ErrConflict) {
		t.Errorf("a creation with the URI just after the crash = %v, want it refused (a creation may be in flight)", err)
	}
	next := newResourceServer(uri)
	if _, _, err := s.CreateLink(ctx(), next, later); err != nil {
		t.Fatalf("a creation with the URI of an old orphan pointer: %v", err)
	}
	if owner := ownerOf(t, s, uri); owner != next.ClientID {
		t.Errorf("the URI's owner = %q, want the new link %q", owner, next.ClientID)
	}

	name := uniq("bob")
	u := store.User{ID: uniq("uid"), Username: name, CreatedAt: at, UpdatedAt: at}
	if err := store.New(crashed(), b.SecretsManager, b.Options).CreateUser(ctx(), u); !errors.Is(err, errInjected) {
		t.Fatalf("CreateUser crashing at its user = %v, want the injected error", err)
	}
	if _, err := s.GetUserByName(ctx(), name); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("GetUserByName of a user never written = %v, want ErrNotFound", err)
	}
	u2 := store.User{ID: uniq("uid"), Username: name, CreatedAt: at, UpdatedAt: at}
	if err := s.CreateUser(ctx(), u2); !errors.Is(err, shared.ErrConflict) {
		t.Errorf("a creation with the name just after the crash = %v, want ErrConflict", err)
	}
	u2.CreatedAt, u2.UpdatedAt = later, later
	if err := s.CreateUser(ctx(), u2); err != nil {
		t.Fatalf("a creation with the name of an old orphan pointer: %v", err)
	}
	if got, err := s.GetUserByName(ctx(), name); err != nil || got.ID != u2.ID {
		t.Errorf("GetUserByName = %+v, %v, want the new user", got, err)
	}
}

// TestNoTxIdleMeetsConsent: the idle clean-up and a consent meet on
// CONSENTED#<client id>. A consent arriving once the clean-up set closing
// there is refused, and the link is deleted; a clean-up that finds the
// link used since its cut-off opens it again, and a consent then lands.
func TestNoTxIdleMeetsConsent(t *testing.T) {
	t.Parallel()
	b := storetest.DynamoLocalNoTxBackend(t)
	s := b.Store()
	at := now()
	old := at.Add(-40 * 24 * time.Hour)
	idle := store.IdleCheck{UnusedSince: at.Add(-30 * 24 * time.Hour), LiveSince: at.Add(-90 * 24 * time.Hour)}
	u := store.User{ID: uniq("uid"), Username: uniq("alice"), CreatedAt: old, UpdatedAt: old}
	if err := s.CreateUser(ctx(), u); err != nil {
		t.Fatal(err)
	}
	dynamic := func() store.Link {
		in := newLink("")
		in.Origin = shared.OriginDynamic
		l, _, err := s.CreateLink(ctx(), in, old)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	consent := func(l store.Link) error {
		_, err := s.ApproveGrant(ctx(), store.Grant{ID: uniq("grant"), UserID: u.ID, Username: u.Username, ClientID: l.ClientID,
			Scope: []string{"REPO_READ"}, DynamicLink: true}, unionOf, at)
		return err
	}

	// The consent comes between the clean-up's closing and its read of
	// the last use.
	l := dynamic()
	var consentErr error
	raced := false
	db := &faultyDB{DynamoDB: b.DynamoDB, get: func(in *dynamodb.GetItemInput) error {
		if !raced && strings.HasPrefix(keyPK(in.Key), "LASTUSE#") {
			raced = true
			consentErr = consent(l)
		}
		return nil
	}}
	ok, err := store.New(db, b.SecretsManager, b.Options).DeleteIdleLink(ctx(), l.ClientID, idle, at)
	if err != nil || !ok || !raced {
		t.Fatalf("DeleteIdleLink = %v, %v (raced %v), want the link deleted", ok, err, raced)
	}
	if !errors.Is(consentErr, shared.ErrNotFound) {
		t.Errorf("a consent while the clean-up closes the link = %v, want ErrNotFound", consentErr)
	}
	if g, err := s.GetGrant(ctx(), u.ID, l.ClientID); err == nil && !g.Revoked {
		t.Errorf("a grant of the deleted link is active: %+v", g)
	}

	// Used since the cut-off: the clean-up closes, finds the use, opens.
	l = dynamic()
	db = &faultyDB{DynamoDB: b.DynamoDB, get: once(func(in *dynamodb.GetItemInput) bool {
		if strings.HasPrefix(keyPK(in.Key), "LASTUSE#") {
			if _, _, err := s.TouchLastUse(ctx(), store.LastUseRef{ClientID: l.ClientID}, at); err != nil {
				t.Fatal(err)
			}
		}
		return false
	})}
	if ok, err := store.New(db, b.SecretsManager, b.Options).DeleteIdleLink(ctx(), l.ClientID, idle, at); ok || err != nil {
		t.Fatalf("DeleteIdleLink of a link used meanwhile = %v, %v, want it kept", ok, err)
	}
	if err := consent(l); err != nil {
		t.Errorf("a consent after the clean-up kept the link = %v, want it to land", err)
	}
}

// TestNoTxPasskeys: EnrollPasskey's commit point is the enrollment link's
// deletion; a user demoted between it and the final read of the user
// loses the passkey again (ErrConflict). RemovePasskeys ends the user's
// sessions first: a crash before the passkeys' deletion leaves them, and a
// retry removes them.
func TestNoTxPasskeys(t *testing.T) {
	t.Parallel()
	b := storetest.DynamoLocalNoTxBackend(t)
	s := b.Store()
	at := now()
	uid := passkeyUser(t, s, true)
	en := store.PasskeyEnrollment{ID: uniq("enroll"), UserID: uid, CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute)}
	if err := s.CreatePasskeyEnrollment(ctx(), en); err != nil {
		t.Fatal(err)
	}
	no := false
	added := false
	db := &faultyDB{DynamoDB: b.DynamoDB,
		update: func(in *dynamodb.UpdateItemInput) error {
			if strings.HasPrefix(keyPK(in.Key), "PASSKEY#") {
				added = true
			}
			return nil
		},
		get: func(in *dynamodb.GetItemInput) error {
			if added && keyPK(in.Key) == "USER#"+uid {
				added = false
				if _, err := s.UpdateUser(ctx(), uid, store.UserUpdate{Admin: &no}, at); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		},
	}
	if err := store.New(db, b.SecretsManager, b.Options).EnrollPasskey(ctx(), en.ID, newPasskey(uid, "k1", at), store.MaxPasskeys, at); !errors.Is(err, shared.ErrConflict) {
		t.Errorf("EnrollPasskey of a user demoted meanwhile = %v, want ErrConflict", err)
	}
	if got, err := s.GetPasskeys(ctx(), uid); err != nil || len(got) != 0 {
		t.Errorf("passkeys of a user demoted during the enrollment = %d, %v, want none", len(got), err)
	}

	owner := passkeyUser(t, s, true)
	if err := s.AddPasskey(ctx(), newPasskey(owner, "k2", at), store.MaxPasskeys); err != nil {
		t.Fatal(err)
	}
	db = &faultyDB{DynamoDB: b.DynamoDB, del: once(func(in *dynamodb.DeleteItemInput) bool {
		return strings.HasPrefix(keyPK(in.Key), "PASSKEY#")
	})}
	later := at.Add(time.Minute)
	if err := store.New(db, b.SecretsManager, b.Options).RemovePasskeys(ctx(), owner, later); !errors.Is(err, errInjected) {
		t.Fatalf("RemovePasskeys crashing after its commit point = %v, want the injected error", err)
	}
	if u, err := s.GetUser(ctx(), owner); err != nil || !u.CredentialsChangedAt.Equal(later) {
		t.Errorf("the user after the crash = %+v, %v, want the sessions ended at %v", u, err, later)
	}
	if err := s.RemovePasskeys(ctx(), owner, later); err != nil {
		t.Fatalf("retried RemovePasskeys: %v", err)
	}
	if got, err := s.GetPasskeys(ctx(), owner); err != nil || len(got) != 0 {
		t.Errorf("passkeys after the retry = %d, %v, want none", len(got), err)
	}
}
