package app

import (
	"log/slog"

	"github.com/sluicemedia/sluice/internal/config"
	dashserver "github.com/sluicemedia/sluice/internal/server/dash"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
)

// newDASH builds the DASH server on HLS's packager manager: one fMP4
// packager per stream serves both (package once, describe twice).
// A path with a ladder gets one video Representation per rendition, and
// an MPD request starts an on-demand ladder (HLS's Transcoder).
func newDASH(cfg *config.Config, hls *hlsserver.Server, log *slog.Logger) *dashserver.Server {
	s := &dashserver.Server{
		Packagers: hls.Packagers,
		Ladder:    func(path string) *dashserver.Ladder { return dashLadder(cfg, path) },
		Logger:    log.With("component", "dash"),
	}
	if hls.Transcoder != nil {
		s.Transcoder = hls.Transcoder
	}
	return s
}

// dashLadder describes the path's configured ladder for the MPD; nil
// without one.
func dashLadder(cfg *config.Config, path string) *dashserver.Ladder {
	l := hlsLadder(cfg, path)
	if l == nil {
		return nil
	}
	d := &dashserver.Ladder{Passthrough: l.Passthrough}
	for _, r := range l.Rungs {
		d.Rungs = append(d.Rungs, r.Name)
	}
	return d
}
