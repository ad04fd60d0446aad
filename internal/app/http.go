package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/cors"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/record"
	dashserver "github.com/sluicemedia/sluice/internal/server/dash"
	flvserver "github.com/sluicemedia/sluice/internal/server/flv"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
	"github.com/sluicemedia/sluice/internal/thumbnail"
	"github.com/sluicemedia/sluice/internal/web"
	webrtcserver "github.com/sluicemedia/sluice/internal/webrtc"
)

// httpRoutes is the HTTP surface: one ServeMux; every URL naming a stream
// goes through the stream router (streams.go), which authorizes it before
// the protocol server sees it (docs/contract.md "URLs" and "Access").
type httpRoutes struct {
	hub *hub.Hub
	flv *flvserver.Server
	// hls serves /APP/NAME.m3u8 and /APP/NAME/hls/FILE.
	hls *hlsserver.Server
	// dash serves /APP/NAME.mpd and /APP/NAME/dash/FILE.
	dash *dashserver.Server
	// auth decides every play and publish (nil: everyone may).
	auth *auth.Authorizer
	// cors is http.allowed_origins (nil: every origin).
	cors *cors.Policy
	// log receives refused requests. Default slog.Default().
	log *slog.Logger
	// api serves the REST API under /api/v1/ (internal/api).
	api http.Handler
	// metrics serves GET /metrics (Prometheus text format).
	metrics http.Handler
	// webrtc serves WHEP and WHIP signalling.
	webrtc *webrtcserver.Server
	// rec serves recordings for playback (record.go); nil: none.
	rec *record.Manager
	// thumbs makes GET /APP/NAME.jpg (thumbnail.go); thumbCache is
	// thumbnail.cache, the answers' max-age.
	thumbs     *thumbnail.Maker
	thumbCache time.Duration
	// web serves the dashboard, the player pages and /static/ (default:
	// web.MustNew()).
	web *web.Handler
}

func (h *httpRoutes) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	if h.web == nil {
		h.web = web.MustNew()
	}
	mux.HandleFunc("GET /{$}", h.web.Dashboard)
	mux.Handle("GET /static/{file}", h.web.Static())
	mux.Handle("GET /static/vendor/{file}", h.web.Static())
	mux.Handle(api.Prefix, h.api)
	mux.Handle("GET /metrics", h.metrics)
	// Stream URLs: /APP/NAME[.EXT] and /APP/NAME/DIR[/FILE]. Method-less
	// patterns: one with a method would conflict with the method-less
	// api.Prefix ("/api/v1/hls/x" would match both, neither more
	// specific); the stream router checks methods per entry.
	mux.HandleFunc("/{app}/{name}", h.serveStream)
	mux.HandleFunc("/{app}/{name}/{rest...}", h.serveStream)
	return mux
}
