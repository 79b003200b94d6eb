package store_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/shared/store/table"
)

// queryPK is a strongly consistent Query of one partition of b's table.
func queryPK(b storetest.Backend, pk string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(b.Options.TableName),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	}
}

// TestEvents: events are listed per subject, newest first, paged with a
// cursor that only that subject's listing accepts; each has a TTL of 90
// days; one past 90 days is not listed even before the TTL reaps it; the
// same event recorded for a link and a user is in both.
func TestEvents(t *testing.T) {
	forEngines(t, func(t *testing.T, nb backendFunc) {
		b := nb(t)
		s := b.Store()
		at := now()
		link := store.EventSubject{Kind: store.EventLink, ID: uniq("link")}
		user := store.EventSubject{Kind: store.EventUser, ID: uniq("user")}
		stale := store.Event{Event: "link_updated", Actor: "alice", Via: "console", At: at.Add(-91 * 24 * time.Hour)}
		if err := s.RecordEvent(ctx(), store.EventWriterAdmin, []store.EventSubject{link}, stale, "stale"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			ev := store.Event{Event: fmt.Sprintf("event_%d", i), Actor: "alice", Via: "console",
				Details: map[string]string{"n": strconv.Itoa(i)}, At: at.Add(time.Duration(i) * time.Minute)}
			subjects := []store.EventSubject{link}
			if i == 3 {
				subjects = append(subjects, user)
			}
			if err := s.RecordEvent(ctx(), store.EventWriterAdmin, subjects, ev, uniq("ev")); err != nil {
				t.Fatalf("RecordEvent %d: %v", i, err)
			}
		}
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			evs, next, err := s.ListEvents(ctx(), store.EventWriterAdmin, link, 2, cursor, at.Add(10*time.Minute))
			if err != nil {
				t.Fatalf("ListEvents page %d: %v", page, err)
			}
			if len(evs) > 2 {
				t.Fatalf("page %d has %d events, want at most 2", page, len(evs))
			}
			for _, ev := range evs {
				got = append(got, ev.Event+"/"+ev.Details["n"]+"/"+ev.Actor+"/"+ev.Via)
			}
			if next == "" {
				break
			}
			if page > 5 {
				t.Fatal("too many pages")
			}
			cursor = next
			if _, _, err := s.ListEvents(ctx(), store.EventWriterAdmin, user, 2, next, at); !errors.Is(err, store.ErrInvalidCursor) {
				t.Errorf("a link's events cursor on a user's listing: %v, want ErrInvalidCursor", err)
			}
		}
		want := []string{"event_4/4/alice/console", "event_3/3/alice/console", "event_2/2/alice/console", "event_1/1/alice/console", "event_0/0/alice/console"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("link events = %v, want %v (newest first, not the one past 90 days)", got, want)
		}
		evs, next, err := s.ListEvents(ctx(), store.EventWriterAdmin, user, 10, "", at.Add(10*time.Minute))
		if err != nil || len(evs) != 1 || evs[0].Event != "event_3" || next != "" || !evs[0].At.Equal(at.Add(3*time.Minute)) {
			t.Errorf("user events = %+v, %q, %v; want event_3 alone", evs, next, err)
		}
		if _, _, err := s.ListEvents(ctx(), store.EventWriterAdmin, link, 2, "not-a-cursor", at); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("a garbled cursor: %v, want ErrInvalidCursor", err)
		}
		// Every event item carries the 90-day TTL.
		out, err := b.DynamoDB.Query(ctx(), queryPK(b, "EVENTS#admin#USER#"+user.ID))
		if err != nil || len(out.Items) != 1 {
			t.Fatalf("query the user's event items: %v, %d items", err, len(out.Items))
		}
		n, ok := out.Items[0][table.TTLAttribute].(*types.AttributeValueMemberN)
		if !ok {
			t.Fatalf("event item without TTL: %v", out.Items[0])
		}
		if exp, _ := strconv.ParseInt(n.Value, 10, 64); exp != at.Add(3*time.Minute+store.EventRetention).Unix() {
			t.Errorf("event TTL = %d, want %d (90 days after it)", exp, at.Add(3*time.Minute+store.EventRetention).Unix())
		}
	})
}
