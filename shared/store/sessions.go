package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// CreateSession stores a session with a TTL at ExpiresAt.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	e := newExpr()
	it := map[string]types.AttributeValue{
		aPK: str(sessionPrefix + sess.ID), aSK: str(skSession),
		aUserID: str(sess.UserID), aCSRF: str(sess.CSRF),
		aCreatedAt: str(fmtTime(sess.CreatedAt)), aExpiresAt: str(fmtTime(sess.ExpiresAt)),
		aTTL: ttl(sess.ExpiresAt),
	}
	if !sess.AuthTime.IsZero() {
		it[aAuthTime] = str(fmtTime(sess.AuthTime)) // an upstream sign-in's auth_time
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                s.tableName(),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("create session %s: %w", shortID(sess.ID), classify(err, false))
	}
	return nil
}

// GetSession reads a session by id hash; an expired one is ErrNotFound
// (DynamoDB reaps expired items only eventually).
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (Session, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.tableName(), Key: key(sessionPrefix+id, skSession), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Session{}, fmt.Errorf("get session %s: %w", shortID(id), classify(err, false))
	}
	it := item(out.Item)
	if out.Item == nil || !now.Before(it.t(aExpiresAt)) {
		return Session{}, fmt.Errorf("get session %s: %w", shortID(id), shared.ErrNotFound)
	}
	return decodeSession(it), nil
}

func decodeSession(it item) Session {
	return Session{
		ID: strings.TrimPrefix(it.s(aPK), sessionPrefix), UserID: it.s(aUserID), CSRF: it.s(aCSRF),
		CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt), AuthTime: it.t(aAuthTime),
	}
}

// DeleteSession removes a session (no error when absent).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.tableName(), Key: key(sessionPrefix+id, skSession)})
	if err != nil {
		return fmt.Errorf("delete session %s: %w", shortID(id), classify(err, false))
	}
	return nil
}
