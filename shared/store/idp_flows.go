package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared"
)

// UpstreamFlow is a sign-in started at an upstream identity provider and
// not yet finished: what the callback needs and may trust, kept on the
// provider's side. ID is shared.HashToken of the state parameter sent to
// the upstream; the flow is read once (TakeUpstreamFlow deletes it).
type UpstreamFlow struct {
	ID         string
	ProviderID string
	// Browser is shared.HashToken of the cookie that binds the flow to the
	// browser that started it.
	Browser string
	// Nonce is the nonce sent (the ID token must carry it); Verifier the
	// PKCE code_verifier (RFC 7636) whose S256 challenge was sent.
	Nonce    string
	Verifier string
	// ReturnTo is where the sign-in continues: a pending authorization
	// request or the account page (authorize), a console page (console).
	ReturnTo string
	// PromptLogin and MaxAge (seconds, -1 for none) were passed on to the
	// upstream; the callback checks the upstream's auth_time against them.
	PromptLogin bool
	MaxAge      int
	// Purpose is "signin", or "confirm" for the console's confirmation of
	// a signed-in administrator (UserID) in the console session Session
	// (its id hash).
	Purpose   string
	UserID    string
	Session   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Prefixes of the flows: the authorize function's (UPFLOW#), and the
// console's, under CONSOLE#, which only the admin function may write.
const (
	upflowPrefix        = "UPFLOW#"
	consoleUpflowPrefix = "CONSOLE#UPFLOW#"
	skUpflow            = "UPFLOW"

	aBrowser     = "browser"
	aVerifier    = "verifier"
	aPromptLogin = "prompt_login"
	aMaxAge      = "max_age"
	aPurpose     = "purpose"
	// aReturnTo and aSession are shared with the passkey ceremonies
	// (passkeys.go).
)

func upflowKey(id string, console bool) map[string]types.AttributeValue {
	if console {
		return key(consoleUpflowPrefix+id, skUpflow)
	}
	return key(upflowPrefix+id, skUpflow)
}

// CreateUpstreamFlow stores f until f.ExpiresAt (ErrConflict when its id
// exists); console flows are kept apart from the authorize function's.
func (s *Store) CreateUpstreamFlow(ctx context.Context, f UpstreamFlow, console bool) error {
	if f.ID == "" || tooLong(f.ID) {
		return fmt.Errorf("create upstream flow: no valid id")
	}
	it := upflowKey(f.ID, console)
	for k, v := range map[string]types.AttributeValue{
		aProviderID: str(f.ProviderID), aBrowser: str(f.Browser), aNonce: str(f.Nonce), aVerifier: str(f.Verifier),
		aReturnTo: str(f.ReturnTo), aPromptLogin: boolean(f.PromptLogin), aMaxAge: num(int64(f.MaxAge)),
		aPurpose: str(f.Purpose), aUserID: str(f.UserID), aSession: str(f.Session),
		aCreatedAt: str(fmtTime(f.CreatedAt)), aExpiresAt: str(fmtTime(f.ExpiresAt)), aTTL: ttl(f.ExpiresAt),
	} {
		it[k] = v
	}
	e := newExpr()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.tableName(), Item: it,
		ConditionExpression:      aws.String("attribute_not_exists(" + e.n(aPK) + ")"),
		ExpressionAttributeNames: e.Names(),
	})
	if err != nil {
		return fmt.Errorf("create upstream flow %s: %w", shortID(f.ID), classify(err, false))
	}
	return nil
}

// TakeUpstreamFlow reads and deletes the flow with id in one call (a
// DeleteItem returning the old item), so that a state is used once
// however many callbacks race: ErrNotFound when it is absent, already
// taken, or expired at now.
func (s *Store) TakeUpstreamFlow(ctx context.Context, id string, console bool, now time.Time) (UpstreamFlow, error) {
	if id == "" || tooLong(id) {
		return UpstreamFlow{}, fmt.Errorf("take upstream flow: %w", shared.ErrNotFound)
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: s.tableName(), Key: upflowKey(id, console), ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return UpstreamFlow{}, fmt.Errorf("take upstream flow %s: %w", shortID(id), classify(err, false))
	}
	it := item(out.Attributes)
	if out.Attributes == nil || !now.Before(it.t(aExpiresAt)) {
		return UpstreamFlow{}, fmt.Errorf("take upstream flow %s: %w", shortID(id), shared.ErrNotFound)
	}
	return UpstreamFlow{
		ID: id, ProviderID: it.s(aProviderID), Browser: it.s(aBrowser), Nonce: it.s(aNonce), Verifier: it.s(aVerifier),
		ReturnTo: it.s(aReturnTo), PromptLogin: it.b(aPromptLogin), MaxAge: int(it.n(aMaxAge)),
		Purpose: it.s(aPurpose), UserID: it.s(aUserID), Session: it.s(aSession), CreatedAt: it.t(aCreatedAt), ExpiresAt: it.t(aExpiresAt),
	}, nil
}
