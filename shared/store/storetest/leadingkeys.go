package storetest

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/applinks/applinks/shared/store"
	"github.com/applinks/applinks/shared/store/table"
)

// LeadingKeys wraps db so that it refuses, as IAM's dynamodb:LeadingKeys
// condition would (AccessDeniedException), every write whose partition key
// does not start with one of prefixes: PutItem, UpdateItem, DeleteItem,
// and the Put, Update and Delete items of a transaction. Reads and
// condition checks pass. Tests run a function's handler on such a store
// with table.WritePrefixes of that function, so every flow they drive
// proves the function's write policy is enough.
func LeadingKeys(db store.DynamoDB, prefixes []string) store.DynamoDB {
	return leadingKeys{DynamoDB: db, prefixes: prefixes}
}

type leadingKeys struct {
	store.DynamoDB
	prefixes []string
}

func (l leadingKeys) check(op string, key map[string]types.AttributeValue) error {
	pk, _ := key[table.PartitionKey].(*types.AttributeValueMemberS)
	if pk != nil {
		for _, p := range l.prefixes {
			if strings.HasPrefix(pk.Value, p) {
				return nil
			}
		}
	}
	v := "<none>"
	if pk != nil {
		v = pk.Value
	}
	return &smithy.GenericAPIError{Code: "AccessDeniedException",
		Message: fmt.Sprintf("%s of %q is outside the write prefixes %v (dynamodb:LeadingKeys)", op, v, l.prefixes)}
}

func (l leadingKeys) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := l.check("PutItem", in.Item); err != nil {
		return nil, err
	}
	return l.DynamoDB.PutItem(ctx, in, opts...)
}

func (l leadingKeys) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := l.check("UpdateItem", in.Key); err != nil {
		return nil, err
	}
	return l.DynamoDB.UpdateItem(ctx, in, opts...)
}

func (l leadingKeys) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := l.check("DeleteItem", in.Key); err != nil {
		return nil, err
	}
	return l.DynamoDB.DeleteItem(ctx, in, opts...)
}

func (l leadingKeys) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		var err error
		switch {
		case it.Put != nil:
			err = l.check("PutItem", it.Put.Item)
		case it.Update != nil:
			err = l.check("UpdateItem", it.Update.Key)
		case it.Delete != nil:
			err = l.check("DeleteItem", it.Delete.Key)
		}
		if err != nil {
			return nil, err
		}
	}
	return l.DynamoDB.TransactWriteItems(ctx, in, opts...)
}
