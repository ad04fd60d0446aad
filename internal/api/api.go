// Package api is Sluice's REST control plane: JSON under /api/v1 to list
// streams and their viewers, read server facts, and kick publishers and
// viewers. It sees the hub only through the small Hub interface declared
// here; docs/api.md documents every endpoint.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sluicemedia/sluice/internal/hub"
)

// Hub is what the API needs from the stream hub. The app adapts *hub.Hub.
type Hub interface {
	// Streams returns a snapshot of every live stream, sorted by path.
	Streams() []hub.Stats
	// Stream returns a snapshot of the stream at path, or false.
	Stream(path string) (hub.Stats, bool)
	// Clients returns the viewers of the stream at path, or false when no
	// stream is there.
	Clients(path string) ([]hub.ClientStats, bool)
	// KickPublisher ends the stream at path at once, disconnecting its
	// publisher and viewers. It reports false when no stream is there.
	KickPublisher(path, reason string) bool
	// KickClient disconnects the viewer with the given ID. It reports false
	// when no such viewer is attached.
	KickClient(id uint64) bool
}

// Listener is one bound listener, reported by GET /api/v1/server.
type Listener struct {
	// Name is the listener's config section: "rtmp", "rtmps", "http", ...
	Name string `json:"name"`
	// Addr is the bound address, e.g. "[::]:1935".
	Addr string `json:"addr"`
}

// Options configure a Server. Hub is required.
type Options struct {
	// Hub is the stream hub. Required.
	Hub Hub
	// Key, when non-empty, is required on every request as
	// "Authorization: Bearer KEY" or "X-API-Key: KEY". When empty only
	// loopback clients are served (config api.key).
	Key string
	// Version is the server version reported by GET /api/v1/server.
	// Default "dev".
	Version string
	// Started is when the server started, for its uptime. Default: when New
	// was called.
	Started time.Time
	// Listeners returns the bound listeners, called per request. Default
	// none.
	Listeners func() []Listener
	// Transcoders returns the running ABR ladders for
	// GET /api/v1/transcoders. Default none.
	Transcoders func() []Transcoder
	// Recordings lists the recording files of a path ("" for every path)
	// for GET /api/v1/recordings. Default none.
	Recordings func(path string) ([]Recording, error)
	// WebRTC returns the WebRTC session counts for GET /api/v1/server.
	// Default nil: not reported.
	WebRTC func() WebRTCInfo
	// Relay returns the pulled source and forward targets of a stream
	// path for GET /api/v1/streams. Default nil: none.
	Relay func(path string) (*RelaySource, []RelayForward)
	// BitrateWindow is the span over which bitrate_in_kbps is averaged.
	// Default 10 s.
	BitrateWindow time.Duration
	// Logger receives kick logs. Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now (tests replace it).
	Now func() time.Time
	// Cluster answers GET /api/v1/cluster and each stream's owner.
	// Default nil: a single node.
	Cluster ClusterSource
	// Config returns the effective config, secrets redacted, for GET
	// /api/v1/config. Default nil: 404.
	Config func() (any, error)
}

// Server serves the REST API. Create it with New.
type Server struct {
	opts Options
	mux  *http.ServeMux
	rate *rateTracker
}

var _ http.Handler = (*Server)(nil)

// New returns a Server over opts.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Now()
	}
	if opts.BitrateWindow <= 0 {
		opts.BitrateWindow = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), rate: newRateTracker(opts.BitrateWindow)}
	s.routes()
	return s
}

// Prefix is the path every API endpoint starts with; mount the Server on
// it (it expects the full request path, not a stripped one).
const Prefix = "/api/v1/"

func (s *Server) routes() {
	s.handle("/api/v1/server", map[string]http.HandlerFunc{"GET": s.getServer})
	s.handle("/api/v1/streams", map[string]http.HandlerFunc{"GET": s.listStreams})
	s.handle("/api/v1/streams/{app}/{name}", map[string]http.HandlerFunc{"GET": s.getStream})
	s.handle("/api/v1/streams/{app}/{name}/clients", map[string]http.HandlerFunc{"GET": s.listClients})
	s.handle("/api/v1/streams/{app}/{name}/publisher", map[string]http.HandlerFunc{"DELETE": s.kickPublisher})
	s.handle("/api/v1/clients/{id}", map[string]http.HandlerFunc{"DELETE": s.kickClient})
	s.handle("/api/v1/transcoders", map[string]http.HandlerFunc{"GET": s.listTranscoders})
	s.handle("/api/v1/recordings", map[string]http.HandlerFunc{"GET": s.listRecordings})
	s.handle("/api/v1/cluster", map[string]http.HandlerFunc{"GET": s.getCluster})
	s.handle("/api/v1/config", map[string]http.HandlerFunc{"GET": s.getConfig})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path+" (see docs/api.md)")
	})
}

// handle registers one handler per method for path, and a JSON 405 with
// an Allow header for any other method.
func (s *Server) handle(path string, byMethod map[string]http.HandlerFunc) {
	allow := make([]string, 0, len(byMethod)+1)
	for m, h := range byMethod {
		s.mux.HandleFunc(m+" "+path, h)
		allow = append(allow, m)
		if m == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	allowed := strings.Join(allow, ", ")
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+allowed)
	})
}

// ServeHTTP authorizes the request (see Options.Key), then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if status, msg := s.authorize(r); status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		}
		writeError(w, status, msg)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// errorBody is every error response: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// getConfig serves the effective config (Options.Config).
func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	if s.opts.Config == nil {
		writeError(w, http.StatusNotFound, "no config to show")
		return
	}
	cfg, err := s.opts.Config()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "config: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}
