package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/applinks/applinks/shared"
	"github.com/applinks/applinks/shared/config"
)

// DynamoDB is the part of the DynamoDB API the store calls. The SDK's
// *dynamodb.Client satisfies it; tests wrap it to count calls or inject
// faults.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// SecretsManager is the part of the Secrets Manager API the store calls.
// The SDK's *secretsmanager.Client satisfies it.
type SecretsManager interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

var (
	_ DynamoDB       = (*dynamodb.Client)(nil)
	_ SecretsManager = (*secretsmanager.Client)(nil)
)

// localRegion is the region used against an emulator when none is set.
const localRegion = "us-east-1"

// Open builds the SDK clients from the environment (the default credential
// chain and region, AWS_ENDPOINT_URL and the service-specific
// AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SECRETS_MANAGER) and
// returns a store on cfg.TableName and cfg.SecretPrefix. When an endpoint is
// configured (an emulator) and no region is, the region is us-east-1; when
// no credentials are configured either, static dummy ones are used.
func Open(ctx context.Context, cfg config.Config) (*Store, error) {
	endpoint := cfg.EndpointURL != "" || os.Getenv("AWS_ENDPOINT_URL") != "" ||
		os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" || os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER") != ""
	var opts []func(*awsconfig.LoadOptions) error
	if endpoint && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, awsconfig.WithRegion(localRegion))
	}
	if endpoint && !credentialsConfigured() {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("load aws config: no region: set AWS_REGION")
	}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.EndpointURL != "" && os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
		}
	})
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
		if cfg.EndpointURL != "" && os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER") == "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
		}
	})
	return New(db, sm, Options{TableName: cfg.TableName, SecretPrefix: cfg.SecretPrefix}), nil
}

// credentialsConfigured reports whether the environment names credentials
// the default chain would find without calling a metadata service.
func credentialsConfigured() bool {
	for _, v := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	file := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return false
		}
		file = filepath.Join(home, ".aws", "credentials")
	}
	_, err := os.Stat(file)
	return err == nil
}

// Error codes of the AWS APIs the store classifies.
var (
	unavailableCodes = map[string]bool{
		"ThrottlingException":                    true,
		"Throttling":                             true,
		"ThrottlingError":                        true,
		"ProvisionedThroughputExceededException": true,
		"ProvisionedThroughputExceeded":          true,
		"RequestLimitExceeded":                   true,
		"RequestLimitExceededException":          true,
		"InternalServerError":                    true,
		"InternalServiceError":                   true,
		"InternalFailure":                        true,
		"ServiceUnavailable":                     true,
		"ServiceUnavailableException":            true,
		"TransactionInProgressException":         true,
		"LimitExceededException":                 true,
		"RequestTimeout":                         true,
		"RequestTimeoutException":                true,
	}
	conflictCodes = map[string]bool{
		"ConditionalCheckFailedException": true,
		"TransactionConflictException":    true,
		"ResourceExistsException":         true,
	}
)

// classify wraps err with the shared classification that applies: a failed
// condition or an existing resource is shared.ErrConflict, a missing secret
// is shared.ErrNotFound (missingIsNotFound; a missing table is a
// configuration fault, not a missing record), and throttling, 5xx answers,
// timeouts and refused connections are shared.ErrUnavailable. Anything else
// is returned as it is.
func classify(err error, missingIsNotFound bool) error {
	if err == nil {
		return nil
	}
	if class := classOf(err, missingIsNotFound); class != nil {
		return fmt.Errorf("%w: %w", class, err)
	}
	return err
}

func classOf(err error, missingIsNotFound bool) error {
	if errors.Is(err, shared.ErrNotFound) || errors.Is(err, shared.ErrConflict) || errors.Is(err, shared.ErrUnavailable) {
		return nil // already classified
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		switch {
		case code == "TransactionCanceledException":
			return transactionClass(err)
		case conflictCodes[code]:
			return shared.ErrConflict
		case unavailableCodes[code]:
			return shared.ErrUnavailable
		case code == "ResourceNotFoundException" && missingIsNotFound:
			return shared.ErrNotFound
		}
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return shared.ErrUnavailable
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) {
		return shared.ErrUnavailable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return shared.ErrUnavailable
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return shared.ErrUnavailable
	}
	return nil
}

// transactionClass classifies a TransactionCanceledException by its
// cancellation reasons: throttling is unavailability; anything else (a
// failed condition, a conflicting transaction, or an engine such as kumo
// that leaves the reasons empty) is a conflict.
func transactionClass(err error) error {
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		for _, r := range canceled.CancellationReasons {
			if r.Code != nil && unavailableCodes[*r.Code] {
				return shared.ErrUnavailable
			}
		}
	}
	return shared.ErrConflict
}
