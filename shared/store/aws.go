package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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

// Open builds the SDK clients from the environment alone and returns a
// store on cfg.TableName and cfg.SecretPrefix. ctx is not used: nothing is
// fetched.
//
// It reads what a Lambda function is given, without the SDK's default
// configuration chain (shared files, SSO, STS, IMDS, credential processes:
// megabytes of binary and milliseconds of cold start that a function never
// uses):
//
//   - the region: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1 when
//     an endpoint is set (an emulator);
//   - the credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN (Lambda sets them to the execution role's), else
//     static dummy ones when an endpoint is set;
//   - the endpoints: AWS_ENDPOINT_URL_DYNAMODB and
//     AWS_ENDPOINT_URL_SECRETS_MANAGER, each over AWS_ENDPOINT_URL
//     (cfg.EndpointURL).
//
// With no endpoint set, a missing region or missing credentials is an
// error. For a shared profile, SSO or an instance role (the local runner
// against real AWS), use awsprofile.Open.
func Open(_ context.Context, cfg config.Config) (*Store, error) {
	awsCfg, err := envConfig(os.Getenv, cfg.EndpointURL)
	if err != nil {
		return nil, err
	}
	return OpenConfig(awsCfg, cfg), nil
}

// OpenConfig returns a store on cfg.TableName and cfg.SecretPrefix whose
// clients are built from awsCfg, each with its endpoint from
// AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL_SECRETS_MANAGER when set,
// else cfg.EndpointURL when set, else awsCfg's.
func OpenConfig(awsCfg aws.Config, cfg config.Config) *Store {
	awsCfg.HTTPClient = keepAliveClient(awsCfg.HTTPClient)
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if e := endpoint(os.Getenv, "AWS_ENDPOINT_URL_DYNAMODB", cfg.EndpointURL); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	o := Options{TableName: cfg.TableName, SecretPrefix: cfg.SecretPrefix, SecretReplicaRegions: cfg.SecretReplicaRegions,
		NoTransactions: cfg.StoreNoTransactions}
	smEndpoint := func(o *secretsmanager.Options) {
		if e := endpoint(os.Getenv, "AWS_ENDPOINT_URL_SECRETS_MANAGER", cfg.EndpointURL); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	}
	sm := secretsmanager.NewFromConfig(awsCfg, smEndpoint)
	if p := cfg.SecretPrimaryRegion; p != "" && p != awsCfg.Region {
		// The secrets live in the primary region; this region holds
		// replicas, read first for the key sets.
		o.LocalSecrets = sm
		sm = secretsmanager.NewFromConfig(awsCfg, smEndpoint, func(o *secretsmanager.Options) { o.Region = p })
	}
	return New(db, sm, o).WithPermissionSource(cfg.Permissions.Source)
}

// maxIdleConnsPerHost is how many idle connections the store's HTTP
// client keeps to one endpoint: as many as requests in flight at once in
// one process (the local runner under load; a Lambda sends one at a
// time), so that each finds a connection to reuse. The SDK's default, 10,
// made a process at 32 concurrent requests close and open connections all
// the time (a TCP and, on AWS, a TLS handshake each; BENCHMARKS.md, "CPU
// per operation").
const maxIdleConnsPerHost = 100

// keepAliveClient is hc with maxIdleConnsPerHost when it is the SDK's
// buildable client (nil: the SDK's default one, as NewFromConfig would
// build it); any other client is the caller's and is returned as it is.
func keepAliveClient(hc aws.HTTPClient) aws.HTTPClient {
	b, ok := hc.(*awshttp.BuildableClient)
	if hc == nil {
		b, ok = awshttp.NewBuildableClient(), true
	}
	if !ok || b == nil {
		return hc
	}
	return b.WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		if t.MaxIdleConns != 0 && t.MaxIdleConns < maxIdleConnsPerHost {
			t.MaxIdleConns = maxIdleConnsPerHost
		}
	})
}

// endpoint is the service-specific endpoint variable when set, else the
// general one: general, else AWS_ENDPOINT_URL.
func endpoint(getenv func(string) string, service, general string) string {
	if e := getenv(service); e != "" {
		return e
	}
	if general != "" {
		return general
	}
	return getenv("AWS_ENDPOINT_URL")
}

// envConfig is the aws.Config Open uses, read through getenv; general is
// cfg.EndpointURL.
func envConfig(getenv func(string) string, general string) (aws.Config, error) {
	emulated := endpoint(getenv, "AWS_ENDPOINT_URL_DYNAMODB", general) != "" ||
		endpoint(getenv, "AWS_ENDPOINT_URL_SECRETS_MANAGER", general) != ""
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		if !emulated {
			return aws.Config{}, errors.New("aws config: no region: set AWS_REGION")
		}
		region = localRegion
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	var creds credentials.StaticCredentialsProvider
	switch {
	case id != "" && secret != "":
		creds = credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))
	case id != "" || secret != "":
		return aws.Config{}, errors.New("aws config: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
	case emulated:
		creds = credentials.NewStaticCredentialsProvider("local", "local", "")
	default:
		return aws.Config{}, errors.New("aws config: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY " +
			"(Lambda sets them for the execution role), or an endpoint (AWS_ENDPOINT_URL) for an emulator")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(creds),
		Retryer:     func() aws.Retryer { return retry.NewStandard() },
	}, nil
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
		"ResourceExistsException":         true,
	}
)

// ErrTransactionConflict marks a write DynamoDB refused because another
// request was writing the same item at that moment: a transaction
// cancelled with a TransactionConflict reason (and no failed condition), or
// a single-item write refused with TransactionConflictException (or, on a
// global table with multi-Region strong consistency, with
// ReplicatedWriteConflictException: another region is writing it). It wraps
// shared.ErrConflict, but unlike a failed condition it decides nothing:
// nothing of the refused write was applied, and the other request's write
// may not have committed yet, so a read made now, even a strongly
// consistent one, may still show the item as it was before either. A
// caller must not conclude from such a read that the item is unused; see
// "Conflicting transactions" in README.md.
var ErrTransactionConflict = fmt.Errorf("another request is writing the item (transaction conflict): %w", shared.ErrConflict)

// Bounds of RetryInFlight. On AWS a transaction holds its items for a few
// milliseconds, so waits of about 10, 20, 40 and 80 ms (each between half
// and all of that, so that two requests retrying together drift apart)
// outlast one; a write still refused after them meets a stream of writes.
const (
	inFlightAttempts  = 5
	inFlightFirstWait = 10 * time.Millisecond
)

// RetryInFlight retries write while it answers ErrTransactionConflict
// (another request was writing the same item at that moment, with an
// outcome not known yet); err is write's first answer. It makes at most 5
// attempts in all, waiting about 10, 20, 40 and 80 ms before the retries,
// and returns the last answer, except that a write still in flight after
// the last attempt becomes shared.ErrUnavailable (the caller may try again
// later), no longer a shared.ErrConflict, since nothing was decided. write
// must be safe to repeat: it was not applied when it answered
// ErrTransactionConflict.
func RetryInFlight(ctx context.Context, err error, write func() error) error {
	wait := inFlightFirstWait
	for attempt := 1; errors.Is(err, ErrTransactionConflict); attempt++ {
		if attempt == inFlightAttempts {
			return fmt.Errorf("%w: still written by another request after %d attempts: %v",
				shared.ErrUnavailable, attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w (after %v)", shared.ErrUnavailable, ctx.Err(), err)
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait *= 2
		err = write()
	}
	return err
}

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
		case code == "TransactionConflictException" || code == "ReplicatedWriteConflictException":
			// The second: a global table with multi-Region strong
			// consistency refused the write because another region is
			// writing the item; nothing of it was applied, and it may be
			// retried (docs/multi-region.md).
			return ErrTransactionConflict
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
// cancellation reasons, one per item in the order of the request:
//   - throttling of any item is unavailability;
//   - a failed condition of any item is a conflict that decides: the
//     condition was evaluated against the item as committed;
//   - otherwise a TransactionConflict (another transaction or write was in
//     flight on the item) is ErrTransactionConflict, which decides nothing;
//   - anything else (an engine such as kumo that leaves the reasons empty)
//     is a conflict.
func transactionClass(err error) error {
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		return shared.ErrConflict
	}
	failed, inFlight := false, false
	for _, r := range canceled.CancellationReasons {
		switch code := aws.ToString(r.Code); {
		case unavailableCodes[code]:
			return shared.ErrUnavailable
		case code == "ConditionalCheckFailed":
			failed = true
		case code == "TransactionConflict":
			inFlight = true
		}
	}
	if inFlight && !failed {
		return ErrTransactionConflict
	}
	return shared.ErrConflict
}
