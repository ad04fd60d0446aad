package app

import (
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/hub"
	flvserver "github.com/sluicemedia/sluice/internal/server/flv"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// httpRoutes is the HTTP surface: one ServeMux; stream URLs are dispatched
// by their suffix (CONTRACT.md "Stream paths and URLs").
type httpRoutes struct {
	hub *hub.Hub
	flv *flvserver.Server
	// api serves the REST API under /api/v1/ (internal/api).
	api http.Handler
	// metrics serves GET /metrics (Prometheus text format).
	metrics http.Handler
}

func (h *httpRoutes) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", h.dashboard)
	mux.Handle(api.Prefix, h.api)
	mux.Handle("GET /metrics", h.metrics)
	mux.HandleFunc("/{app}/{name}", h.stream)
	return mux
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
	default:
		http.NotFound(w, r)
	}
}

func corsPreflight(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE, PATCH, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// dashboard is a plain list of live streams until the web UI lands.
func (h *httpRoutes) dashboard(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><meta charset=utf-8><title>Sluice</title><h1>Sluice</h1><ul>")
	for _, s := range h.hub.Streams() {
		p := html.EscapeString(s.Path())
		fmt.Fprintf(w, `<li>%s — <a href="/%s.flv">HTTP-FLV</a></li>`, p, p)
	}
	fmt.Fprint(w, "</ul>")
}
