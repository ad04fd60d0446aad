// Package web serves Sluice's browser pages: the player page at /APP/NAME
// (HTTP-FLV, WS-FLV, LL-HLS, DASH and WHEP with a protocol switcher and a
// live latency and bitrate readout), the dashboard at / (live streams from
// the REST API) and their static files under /static/.
//
// Everything is embedded in the binary. The player libraries (hls.js,
// dash.js, mpegts.js) are copied into static/vendor/ by `make web` from the
// npm packages pinned in web/package.json; a binary built without them still
// runs and its pages say how to build them.
//
// It is a leaf package: it imports only the standard library.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
)

//go:embed static templates
var embedded embed.FS

// StaticPrefix is the URL prefix of the static files (a reserved first
// path segment, docs/contract.md).
const StaticPrefix = "/static/"

// vendorFiles are the player libraries the pages load, by file name under
// static/vendor/, with the global each one defines.
var vendorFiles = []struct{ file, global string }{
	{"mpegts.js", "mpegts"},
	{"hls.min.js", "Hls"},
	{"dash.all.min.js", "dashjs"},
}

// Options configure a Handler.
type Options struct {
	// FS holds the "static" and "templates" directories; default: the
	// files embedded in the binary. Tests substitute their own.
	FS fs.FS
	// Logger receives template errors; default slog.Default().
	Logger *slog.Logger
}

// Handler serves the pages and static files. Build it with New; it is safe
// for concurrent use and holds no mutable state.
type Handler struct {
	log       *slog.Logger
	assets    *assets
	player    *template.Template
	dashboard *template.Template
}

// New parses the templates and indexes the static files.
func New(o Options) (*Handler, error) {
	if o.FS == nil {
		o.FS = embedded
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a, err := loadAssets(o.FS)
	if err != nil {
		return nil, err
	}
	h := &Handler{log: o.Logger, assets: a}
	funcs := template.FuncMap{"asset": a.url}
	if h.player, err = template.New("player.html").Funcs(funcs).ParseFS(o.FS, "templates/layout.html", "templates/player.html"); err != nil {
		return nil, err
	}
	if h.dashboard, err = template.New("dashboard.html").Funcs(funcs).ParseFS(o.FS, "templates/layout.html", "templates/dashboard.html"); err != nil {
		return nil, err
	}
	return h, nil
}

// MustNew is New for the embedded files, which are checked by the package's
// tests; it panics on an error.
func MustNew() *Handler {
	h, err := New(Options{})
	if err != nil {
		panic("web: " + err.Error())
	}
	return h
}

// page is what the templates see.
type page struct {
	// Title is the document title.
	Title string
	// Path is the stream path APP/NAME on the player page; empty on the
	// dashboard.
	Path string
	// Missing lists the vendor files absent from this build.
	Missing []string
}

// Dashboard serves GET / : the live streams, polled from /api/v1/streams.
func (h *Handler) Dashboard(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, h.dashboard, page{Title: "Sluice", Missing: h.assets.missing})
}

// Player serves the player page of the stream at path (APP/NAME, already
// validated by the caller).
func (h *Handler) Player(w http.ResponseWriter, r *http.Request, path string) {
	h.render(w, r, h.player, page{Title: path + " · Sluice", Path: path, Missing: h.assets.missing})
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, t *template.Template, p page) {
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		h.log.Error("web: render page", "template", t.Name(), "path", r.URL.Path, "err", err)
		http.Error(w, "page could not be rendered", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.Bytes())
}

// Static serves GET /static/... : the page scripts and styles, and the
// vendored player libraries (with a year-long immutable Cache-Control: the
// pages link them with a content hash in the query).
func (h *Handler) Static() http.Handler { return h.assets }
