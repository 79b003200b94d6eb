package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Activity: the audit events of a link or a user, kept in the table for
// EventRetention besides the log line (which is what a SIEM reads). Each
// item's partition names the function that wrote it and what it is about,
// EVENTS#<writer>#LINK#<link id> or EVENTS#<writer>#USER#<user id>, so that
// a function can write only under its own writer (its IAM write prefixes)
// and none can forge another's events. The sort key is the time and a
// random suffix, so a partition reads newest first.
const (
	eventsPrefix = "EVENTS#"
	aEvent       = "event"
	aActor       = "actor"
	aVia         = "via"
	aDetails     = "details"
	aWriter      = "writer"

	// EventWriterAdmin is the admin function's writer.
	EventWriterAdmin = "admin"
)

// EventRetention is how long an event stays in the table (its TTL).
const EventRetention = 90 * 24 * time.Hour

// Event subjects.
const (
	EventLink = "LINK"
	EventUser = "USER"
	// EventPolicy is a policy of the administrator's, by name
	// ("client-registration": the policy for self-registered links).
	EventPolicy = "POLICY"
)

// Event is one recorded audit event.
type Event struct {
	// Event is the audit line's event name (link_created,
	// credentials_viewed, grant_revoked, ...).
	Event string
	// Actor is the principal that made it (the administrator's username
	// from the console, the IAM principal or "admin-token" from the API);
	// Via is "console" or "api".
	Actor string
	Via   string
	// Details are the audit line's other attributes, as text.
	Details map[string]string
	// Writer is the function that recorded it.
	Writer string
	At     time.Time
}

// EventSubject is what an event is about: a link (Kind EventLink, ID the
// link id), a user (EventUser, the user id) or a policy (EventPolicy, its
// name).
type EventSubject struct {
	Kind string
	ID   string
}

func eventPK(writer string, sub EventSubject) string {
	return eventsPrefix + writer + "#" + sub.Kind + "#" + sub.ID
}

func validSubject(sub EventSubject) bool {
	return (sub.Kind == EventLink || sub.Kind == EventUser || sub.Kind == EventPolicy) && sub.ID != "" && !tooLong(sub.ID)
}

// RecordEvent writes ev under writer for each subject: one PutItem each,
// with a TTL of EventRetention. suffix makes the sort key unique (a random
// id).
func (s *Store) RecordEvent(ctx context.Context, writer string, subjects []EventSubject, ev Event, suffix string) error {
	if writer == "" || suffix == "" {
		return errors.New("record event: writer and suffix are required")
	}
	details := map[string]types.AttributeValue{}
	for k, v := range ev.Details {
		details[k] = str(v)
	}
	for _, sub := range subjects {
		if !validSubject(sub) {
			return fmt.Errorf("record event %s: invalid subject %q", ev.Event, sub.Kind)
		}
		it := map[string]types.AttributeValue{
			aPK: str(eventPK(writer, sub)), aSK: str(fmtTime(ev.At) + "#" + suffix),
			aEvent: str(ev.Event), aActor: str(ev.Actor), aVia: str(ev.Via), aWriter: str(writer),
			aDetails: &types.AttributeValueMemberM{Value: details}, aCreatedAt: str(fmtTime(ev.At)),
			aTTL: ttl(ev.At.Add(EventRetention)),
		}
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.tableName(), Item: it}); err != nil {
			return fmt.Errorf("record event %s: %w", ev.Event, classify(err, false))
		}
	}
	return nil
}

type eventCursor struct {
	PK string `json:"pk"`
	SK string `json:"sk"`
}

// ListEvents lists the events writer recorded about sub, newest first;
// cursor is "" for the first page and next is "" after the last; limit is
// 1..100. Events past EventRetention are not listed even before DynamoDB's
// TTL removes them.
func (s *Store) ListEvents(ctx context.Context, writer string, sub EventSubject, limit int, cursor string, now time.Time) ([]Event, string, error) {
	if !validSubject(sub) {
		return nil, "", nil
	}
	limit = clampLimit(limit)
	pk := eventPK(writer, sub)
	e := newExpr()
	in := &dynamodb.QueryInput{
		TableName: s.tableName(),
		KeyConditionExpression: aws.String(e.n(aPK) + " = " + e.v(str(pk)) + " AND " +
			e.n(aSK) + " > " + e.v(str(fmtTime(now.Add(-EventRetention))))),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if cursor != "" {
		var c eventCursor
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || json.Unmarshal(b, &c) != nil || c.PK != pk || c.SK == "" {
			return nil, "", ErrInvalidCursor
		}
		in.ExclusiveStartKey = key(c.PK, c.SK)
	}
	var items []item
	for len(items) <= limit {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("list events: %w", classify(err, false))
		}
		for _, it := range out.Items {
			items = append(items, it)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		b, _ := json.Marshal(eventCursor{PK: pk, SK: items[limit-1].s(aSK)})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	evs := make([]Event, 0, len(items))
	for _, it := range items {
		evs = append(evs, decodeEvent(it))
	}
	return evs, next, nil
}

func decodeEvent(it item) Event {
	ev := Event{Event: it.s(aEvent), Actor: it.s(aActor), Via: it.s(aVia), Writer: it.s(aWriter),
		At: it.t(aCreatedAt), Details: map[string]string{}}
	if m, ok := it[aDetails].(*types.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				ev.Details[k] = s.Value
			}
		}
	}
	return ev
}

// DetailKeys returns the event's detail names in order (for display).
func (ev Event) DetailKeys() []string {
	keys := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
