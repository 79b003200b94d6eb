package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RevokeAccessToken records jti as revoked until exp (TTL).
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(),
		Item: map[string]types.AttributeValue{
			aPK: str(jtiPrefix + jti), aSK: str(skJTI),
			aExpiresAt: str(fmtTime(exp)), aTTL: ttl(exp),
		},
	})
	if err != nil {
		return fmt.Errorf("revoke access token %q: %w", jti, classify(err, false))
	}
	return nil
}
