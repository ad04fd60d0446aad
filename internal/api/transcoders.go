package api

import (
	"net/http"
	"time"
)

// Transcoder is one running ABR ladder, as GET /api/v1/transcoders reports.
type Transcoder struct {
	// Source is the source stream path.
	Source string `json:"source"`
	// Renditions are the stream paths the ladder publishes.
	Renditions []string `json:"renditions"`
	// State is "running" (an ffmpeg process is up) or "restarting".
	State string `json:"state"`
	// Speed is media time transcoded per wall time (1.0 = real time).
	Speed float64 `json:"speed"`
	// Restarts counts ffmpeg restarts since the source started.
	Restarts int `json:"restarts"`
	// Since is when the ladder started.
	Since time.Time `json:"since"`
}

func (s *Server) listTranscoders(w http.ResponseWriter, r *http.Request) {
	out := []Transcoder{}
	if s.opts.Transcoders != nil {
		out = append(out, s.opts.Transcoders()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"transcoders": out})
}
