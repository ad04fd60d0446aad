package app

import (
	"log/slog"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/packager"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
	"github.com/sluicemedia/sluice/internal/transcode"
)

// newHLS builds the HLS server and its packager manager. Packagers stop on
// their own: when the hub closes, their streams end (playlists get
// EXT-X-ENDLIST), and idle ones after 30 s without requests. Segment
// numbers follow the media time (AlignMSN), so the renditions of a ladder
// number matching segments alike. tc (nil without ladders) starts
// on-demand ladders for multivariant playlist requests.
func newHLS(cfg *config.Config, h *hub.Hub, tc *transcode.Manager, log *slog.Logger) *hlsserver.Server {
	s := &hlsserver.Server{
		Packagers: &packager.Manager{Hub: h, Options: packager.Options{
			AlignMSN:        true,
			SegmentDuration: cfg.HLS.SegmentDuration.Duration,
			PartDuration:    cfg.HLS.PartDuration.Duration,
			Window:          cfg.HLS.Window,
			DVRWindow:       cfg.HLS.DVRWindow.Duration,
			DVRMaxBytes:     int64(cfg.HLS.DVRMaxBytes),
		}, Logger: log.With("component", "packager")},
		Variant:          cfg.HLS.Variant,
		MPEGTSUserAgents: cfg.HLS.MPEGTSUserAgents,
		Ladder:           func(path string) *hlsserver.Ladder { return hlsLadder(cfg, path) },
		Logger:           log.With("component", "hls"),
	}
	if tc != nil {
		s.Transcoder = tc
	}
	return s
}

// hlsLadder describes the path's configured ladder for the multivariant
// playlist; nil without one.
func hlsLadder(cfg *config.Config, path string) *hlsserver.Ladder {
	pc := cfg.PathSettings(path)
	if len(pc.Transcode.Ladder) == 0 {
		return nil
	}
	l := &hlsserver.Ladder{Passthrough: pc.Transcode.Passthrough}
	for _, r := range ladderFor(cfg, path) {
		l.Rungs = append(l.Rungs, hlsserver.Rung{
			Name: r.Name, Width: r.Width, Height: r.Height,
			VideoBitrate: r.VideoBitrate, AudioBitrate: r.AudioBitrate, MaxFPS: r.MaxFPS,
		})
	}
	return l
}
