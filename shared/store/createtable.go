package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/applinks/applinks/shared/store/table"
)

// TableAdmin is the part of the DynamoDB API CreateTable calls.
type TableAdmin interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ TableAdmin = (*dynamodb.Client)(nil)

// CreateTableInput is the CreateTable request of the table named name, from
// the one definition in package table (on-demand billing).
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(table.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(table.SortKey), KeyType: types.KeyTypeRange},
		},
	}
	for _, n := range table.AttributeNames() {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS,
		})
	}
	for _, g := range table.GSIs {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.Name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(g.PartitionKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(g.SortKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	return in
}

// CreateTable creates the table named name from package table, waits until
// it is active and turns on TTL. An existing table is left as it is and is
// not an error (exists reports it), so a local runner can call it on every
// start.
func CreateTable(ctx context.Context, db TableAdmin, name string) (exists bool, err error) {
	_, err = db.CreateTable(ctx, CreateTableInput(name))
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("create table %q: %w", name, classify(err, false))
	}
	for {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return false, fmt.Errorf("describe table %q: %w", name, classify(err, false))
		}
		if out.Table != nil && out.Table.TableStatus == types.TableStatusActive {
			break
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("create table %q: %w", name, classify(ctx.Err(), false))
		case <-time.After(100 * time.Millisecond):
		}
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(table.TTLAttribute), Enabled: aws.Bool(true),
		},
	})
	if err != nil {
		return false, fmt.Errorf("enable ttl on %q: %w", name, classify(err, false))
	}
	return false, nil
}

// EnsureTable creates the store's table when it does not exist yet (see
// CreateTable): for a local runner pointed at DynamoDB Local or LocalStack
// without the CDK stack. It needs a DynamoDB client that can administer
// tables, as the SDK client can.
func (s *Store) EnsureTable(ctx context.Context) (exists bool, err error) {
	admin, ok := s.db.(TableAdmin)
	if !ok {
		return false, fmt.Errorf("create table %q: the DynamoDB client cannot create tables", s.table)
	}
	return CreateTable(ctx, admin, s.table)
}
