package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

// limitedTo is s under the write policy of function fn (storetest.LeadingKeys).
func limitedTo(s *store.Store, fn string) *store.Store {
	return s.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB { return storetest.LeadingKeys(db, table.WritePrefixes[fn]) })
}

func idpSecretExists(t *testing.T, b storetest.Backend, id string) bool {
	t.Helper()
	_, err := b.SecretsManager.GetSecretValue(ctx(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(b.Options.SecretPrefix + "/identity-providers/" + id),
	})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case err == nil:
		return true
	case errors.As(err, &nf):
		return false
	default:
		t.Fatalf("GetSecretValue %s: %v", id, err)
		return false
	}
}

func newIDP(issuer string) store.IdentityProvider {
	at := now()
	return store.IdentityProvider{
		ID: uniq("idp"), Name: "Okta", Issuer: issuer, ClientID: "client-1",
		Scopes: []string{"openid", "profile", "email"}, UsernameClaim: "preferred_username",
		EmailDomains: []string{"example.com"}, CreateUsers: true, PermissionsClaim: "groups",
		PermissionMap: map[string][]string{"devs": {"REPO_WRITE"}}, Enabled: true, CreatedAt: at, UpdatedAt: at,
	}
}

// TestIdentityProviders: a provider and its secret are created together,
// read back, listed, updated (the secret in Secrets Manager) and deleted
// with the secret; a second provider with the same issuer is
// ErrIssuerTaken and leaves no secret behind. Only the admin function's
// policy may write them.
func TestIdentityProviders(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		p := newIDP("https://" + uniq("issuer") + ".example")
		if err := s.CreateIdentityProvider(ctx(), p, "upstream-secret-1"); err != nil {
			t.Fatalf("CreateIdentityProvider: %v", err)
		}
		got, err := s.GetIdentityProvider(ctx(), p.ID)
		if err != nil || got.Issuer != p.Issuer || got.Name != "Okta" || !slices.Equal(got.Scopes, p.Scopes) ||
			!got.CreateUsers || got.PermissionMap["devs"][0] != "REPO_WRITE" || !got.Enabled || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("GetIdentityProvider = %+v, %v; want %+v", got, err, p)
		}
		if sec, err := s.GetIdentityProviderSecret(ctx(), p.ID); err != nil || sec != "upstream-secret-1" {
			t.Errorf("GetIdentityProviderSecret = %q, %v", sec, err)
		}
		dup := newIDP(p.Issuer)
		if err := s.CreateIdentityProvider(ctx(), dup, "x"); !errors.Is(err, store.ErrIssuerTaken) || !errors.Is(err, shared.ErrConflict) {
			t.Errorf("a second provider with the issuer: got %v, want ErrIssuerTaken", err)
		}
		if idpSecretExists(t, b, dup.ID) {
			t.Errorf("the refused provider's secret is left behind")
		}
		other := newIDP("https://" + uniq("issuer") + ".example")
		if err := s.CreateIdentityProvider(ctx(), other, "upstream-secret-2"); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListIdentityProviders(ctx())
		if err != nil || len(list) != 2 {
			t.Fatalf("ListIdentityProviders = %d providers, %v; want 2", len(list), err)
		}
		name, sec, off := "Okta EU", "upstream-secret-3", false
		pm := map[string][]string{}
		got, err = s.UpdateIdentityProvider(ctx(), p.ID, store.IdentityProviderUpdate{Name: &name, ClientSecret: &sec, Enabled: &off, PermissionMap: &pm}, now().Add(time.Minute))
		if err != nil || got.Name != name || got.Enabled || len(got.PermissionMap) != 0 || got.Issuer != p.Issuer {
			t.Fatalf("UpdateIdentityProvider = %+v, %v", got, err)
		}
		if s2, err := s.GetIdentityProviderSecret(ctx(), p.ID); err != nil || s2 != sec {
			t.Errorf("secret after the update = %q, %v; want %q", s2, err, sec)
		}
		if _, err := s.UpdateIdentityProvider(ctx(), "nope", store.IdentityProviderUpdate{Name: &name}, now()); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("UpdateIdentityProvider of an unknown id: got %v, want ErrNotFound", err)
		}
		for _, fn := range []string{"authorize", "token"} {
			limited := limitedTo(s, fn)
			if err := limited.CreateIdentityProvider(ctx(), newIDP("https://"+uniq("issuer")+".example"), "x"); err == nil {
				t.Errorf("CreateIdentityProvider under the %s function's write policy succeeded", fn)
			}
			if _, err := limited.UpdateIdentityProvider(ctx(), p.ID, store.IdentityProviderUpdate{Enabled: &off}, now()); err == nil {
				t.Errorf("UpdateIdentityProvider under the %s function's write policy succeeded", fn)
			}
		}
		if err := s.DeleteIdentityProvider(ctx(), p.ID); err != nil {
			t.Fatalf("DeleteIdentityProvider: %v", err)
		}
		if _, err := s.GetIdentityProvider(ctx(), p.ID); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("GetIdentityProvider after delete: got %v, want ErrNotFound", err)
		}
		if idpSecretExists(t, b, p.ID) {
			t.Errorf("the deleted provider's secret remains")
		}
		// The issuer is free again.
		again := newIDP(p.Issuer)
		if err := s.CreateIdentityProvider(ctx(), again, "x"); err != nil {
			t.Errorf("a provider for the issuer of a deleted one: %v", err)
		}
	})
}

// TestUpstreamLinks: a user created with an upstream identity is found by
// it; one identity links at most one user (ErrUpstreamLinked); linking
// again, replacing and unlinking move the pointer and end the user's
// sessions; a pointer the user does not name back links nobody; deleting
// the user frees the identity.
func TestUpstreamLinks(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		iss := "https://" + uniq("issuer") + ".example"
		idA := &store.UpstreamIdentity{ProviderID: "p1", Issuer: iss, Subject: "sub-a"}
		u := store.User{ID: uniq("uid"), Username: uniq("ada"), PasswordHash: "h", CreatedAt: at, UpdatedAt: at, Upstream: idA}
		if err := s.CreateUser(ctx(), u); err != nil {
			t.Fatalf("CreateUser with upstream: %v", err)
		}
		got, err := s.UpstreamUser(ctx(), iss, "sub-a")
		if err != nil || got.ID != u.ID || got.Upstream == nil || *got.Upstream != *idA {
			t.Fatalf("UpstreamUser = %+v, %v", got, err)
		}
		if _, err := s.UpstreamUser(ctx(), iss, "sub-unknown"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("UpstreamUser of an unlinked identity: got %v, want ErrNotFound", err)
		}
		v := store.User{ID: uniq("uid"), Username: uniq("bob"), CreatedAt: at, UpdatedAt: at, Upstream: idA}
		if err := s.CreateUser(ctx(), v); !errors.Is(err, store.ErrUpstreamLinked) {
			t.Errorf("CreateUser with a linked identity: got %v, want ErrUpstreamLinked", err)
		}
		v.Upstream = nil
		if err := s.CreateUser(ctx(), v); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if _, err := s.SetUpstream(ctx(), v.ID, idA, at); !errors.Is(err, store.ErrUpstreamLinked) {
			t.Errorf("SetUpstream to a linked identity: got %v, want ErrUpstreamLinked", err)
		}
		// Replace ada's identity: the old one is free, the new one finds her,
		// and her sessions end (CredentialsChangedAt moves).
		idB := &store.UpstreamIdentity{ProviderID: "p1", Issuer: iss, Subject: "sub-b"}
		t1 := at.Add(time.Minute)
		got, err = s.SetUpstream(ctx(), u.ID, idB, t1)
		if err != nil || got.Upstream == nil || got.Upstream.Subject != "sub-b" || !got.CredentialsChangedAt.Equal(t1) {
			t.Fatalf("SetUpstream = %+v, %v", got, err)
		}
		if _, err := s.UpstreamUser(ctx(), iss, "sub-a"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("the replaced identity still finds a user: %v", err)
		}
		if got, err := s.UpstreamUser(ctx(), iss, "sub-b"); err != nil || got.ID != u.ID {
			t.Errorf("UpstreamUser of the new identity = %+v, %v", got, err)
		}
		if _, err := s.SetUpstream(ctx(), v.ID, idA, t1); err != nil {
			t.Errorf("SetUpstream of the freed identity to another user: %v", err)
		}
		// Unlink.
		got, err = s.SetUpstream(ctx(), u.ID, nil, t1.Add(time.Minute))
		if err != nil || got.Upstream != nil {
			t.Fatalf("SetUpstream(nil) = %+v, %v", got, err)
		}
		if _, err := s.UpstreamUser(ctx(), iss, "sub-b"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("an unlinked identity still finds a user: %v", err)
		}
		if n := countItems(t, b, "UPSTREAM#"+store.UpstreamKey(iss, "sub-b")); n != 0 {
			t.Errorf("unlinking left %d pointers", n)
		}
		// Deleting bob frees sub-a.
		if err := s.DeleteUser(ctx(), v.ID, t1); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if n := countItems(t, b, "UPSTREAM#"+store.UpstreamKey(iss, "sub-a")); n != 0 {
			t.Errorf("deleting the user left its identity's pointer")
		}
		if _, err := s.SetUpstream(ctx(), u.ID, idA, t1); err != nil {
			t.Errorf("SetUpstream of an identity whose user was deleted: %v", err)
		}
	})
}

// TestSignInUsers: under the authorize function's write policy, an
// upstream sign-in creates a user (id u.…, no password, no administrator
// flag), refused when the username is taken in any case or the identity
// is linked meanwhile; that policy cannot change a user the admin
// function created, and no one can make a sign-in user an administrator.
// A pointer naming an administrator links nobody unless the
// administrator names it back.
func TestSignInUsers(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		authz := limitedTo(s, "authorize")
		at := now()
		iss := "https://" + uniq("issuer") + ".example"
		name := uniq("Grace")
		u := store.User{ID: store.SignInUserPrefix + uniq("x"), Username: name, Name: "Grace Hopper", Email: "grace@example.com",
			EmailVerified: true, Permissions: []string{}, CreatedAt: at, UpdatedAt: at,
			Upstream: &store.UpstreamIdentity{ProviderID: "p1", Issuer: iss, Subject: "sub-g"}}
		if err := authz.CreateSignInUser(ctx(), u); err != nil {
			t.Fatalf("CreateSignInUser under the authorize policy: %v", err)
		}
		got, err := authz.UpstreamUser(ctx(), iss, "sub-g")
		if err != nil || got.ID != u.ID || got.Admin || got.PasswordHash != "" || got.Name != "Grace Hopper" {
			t.Fatalf("UpstreamUser = %+v, %v", got, err)
		}
		raw := rawItem(t, b, "USER#"+u.ID, "USER")
		for _, a := range []string{"password_hash", "admin"} {
			if _, ok := raw[a]; ok {
				t.Errorf("a sign-in user's item has %s", a)
			}
		}
		again := u
		again.ID = store.SignInUserPrefix + uniq("x")
		if err := authz.CreateSignInUser(ctx(), again); !errors.Is(err, store.ErrUpstreamLinked) {
			t.Errorf("a second creation for the identity: got %v, want ErrUpstreamLinked", err)
		}
		clash := again
		clash.Username = upper(name)
		clash.Upstream = &store.UpstreamIdentity{ProviderID: "p1", Issuer: iss, Subject: "sub-other"}
		if err := authz.CreateSignInUser(ctx(), clash); !errors.Is(err, shared.ErrConflict) || errors.Is(err, store.ErrUpstreamLinked) {
			t.Errorf("a username taken in another case: got %v, want ErrConflict", err)
		}
		for _, bad := range []store.User{
			{ID: uniq("plain"), Username: uniq("a"), Upstream: clash.Upstream},
			{ID: store.SignInUserPrefix + uniq("x"), Username: uniq("a"), PasswordHash: "h", Upstream: clash.Upstream},
			{ID: store.SignInUserPrefix + uniq("x"), Username: uniq("a"), Admin: true, Upstream: clash.Upstream},
		} {
			if err := s.CreateSignInUser(ctx(), bad); err == nil {
				t.Errorf("CreateSignInUser(%+v) succeeded", bad)
			}
		}
		yes := true
		if _, err := s.UpdateUser(ctx(), u.ID, store.UserUpdate{Admin: &yes}, at); !errors.Is(err, store.ErrSignInUserAdmin) {
			t.Errorf("making a sign-in user an administrator: got %v, want ErrSignInUserAdmin", err)
		}
		if got.IsAdministrator() {
			t.Errorf("a sign-in user is an administrator")
		}
		forged := got
		forged.Admin = true
		if forged.IsAdministrator() {
			t.Errorf("a sign-in user's item with admin true makes an administrator")
		}

		// An administrator the admin function created.
		adm := store.User{ID: uniq("uid"), Username: uniq("root"), PasswordHash: "h", Admin: true, CreatedAt: at, UpdatedAt: at}
		if err := s.CreateUser(ctx(), adm); err != nil {
			t.Fatal(err)
		}
		pw := "forged"
		if _, err := authz.UpdateUser(ctx(), adm.ID, store.UserUpdate{PasswordHash: &pw}, at); err == nil {
			t.Errorf("the authorize policy changed a user the admin function created")
		}
		if err := authz.CreateUser(ctx(), store.User{ID: uniq("uid"), Username: uniq("evil"), Admin: true, CreatedAt: at}); err == nil {
			t.Errorf("the authorize policy created a user outside u.")
		}
		if _, err := authz.SetUpstream(ctx(), adm.ID, &store.UpstreamIdentity{ProviderID: "p1", Issuer: iss, Subject: "attacker"}, at); err == nil {
			t.Errorf("the authorize policy linked an identity to an administrator")
		}
		// Even a pointer to the administrator (the policy allows UPSTREAM#
		// writes) links nobody: the administrator's item does not name it.
		if err := authz.CreateSignInUser(ctx(), store.User{ID: store.SignInUserPrefix + uniq("x"), Username: uniq("decoy"), CreatedAt: at,
			Upstream: &store.UpstreamIdentity{ProviderID: "p1", Issuer: iss, Subject: "attacker"}}); err != nil {
			t.Fatal(err)
		}
		overwritePointer(t, b, store.UpstreamKey(iss, "attacker"), adm.ID)
		if got, err := s.UpstreamUser(ctx(), iss, "attacker"); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("a pointer to an administrator who does not name it: got %+v, %v; want ErrNotFound", got, err)
		}
	})
}

// overwritePointer writes the pointer of an upstream identity as anyone
// allowed UPSTREAM# writes could: naming userID.
func overwritePointer(t *testing.T, b storetest.Backend, upstreamKey, userID string) {
	t.Helper()
	_, err := b.DynamoDB.PutItem(ctx(), &dynamodb.PutItemInput{TableName: aws.String(b.Options.TableName), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "UPSTREAM#" + upstreamKey}, "sk": &types.AttributeValueMemberS{Value: "UPSTREAM"},
		"user_id": &types.AttributeValueMemberS{Value: userID},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// upper is s in ASCII upper case.
func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestClaimsPermissions: with PERMISSION_SOURCE=claims a user's
// permissions are the ones kept from their latest upstream sign-in (none
// before one), in GetUser, GetUserByName and Fetch alike; with stored,
// the claims are ignored. The authorize function may keep them.
func TestClaimsPermissions(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		stored := b.Store()
		claims := stored.WithPermissionSource(config.PermissionsClaims)
		at := now()
		u := store.User{ID: uniq("uid"), Username: uniq("lin"), Permissions: []string{"REPO_ADMIN"}, CreatedAt: at, UpdatedAt: at}
		if err := stored.CreateUser(ctx(), u); err != nil {
			t.Fatal(err)
		}
		if got, err := claims.GetUser(ctx(), u.ID); err != nil || len(got.Permissions) != 0 {
			t.Errorf("claims mode before any sign-in: %v, %v; want none", got.Permissions, err)
		}
		if err := limitedTo(stored, "authorize").SetClaimsPermissions(ctx(), u.ID, "p1", []string{"REPO_READ"}, at); err != nil {
			t.Fatalf("SetClaimsPermissions under the authorize policy: %v", err)
		}
		for name, get := range map[string]func(*store.Store) ([]string, error){
			"GetUser": func(s *store.Store) ([]string, error) { u, err := s.GetUser(ctx(), u.ID); return u.Permissions, err },
			"GetUserByName": func(s *store.Store) ([]string, error) {
				u, err := s.GetUserByName(ctx(), u.Username)
				return u.Permissions, err
			},
			"Fetch": func(s *store.Store) ([]string, error) {
				bu, err := s.Fetch(ctx(), store.Keys{UserID: u.ID, GrantClientID: "c"})
				if bu.User == nil {
					return nil, err
				}
				return bu.User.Permissions, err
			},
		} {
			if got, err := get(claims); err != nil || !slices.Equal(got, []string{"REPO_READ"}) {
				t.Errorf("%s in claims mode = %v, %v; want [REPO_READ]", name, got, err)
			}
			if got, err := get(stored); err != nil || !slices.Equal(got, []string{"REPO_ADMIN"}) {
				t.Errorf("%s in stored mode = %v, %v; want [REPO_ADMIN]", name, got, err)
			}
		}
		if _, err := claims.GetUser(ctx(), uniq("nobody")); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("claims mode GetUser of nobody: got %v, want ErrNotFound", err)
		}
		if err := limitedTo(stored, "token").SetClaimsPermissions(ctx(), u.ID, "p1", []string{"SYSTEM_ADMIN"}, at); err == nil {
			t.Errorf("the token function's policy wrote claims permissions")
		}
	})
}

// TestUpstreamFlows: a flow is taken once; a second take, an unknown one
// and an expired one are ErrNotFound; console flows are apart and out of
// the authorize function's reach.
func TestUpstreamFlows(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		authz := limitedTo(s, "authorize")
		at := now()
		f := store.UpstreamFlow{ID: uniq("state"), ProviderID: "p1", Browser: "b1", Nonce: "n1", Verifier: "v1",
			ReturnTo: "/oauth2/authorize?x=1", PromptLogin: true, MaxAge: 300, Purpose: "signin", CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
		if err := authz.CreateUpstreamFlow(ctx(), f, false); err != nil {
			t.Fatalf("CreateUpstreamFlow under the authorize policy: %v", err)
		}
		if _, err := s.TakeUpstreamFlow(ctx(), f.ID, true, at); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("an authorize flow taken as a console flow: got %v, want ErrNotFound", err)
		}
		got, err := authz.TakeUpstreamFlow(ctx(), f.ID, false, at.Add(time.Minute))
		if err != nil || got != f {
			t.Fatalf("TakeUpstreamFlow = %+v, %v; want %+v", got, err, f)
		}
		if _, err := authz.TakeUpstreamFlow(ctx(), f.ID, false, at.Add(time.Minute)); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("second TakeUpstreamFlow: got %v, want ErrNotFound", err)
		}
		old := f
		old.ID = uniq("state")
		if err := s.CreateUpstreamFlow(ctx(), old, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TakeUpstreamFlow(ctx(), old.ID, false, old.ExpiresAt); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("an expired flow: got %v, want ErrNotFound", err)
		}
		c := f
		c.ID, c.Purpose, c.UserID, c.Session = uniq("state"), "confirm", "uid-1", "sess-hash"
		if err := authz.CreateUpstreamFlow(ctx(), c, true); err == nil {
			t.Errorf("the authorize policy created a console flow")
		}
		if err := s.CreateUpstreamFlow(ctx(), c, true); err != nil {
			t.Fatal(err)
		}
		if _, err := authz.TakeUpstreamFlow(ctx(), c.ID, true, at); err == nil {
			t.Errorf("the authorize policy took a console flow")
		}
		if got, err := s.TakeUpstreamFlow(ctx(), c.ID, true, at); err != nil || got != c {
			t.Errorf("console TakeUpstreamFlow = %+v, %v", got, err)
		}
	})
}

// TestIdentityProviderSecretProtection: with IDP_SECRET_PRINCIPALS the
// provider's client secret carries the resource policy that leaves it to
// them from its creation; without, none.
func TestIdentityProviderSecretProtection(t *testing.T) {
	t.Parallel()
	for name, nb := range secretEngines() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := nb(t)
			principals := []string{adminRole, "arn:aws:iam::111111111111:role/authorize", operatorRole}
			st, err := b.Store().WithSecretProtection(store.SecretProtection{IdentityProviderPrincipals: principals})
			if err != nil {
				t.Fatal(err)
			}
			p := newIDP("https://" + uniq("issuer") + ".example")
			if err := st.CreateIdentityProvider(ctx(), p, "s"); err != nil {
				t.Fatalf("CreateIdentityProvider: %v", err)
			}
			want, _ := store.SecretPolicy(principals)
			if got := policyOf(t, b, b.Options.SecretPrefix+"/identity-providers/"+p.ID); got != want {
				t.Errorf("policy:\n got %s\nwant %s", got, want)
			}
			q := newIDP("https://" + uniq("issuer") + ".example")
			if err := b.Store().CreateIdentityProvider(ctx(), q, "s"); err != nil {
				t.Fatal(err)
			}
			if got := policyOf(t, b, b.Options.SecretPrefix+"/identity-providers/"+q.ID); got != "" {
				t.Errorf("without principals: got policy %s", got)
			}
		})
	}
}
