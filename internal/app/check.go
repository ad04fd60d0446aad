package app

import (
	"errors"
	"fmt"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/certs"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/cors"
	"github.com/sluicemedia/sluice/internal/transcode"
)

// CheckConfig checks what New reads or needs besides cfg's own values —
// the TLS certificate and key files, the JWK Set files, the allowed
// origins, the ffmpeg program when a path has a ladder — without binding a
// port or starting anything, so that sluice -check-config finds the
// startup errors that do not depend on the network or on ports being free.
// cfg must have passed Validate. Every problem is reported in one error.
func CheckConfig(cfg *config.Config) error {
	var errs []error
	for _, tp := range []struct{ name, cert, key string }{
		{"rtmps", cfg.RTMPS.Cert, cfg.RTMPS.Key},
		{"https", cfg.HTTPS.Cert, cfg.HTTPS.Key},
	} {
		if tp.cert == "" {
			continue // Validate has checked that cert and key come as a pair
		}
		if _, err := certs.Load(tp.cert, tp.key); err != nil {
			errs = append(errs, fmt.Errorf("%s.cert, %s.key: %w", tp.name, tp.name, err))
		}
	}
	if _, err := cors.New(cfg.HTTP.AllowedOrigins); err != nil {
		errs = append(errs, fmt.Errorf("http.allowed_origins%w", err))
	}
	if err := auth.CheckJWKSFiles(cfg); err != nil {
		errs = append(errs, err)
	}
	if hasLadder(cfg) {
		if err := transcode.CheckFFmpeg(""); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
