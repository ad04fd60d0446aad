package app

import (
	"log/slog"
	"strings"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/transcode"
)

// hasLadder reports whether any path has a transcoding ladder (then
// ffmpeg must be installed).
func hasLadder(cfg *config.Config) bool {
	for _, pc := range cfg.Paths {
		if len(pc.Transcode.Ladder) > 0 {
			return true
		}
	}
	return false
}

// newTranscoder returns the ABR ladder manager, or nil when no path has a
// ladder. A ladder without the ffmpeg program is a startup error. A
// ladder runs from the start of its source stream when the path's
// hls.always_on is set, else on demand: from the first multivariant
// playlist request until 60 s without HLS requests for its streams.
func newTranscoder(cfg *config.Config, h *hub.Hub, log *slog.Logger) (*transcode.Manager, error) {
	if !hasLadder(cfg) {
		return nil, nil
	}
	if err := transcode.CheckFFmpeg(""); err != nil {
		return nil, err
	}
	return transcode.New(transcode.Options{
		Hub:      h,
		Ladder:   func(path string) []transcode.Rung { return ladderFor(cfg, path) },
		OnDemand: func(path string) bool { return !cfg.PathSettings(path).HLS.AlwaysOn },
		// Keyframes on the segment grid keep every rendition's segments
		// aligned (the packagers number segments on the same grid).
		GOP:    cfg.HLS.SegmentDuration.Duration,
		Logger: log,
	}), nil
}

// ladderFor converts the path's configured ladder; Validate has checked the
// bitrates already.
func ladderFor(cfg *config.Config, path string) []transcode.Rung {
	pc := cfg.PathSettings(path)
	rungs := make([]transcode.Rung, 0, len(pc.Transcode.Ladder))
	for _, r := range pc.Transcode.Ladder {
		vb, _ := config.ParseBitrate(r.VideoBitrate)
		var ab int64
		if r.AudioBitrate != "" {
			ab, _ = config.ParseBitrate(r.AudioBitrate)
		}
		rungs = append(rungs, transcode.Rung{
			Name: r.Name, Width: r.Width, Height: r.Height,
			VideoBitrate: vb, AudioBitrate: ab, MaxFPS: r.MaxFPS, Preset: r.Preset,
		})
	}
	return rungs
}

// renditionSource returns the source of path if path is a rendition of a
// configured ladder (APP/NAME_RUNG with RUNG a rung of APP/NAME's ladder),
// the way transcode.RenditionPath names them.
func renditionSource(cfg *config.Config, path string) (string, bool) {
	slash := strings.IndexByte(path, '/')
	for i := len(path) - 1; i > slash+1; i-- {
		if path[i] != '_' {
			continue
		}
		src, rung := path[:i], path[i+1:]
		for _, r := range cfg.PathSettings(src).Transcode.Ladder {
			if r.Name == rung {
				return src, true
			}
		}
	}
	return "", false
}
