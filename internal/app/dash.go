package app

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/sluicemedia/sluice/internal/config"
	dashserver "github.com/sluicemedia/sluice/internal/server/dash"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
	"github.com/sluicemedia/sluice/internal/streampath"
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

// dashMPD serves /APP/NAME.mpd (path validated) after the play check.
func (h *httpRoutes) dashMPD(w http.ResponseWriter, r *http.Request, path string) {
	if !h.playAllowed(w, r, path, "dash") {
		return
	}
	h.dash.ServeMPD(w, r, path)
}

// dashFile serves /APP/NAME/dash/FILE (init sections, segments, the time
// endpoint). Media URLs carry no credential: they hold the packager's
// random session ID, learned only from an authorized MPD.
func (h *httpRoutes) dashFile(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		corsPreflight(w)
		return
	}
	path := r.PathValue("app") + "/" + r.PathValue("name")
	if err := streampath.Validate(path); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.dash.ServeFile(w, r, path, r.PathValue("file"))
}

// dashRoute serves /{app}/{name}/dash/{file} (app not reserved) with
// dashFile and everything else with next, for the reason given at
// hlsRoute.
func (h *httpRoutes) dashRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if h.dash != nil && len(p) > 1 && p[0] == '/' {
			parts := strings.SplitN(p[1:], "/", 5)
			if len(parts) == 4 && parts[2] == "dash" && parts[3] != "" && !streampath.IsReserved(parts[0]) {
				r.SetPathValue("app", parts[0])
				r.SetPathValue("name", parts[1])
				r.SetPathValue("file", parts[3])
				h.dashFile(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
