package netutil

import (
	"net/http"
	"strconv"
)

// WriteMedia answers with immutable media bytes (HLS/DASH init sections,
// parts, segments), written slice by slice without copying them into one
// buffer. The caller sets CORS headers.
func WriteMedia(w http.ResponseWriter, r *http.Request, contentType string, data ...[]byte) {
	n := 0
	for _, d := range data {
		n += len(d)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age=86400, immutable")
	h.Set("Content-Length", strconv.Itoa(n))
	if r.Method == http.MethodHead {
		return
	}
	for _, d := range data {
		if _, err := w.Write(d); err != nil {
			return
		}
	}
}
