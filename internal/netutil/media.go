package netutil

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// WriteMedia answers with immutable media bytes (HLS/DASH init sections,
// parts, segments), written slice by slice without copying them into one
// buffer. The caller sets CORS headers.
//
// Over HTTP/1.x the connection's write timeout (ConnLimiter) bounds the
// writes. Over HTTP/2 a peer can stall a stream without stalling the
// socket, by granting no flow-control window (RFC 9113 §5.2), so the
// writes run under a stream write deadline instead, renewed per piece like
// the connection's: the request's context carries the timeout
// (ConnLimiter.ConnContext).
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
	l, _ := r.Context().Value(limiterKey{}).(*ConnLimiter)
	if r.ProtoMajor != 2 || l == nil || l.WriteTimeout <= 0 {
		for _, d := range data {
			if _, err := w.Write(d); err != nil {
				return
			}
		}
		return
	}
	sd := streamDeadline{rc: http.NewResponseController(w)}
	var dl WriteDeadline
	for _, d := range data {
		for len(d) > 0 {
			piece := d[:min(len(d), writePiece)]
			if err := dl.Extend(sd, l.WriteTimeout); err != nil {
				return
			}
			if _, err := w.Write(piece); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					l.streamWriteTimedOut(r.RemoteAddr)
				}
				return
			}
			d = d[len(piece):]
		}
	}
}

// streamDeadline sets an HTTP/2 stream's write deadline.
type streamDeadline struct{ rc *http.ResponseController }

func (s streamDeadline) SetWriteDeadline(t time.Time) error {
	if err := s.rc.SetWriteDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// limiterKey carries a request's ConnLimiter in its context.
type limiterKey struct{}

// ConnContext is an http.Server.ConnContext hook: it lets WriteMedia find
// the limiter's write timeout for HTTP/2 streams.
func (l *ConnLimiter) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, limiterKey{}, l)
}
