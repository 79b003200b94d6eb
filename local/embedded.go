package main

import (
	"context"
	"errors"

	"github.com/applinks/applinks/shared/config"
	"github.com/applinks/applinks/shared/store"
)

// openEmbedded: TODO wire shared/store/embedded once it lands.
func openEmbedded(ctx context.Context, cfg config.Config) (*store.Store, func(), error) {
	return nil, nil, errors.New("embedded backend not wired yet")
}
