package api

import (
	"net/http"
	"time"

	"github.com/sluicemedia/sluice/internal/streampath"
)

// Recording is one recording file, as GET /api/v1/recordings lists it.
type Recording struct {
	// Path is the stream path APP/NAME.
	Path string `json:"path"`
	// File is the file name in the path's directory under record.dir.
	File string `json:"file"`
	// Start is the wall-clock time (UTC) of its first sample.
	Start time.Time `json:"start"`
	// Duration is its media time in seconds.
	Duration float64 `json:"duration"`
	// Size is its size in bytes.
	Size int64 `json:"size"`
	// Codecs lists its tracks' codecs (h264, aac, ...), video first.
	Codecs []string `json:"codecs"`
}

// listRecordings serves GET /api/v1/recordings[?path=APP/NAME]: the
// recording files of the path (of every path without one), oldest first.
func (s *Server) listRecordings(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	if path != "" {
		if err := streampath.Validate(path); err != nil {
			writeError(w, http.StatusBadRequest, "path: "+err.Error())
			return
		}
	}
	out := []Recording{}
	if s.opts.Recordings != nil {
		recs, err := s.opts.Recordings(path)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out = append(out, recs...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": out})
}
