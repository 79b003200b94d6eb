package store_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

// TestTouchLastUseHourly: 20 uses of one link at once write its last use
// once (the condition is the check), and every caller learns the stored
// time; a use within the hour writes nothing, one an hour later writes;
// the item has a TTL; a grant's record of an earlier grant id is replaced
// at once and not read back for the new grant.
func TestTouchLastUseHourly(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		for _, ref := range []store.LastUseRef{{ClientID: uniq("client")}, {ClientID: uniq("client"), UserID: uniq("user"), GrantID: "g1"}} {
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				writes  int
				results []time.Time
			)
			start := make(chan struct{})
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					got, wrote, err := s.TouchLastUse(ctx(), ref, at)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("TouchLastUse(%+v): %v", ref, err)
						return
					}
					if wrote {
						writes++
					}
					results = append(results, got)
				}()
			}
			close(start)
			wg.Wait()
			if writes != 1 {
				t.Errorf("%+v: 20 concurrent uses wrote %d times, want 1", ref, writes)
			}
			for _, got := range results {
				if !got.Equal(at) {
					t.Errorf("%+v: a concurrent use saw last use %v, want %v", ref, got, at)
				}
			}
			pk, sk := "LASTUSE#"+ref.ClientID, "LINK"
			if ref.UserID != "" {
				sk = "GRANT#" + ref.UserID
			}
			raw := rawItem(t, b, pk, sk)
			n, ok := raw[table.TTLAttribute].(*types.AttributeValueMemberN)
			if !ok {
				t.Fatalf("%+v: the last-use item has no TTL: %v", ref, raw)
			}
			if exp, _ := strconv.ParseInt(n.Value, 10, 64); exp <= at.Add(90*24*time.Hour).Unix() {
				t.Errorf("%+v: TTL %d, want past 90 days from the use (the console marks links unused for 90 days)", ref, exp)
			}
			if _, wrote, err := s.TouchLastUse(ctx(), ref, at.Add(59*time.Minute)); err != nil || wrote {
				t.Errorf("%+v: a use 59 minutes later: wrote %v (err %v), want no write", ref, wrote, err)
			}
			later := at.Add(61 * time.Minute)
			if _, wrote, err := s.TouchLastUse(ctx(), ref, later); err != nil || !wrote {
				t.Errorf("%+v: a use 61 minutes later: wrote %v (err %v), want a write", ref, wrote, err)
			}
			got, err := s.LastUses(ctx(), []store.LastUseRef{ref})
			if err != nil || !got[ref].Equal(later) {
				t.Errorf("LastUses(%+v) = %v (err %v), want %v", ref, got[ref], err, later)
			}
		}

		// A new grant (the earlier one revoked) of the same user and link:
		// its first use writes at once, and the earlier grant's use is not
		// reported for it.
		client, user := uniq("client"), uniq("user")
		old := store.LastUseRef{ClientID: client, UserID: user, GrantID: "old"}
		if _, wrote, err := s.TouchLastUse(ctx(), old, at); err != nil || !wrote {
			t.Fatalf("TouchLastUse(old grant): wrote %v, %v", wrote, err)
		}
		fresh := store.LastUseRef{ClientID: client, UserID: user, GrantID: "new"}
		never := store.LastUseRef{ClientID: client, UserID: uniq("user"), GrantID: "x"}
		got, err := s.LastUses(ctx(), []store.LastUseRef{fresh, never})
		if err != nil || len(got) != 0 {
			t.Errorf("LastUses(new grant, unused grant) = %v (err %v), want nothing", got, err)
		}
		if _, wrote, err := s.TouchLastUse(ctx(), fresh, at.Add(time.Minute)); err != nil || !wrote {
			t.Errorf("TouchLastUse(new grant) within the hour of the old one's: wrote %v (err %v), want a write", wrote, err)
		}
	})
}

// TestLastUsesMany: more refs than one BatchGetItem takes are read in
// batches.
func TestLastUsesMany(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store()
		at := now()
		var refs []store.LastUseRef
		for i := range 130 {
			r := store.LastUseRef{ClientID: uniq("client")}
			refs = append(refs, r)
			if i%2 == 0 {
				if _, _, err := s.TouchLastUse(ctx(), r, at); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := s.LastUses(ctx(), refs)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 65 {
			t.Errorf("LastUses of 130 links, 65 used: got %d, want 65", len(got))
		}
		for i, r := range refs {
			if _, ok := got[r]; ok != (i%2 == 0) {
				t.Errorf("link %d: used %v in the result, want %v", i, ok, i%2 == 0)
			}
		}
	})
}

// TestTokenWritesLastUseOnly: under the token function's write policy
// (table.WritePrefixes["token"]) the last use is written, and an event
// under the admin function's prefix is refused: the token function can
// neither write a link item nor forge the admin function's activity.
func TestTokenWritesLastUseOnly(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		s := nb(t).Store().WithDynamoDB(func(db store.DynamoDB) store.DynamoDB {
			return storetest.LeadingKeys(db, table.WritePrefixes["token"])
		})
		at := now()
		if _, wrote, err := s.TouchLastUse(ctx(), store.LastUseRef{ClientID: uniq("client")}, at); err != nil || !wrote {
			t.Errorf("TouchLastUse under the token policy: wrote %v, %v; want a write", wrote, err)
		}
		err := s.RecordEvent(ctx(), store.EventWriterAdmin, []store.EventSubject{{Kind: store.EventLink, ID: "l1"}},
			store.Event{Event: "credentials_viewed", Actor: "mallory", Via: "console", At: at}, "x")
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
			t.Errorf("RecordEvent(admin) under the token policy: %v, want AccessDeniedException", err)
		}
	})
}
