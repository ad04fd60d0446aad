package app

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/packager"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// newHLS builds the HLS server and its packager manager. Packagers stop on
// their own: when the hub closes, their streams end (playlists get
// EXT-X-ENDLIST), and idle ones after 30 s without requests.
func newHLS(cfg *config.Config, h *hub.Hub, log *slog.Logger) *hlsserver.Server {
	return &hlsserver.Server{
		Packagers: &packager.Manager{Hub: h, Logger: log.With("component", "packager")},
		Variant:   cfg.HLS.Variant,
		Logger:    log.With("component", "hls"),
	}
}

// hlsMedia serves /APP/NAME/hls/FILE (init sections, segments, parts).
func (h *httpRoutes) hlsMedia(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		corsPreflight(w)
		return
	}
	path := r.PathValue("app") + "/" + r.PathValue("name")
	if err := streampath.Validate(path); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.hls.ServeStream(w, r, path, r.PathValue("file"))
}

// hlsRoute serves /{app}/{name}/hls/{file} (app not reserved) with
// hlsMedia and everything else with next. A ServeMux pattern for it would
// conflict with the method-less api.Prefix ("/api/v1/hls/x" would match
// both, neither more specific).
func (h *httpRoutes) hlsRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if len(p) > 1 && p[0] == '/' {
			parts := strings.SplitN(p[1:], "/", 5)
			if len(parts) == 4 && parts[2] == "hls" && parts[3] != "" && !streampath.IsReserved(parts[0]) {
				r.SetPathValue("app", parts[0])
				r.SetPathValue("name", parts[1])
				r.SetPathValue("file", parts[3])
				h.hlsMedia(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
