// Package awsprofile opens the store with the AWS SDK's default
// configuration: shared config and credentials files (AWS_PROFILE), SSO,
// web identity, container and instance roles. It is for the local runner
// against real AWS (make run with TABLE_NAME set). The Lambda functions use
// store.Open, which reads the environment only: this chain would add
// megabytes to each binary and time to each cold start, for credentials
// Lambda already puts in the environment.
package awsprofile

import (
	"context"
	"errors"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// Open loads the SDK's default configuration and returns a store on
// cfg.TableName and cfg.SecretPrefix, with the endpoint overrides of
// store.OpenConfig. A configuration with no region is an error.
func Open(ctx context.Context, cfg config.Config) (*store.Store, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("load aws config: no region: set AWS_REGION or the profile's region")
	}
	return store.OpenConfig(awsCfg, cfg), nil
}
