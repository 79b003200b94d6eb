package authorize

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// realStore seeds and inspects a real store (kumo or DynamoDB Local)
// through its public methods only. The handler gets the embedded Store,
// which refuses every write outside the authorize function's IAM write
// prefixes (table.WritePrefixes, as dynamodb:LeadingKeys would in AWS), so
// every scenario proves that policy is enough; seeding goes through raw.
type realStore struct {
	*store.Store
	raw *store.Store
	t   testing.TB
}

// newRealStore is a realStore on st.
func newRealStore(t testing.TB, st *store.Store) realStore {
	return realStore{t: t, raw: st, Store: st.WithDynamoDB(func(db store.DynamoDB) store.DynamoDB {
		return storetest.LeadingKeys(db, table.WritePrefixes["authorize"])
	})}
}

var _ seeder = realStore{}

func (r realStore) addLink(l store.Link) {
	r.t.Helper()
	secret := ""
	if l.ClientType != store.Public {
		secret = "secret-" + l.ClientID
	}
	_, _, err := r.raw.CreateLink(context.Background(), store.NewLink{
		ID: l.ID, ClientID: l.ClientID, Secret: secret, Name: l.Name, RedirectURIs: l.RedirectURIs,
		Scopes: l.Scopes, ClientType: l.ClientType, Enabled: l.Enabled, ResourceURIs: l.ResourceURIs,
	}, l.CreatedAt)
	if err != nil {
		r.t.Fatalf("seed link %s: %v", l.ClientID, err)
	}
}

func (r realStore) addUser(u store.User) {
	r.t.Helper()
	if err := r.raw.CreateUser(context.Background(), u); err != nil {
		r.t.Fatalf("seed user %s: %v", u.Username, err)
	}
}

// addGrant writes g the only way the store allows: by the user's
// approval (ApproveGrant) at g.CreatedAt, again at g.UpdatedAt when later,
// then RevokeGrant when g.Revoked.
func (r realStore) addGrant(g store.Grant) {
	r.t.Helper()
	ctx := context.Background()
	union := shared.DefaultCatalog().Union
	if _, err := r.raw.ApproveGrant(ctx, g, union, g.CreatedAt); err != nil {
		r.t.Fatalf("seed grant %s: %v", g.ID, err)
	}
	if g.UpdatedAt.After(g.CreatedAt) {
		if _, err := r.raw.ApproveGrant(ctx, g, union, g.UpdatedAt); err != nil {
			r.t.Fatalf("seed grant %s again: %v", g.ID, err)
		}
	}
	if g.Revoked {
		at := g.RevokedAt
		if at.IsZero() {
			at = g.UpdatedAt
		}
		if _, err := r.raw.RevokeGrant(ctx, g.UserID, g.ClientID, g.ID, at); err != nil {
			r.t.Fatalf("seed revoked grant %s: %v", g.ID, err)
		}
	}
}

func (r realStore) code(hash string) (store.Code, bool) {
	r.t.Helper()
	b, err := r.Fetch(context.Background(), store.Keys{CodeHash: hash})
	if err != nil {
		r.t.Fatalf("fetch code: %v", err)
	}
	if b.Code == nil {
		return store.Code{}, false
	}
	return *b.Code, true
}

func (r realStore) grant(userID, clientID string) store.Grant {
	r.t.Helper()
	g, err := r.GetGrant(context.Background(), userID, clientID)
	if err != nil && !errors.Is(err, shared.ErrNotFound) {
		r.t.Fatalf("get grant of %s for %s: %v", userID, clientID, err)
	}
	return g
}

// newKumoEnv is newEnv on a real store in kumo (fresh table and secret
// prefix).
func newKumoEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnvOn(t, newRealStore(t, storetest.Kumo(t)), opts...)
}

// storeScenarios are the tests that hold on any store.
var storeScenarios = []struct {
	name string
	run  func(*testing.T, mkEnv)
}{
	{"AuthorizeErrorPage", testAuthorizeErrorPage},
	{"AuthorizeRedirectErrors", testAuthorizeRedirectErrors},
	{"Approve", testApprove},
	{"ApproveOmittedRedirect", testApproveOmittedRedirect},
	{"Deny", testDeny},
	{"ConsentPost", testConsentPost},
	{"EarlierGrant", testEarlierGrant},
	{"PromptLogin", testPromptLogin},
	{"LoginFailures", testLoginFailures},
	{"LoginThrottle", testLoginThrottle},
	{"SpraySource", testSpraySource},
	{"SprayIPv6Prefix", testSprayIPv6Prefix},
	{"SprayViewerAddress", testSprayViewerAddress},
	{"SprayGlobal", testSprayGlobal},
	{"LoginCSRF", testLoginCSRF},
	{"AccountPage", testAccountPage},
	{"RevokeRefused", testRevokeRefused},
	{"Logout", testLogout},
	{"LoginUsernameCase", testLoginUsernameCase},
	{"LoginLookAlikeUsername", testLoginLookAlikeUsername},
	{"RememberedConsent", testRememberedConsent},
	{"Reauthorize", testReauthorize},
	{"RevokeThenReauthorize", testRevokeThenReauthorize},
}

// TestKumo runs the store scenarios against the real store on kumo.
func TestKumo(t *testing.T) {
	for _, s := range storeScenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, newKumoEnv) })
	}
}
