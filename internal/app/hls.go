package app

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/packager"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
	"github.com/sluicemedia/sluice/internal/streampath"
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
		}, Logger: log.With("component", "packager")},
		Variant: cfg.HLS.Variant,
		Ladder:  func(path string) *hlsserver.Ladder { return hlsLadder(cfg, path) },
		Logger:  log.With("component", "hls"),
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

// playAllowed asks the Authorizer whether the client may play path over
// proto ("hls", "dash") and answers 401/403 if not. HLS playlists and
// DASH MPDs are checked on every request (hooks are cached by auth); media
// URLs are not: they embed the packager's random session ID, known only
// from an authorized playlist or MPD.
func (h *httpRoutes) playAllowed(w http.ResponseWriter, r *http.Request, path, proto string) bool {
	if h.auth == nil {
		return true
	}
	req := auth.Request{Action: auth.Play, Path: path, Protocol: proto, Remote: r.RemoteAddr,
		Token: auth.TokenFromHTTP(r), Query: r.URL.Query()}
	err := h.auth.Authorize(r.Context(), req)
	if err == nil {
		return true
	}
	status := auth.HTTPStatus(err)
	slog.Default().Warn(proto+" play denied", "proto", proto, "remote", r.RemoteAddr, "path", path, "reason", err.Error())
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
	}
	http.Error(w, err.Error(), status)
	return false
}

// mediaRoute serves /{app}/{name}/{segment}/{file} (app not reserved) with
// serve and everything else with next. A ServeMux pattern for it would
// conflict with the method-less api.Prefix ("/api/v1/hls/x" would match
// both, neither more specific). HLS and DASH media files go through it;
// they carry no credential: their names hold the packager's random session
// ID, learned only from an authorized playlist or MPD.
func mediaRoute(segment string, serve func(w http.ResponseWriter, r *http.Request, path, file string), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if len(p) > 1 && p[0] == '/' {
			parts := strings.SplitN(p[1:], "/", 5)
			if len(parts) == 4 && parts[2] == segment && parts[3] != "" && !streampath.IsReserved(parts[0]) {
				if r.Method == http.MethodOptions {
					corsPreflight(w)
					return
				}
				path := parts[0] + "/" + parts[1]
				if err := streampath.Validate(path); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				serve(w, r, path, parts[3])
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
