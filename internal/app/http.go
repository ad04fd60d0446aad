package app

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/hub"
	dashserver "github.com/sluicemedia/sluice/internal/server/dash"
	flvserver "github.com/sluicemedia/sluice/internal/server/flv"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
	"github.com/sluicemedia/sluice/internal/streampath"
	"github.com/sluicemedia/sluice/internal/web"
	webrtcserver "github.com/sluicemedia/sluice/internal/webrtc"
)

// httpRoutes is the HTTP surface: one ServeMux; stream URLs are dispatched
// by their suffix (CONTRACT.md "Stream paths and URLs").
type httpRoutes struct {
	hub *hub.Hub
	flv *flvserver.Server
	// hls serves /APP/NAME.m3u8 and /APP/NAME/hls/FILE.
	hls *hlsserver.Server
	// dash serves /APP/NAME.mpd and /APP/NAME/dash/FILE.
	dash *dashserver.Server
	// auth decides HLS and DASH play requests (nil: everyone may play).
	auth *auth.Authorizer
	// api serves the REST API under /api/v1/ (internal/api).
	api http.Handler
	// metrics serves GET /metrics (Prometheus text format).
	metrics http.Handler
	// webrtc serves WHEP signalling.
	webrtc *webrtcserver.Server
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
	mux.HandleFunc("/{app}/{name}", h.stream)
	// WHEP and WHIP: POST|OPTIONS /{app}/{name}/whep (and /whip), and
	// DELETE|PATCH|OPTIONS /{app}/{name}/whep/{id} (and /whip/{id}). A
	// method-less catch-all, because a pattern with a method here would
	// conflict with the method-less api.Prefix ("/api/v1/whep" would match
	// both); whep dispatches by suffix and method.
	mux.HandleFunc("/{app}/{name}/{rest...}", h.whep)
	// HLS and DASH media: /{app}/{name}/hls|dash/{file}, dispatched before
	// the mux (see mediaRoute) because such patterns would conflict with
	// api.Prefix.
	var handler http.Handler = mux
	if h.dash != nil {
		handler = mediaRoute("dash", h.dash.ServeFile, handler)
	}
	return mediaRoute("hls", h.hls.ServeStream, handler)
}

// stream dispatches /APP/NAME.EXT.
func (h *httpRoutes) stream(w http.ResponseWriter, r *http.Request) {
	app, name := r.PathValue("app"), r.PathValue("name")
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i:]
	}
	if r.Method == http.MethodOptions {
		corsPreflight(w)
		return
	}
	switch ext {
	case ".flv":
		path := app + "/" + base
		if err := streampath.Validate(path); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.flv.ServeStream(w, r, path)
	case ".m3u8":
		path := app + "/" + base
		if err := streampath.Validate(path); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !h.playAllowed(w, r, path, "hls") {
			return
		}
		h.hls.ServeStream(w, r, path, "")
	case ".mpd":
		path := app + "/" + base
		if err := streampath.Validate(path); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.dashMPD(w, r, path)
	case "": // the player page
		path := app + "/" + base
		if err := streampath.Validate(path); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.web.Player(w, r, path)
	default:
		http.NotFound(w, r)
	}
}

// webrtcEndpoint is one of the WebRTC signalling resources under a stream.
type webrtcEndpoint struct {
	name    string // "whep" or "whip", the path segment
	post    func(w http.ResponseWriter, r *http.Request, path string)
	session func(w http.ResponseWriter, r *http.Request, path, id string)
}

// whep dispatches /APP/NAME/whep and /APP/NAME/whip (POST offer, OPTIONS)
// and their session resources /APP/NAME/whep|whip/ID (DELETE, PATCH,
// OPTIONS) to the WebRTC server.
func (h *httpRoutes) whep(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("app") + "/" + r.PathValue("name")
	rest := r.PathValue("rest")
	for _, ep := range []webrtcEndpoint{
		{"whep", h.webrtc.ServeWHEP, h.webrtc.ServeSession},
		{"whip", h.webrtc.ServeWHIP, h.webrtc.ServeWHIPSession},
	} {
		id, isSession := strings.CutPrefix(rest, ep.name+"/")
		if rest != ep.name && !isSession {
			continue
		}
		if err := streampath.Validate(path); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		upper := strings.ToUpper(ep.name)
		switch {
		case isSession && !webrtcserver.IsSessionID(id):
			http.Error(w, "no such "+upper+" session", http.StatusNotFound)
		case isSession:
			ep.session(w, r, path, id)
		case r.Method == http.MethodPost:
			ep.post(w, r, path)
		case r.Method == http.MethodOptions:
			webrtcserver.ServeOptions(w, r)
		default:
			w.Header().Set("Allow", "POST, OPTIONS")
			http.Error(w, "method not allowed: POST an SDP offer to start a "+upper+" session", http.StatusMethodNotAllowed)
		}
		return
	}
	http.NotFound(w, r)
}

func corsPreflight(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE, PATCH, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}
