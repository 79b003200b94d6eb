package permissions

import (
	"context"
	"fmt"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/signing"
)

// Setup builds what a function needs when cfg's PERMISSION_SOURCE is
// service: the permission-request key set on keys (read once, created on
// a deployment's first start, as the token-signing keys are) and the
// client that asks PERMISSIONS_URL. For the other sources it does nothing
// and returns nils: no secret is read.
func Setup(ctx context.Context, cfg config.Config, keys signing.Source) (*Client, *signing.RequestSigner, error) {
	if !cfg.Permissions.Service() {
		return nil, nil, nil
	}
	signer, err := signing.NewRequestSigner(ctx, keys, signing.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("permission-request keys: %w", err)
	}
	c, err := New(Options{
		Issuer: cfg.Issuer, URL: cfg.Permissions.URL, Timeout: cfg.Permissions.Timeout,
		MaxCache: cfg.Permissions.Cache, Catalog: cfg.Catalog, Signer: signer,
	})
	if err != nil {
		return nil, nil, err
	}
	return c, signer, nil
}
