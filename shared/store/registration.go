package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/applinks/applinks/shared"
)

const (
	// regPolicyPK holds the administrator's policy for self-registered
	// links (shared.RegistrationPolicy), one item written only by the
	// admin function (no other function's write prefixes include it).
	regPolicyPK = "POLICY#client-registration"
	skPolicy    = "POLICY"
	aDocument   = "document" // JSON text of the policy

	// Link attributes of self-registered links (absent on a link an
	// administrator created: shared.OriginAdmin, shared.StatusActive).
	aOrigin    = "origin"
	aRegStatus = "reg_status"
)

// GetRegistrationPolicy returns the stored registration policy and when it
// was last written; found is false (and the policy zero) when none was ever
// written: the caller then uses shared.DefaultRegistrationPolicy. One
// strongly consistent GetItem.
func (s *Store) GetRegistrationPolicy(ctx context.Context) (p shared.RegistrationPolicy, updated time.Time, found bool, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(regPolicyPK, skPolicy), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return p, updated, false, fmt.Errorf("get registration policy: %w", classify(err, false))
	}
	if out.Item == nil {
		return p, updated, false, nil
	}
	it := item(out.Item)
	if err := json.Unmarshal([]byte(it.s(aDocument)), &p); err != nil {
		return p, updated, false, fmt.Errorf("get registration policy: stored document: %w", err)
	}
	return p, it.t(aUpdatedAt), true, nil
}

// PutRegistrationPolicy replaces the registration policy (the caller has
// validated it): one PutItem.
func (s *Store) PutRegistrationPolicy(ctx context.Context, p shared.RegistrationPolicy, now time.Time) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("put registration policy: %w", err)
	}
	it := key(regPolicyPK, skPolicy)
	it[aDocument] = str(string(doc))
	it[aUpdatedAt] = str(fmtTime(now))
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.tableName(), Item: it}); err != nil {
		return fmt.Errorf("put registration policy: %w", classify(err, false))
	}
	return nil
}

// decodeOrigin reads a link's origin and status; a link an administrator
// created (or any link stored before links had them) is admin and active.
func decodeOrigin(it item) (origin, status string) {
	origin, status = it.s(aOrigin), it.s(aRegStatus)
	if origin == "" {
		origin = shared.OriginAdmin
	}
	if status == "" {
		status = shared.StatusActive
	}
	return origin, status
}
