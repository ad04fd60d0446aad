package flvserver

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/fanout"
	"github.com/sluicemedia/sluice/internal/hub"
)

// playGrouped is play for an HTTP/1.1 viewer on a hijacked connection: the
// header goes out here, then a fanout.Viewer writes the stream, with the
// viewer's other HTTP-FLV viewers by a fan-out group's goroutine while it
// keeps up, by a goroutine of its own otherwise (and always over TLS, where
// the socket cannot be written to directly). The handler's goroutine only
// waits.
func (s *Server) playGrouped(ctx context.Context, reader *hub.Reader, hs *hijackedSink) error {
	ctx = hs.context(ctx)
	h, tags := head(reader)
	if err := hs.write([][]byte{h}, time.Now().Add(s.writeTimeout())); err != nil {
		return err
	}
	fv := &flvViewer{nc: hs.nc, tags: tags}
	v := fanout.NewViewer(ctx, &s.groups, hs.nc, reader, s.writeTimeout(), fv)
	v.Start()
	select {
	case <-v.Done():
	case <-ctx.Done():
	}
	v.Stop()
	err := v.Err()
	switch {
	case errors.Is(err, hub.ErrEnded), errors.Is(err, hub.ErrKicked), errors.Is(err, hub.ErrLagging):
		return err
	case err == nil, errors.Is(err, context.Canceled):
		return context.Canceled
	case ctx.Err() != nil:
		return errClientGone
	}
	return err
}

// flvViewer is the fanout.Conn of an HTTP/1.1 viewer: each batch is one
// HTTP chunk, [chunk-size line, tags..., CRLF]. Nothing else writes to the
// connection while the viewer runs (the terminating chunk goes out after
// it has stopped), so there is no lock; a short write hands the rest of the
// chunk, byte-exact, to the viewer's own goroutine.
type flvViewer struct {
	nc   net.Conn
	tags tagState
	size [18]byte // the chunk-size line of the batch being written
}

func (f *flvViewer) AppendBatch(bufs net.Buffers, batch []*av.Packet) net.Buffers {
	i := len(bufs)
	bufs = append(bufs, nil) // the chunk-size line, once the size is known
	bufs = f.tags.appendTags(bufs, batch)
	n := 0
	for _, b := range bufs[i+1:] {
		n += len(b)
	}
	line := strconv.AppendInt(f.size[:0], int64(n), 16)
	bufs[i] = append(line, '\r', '\n')
	return append(bufs, crlf)
}

func (f *flvViewer) TryLockWrite() bool { return true }
func (f *flvViewer) UnlockWrite()       {}
func (f *flvViewer) AddWritten(int)     {}

func (f *flvViewer) WriteBuffers(bufs *net.Buffers, _ bool) error {
	_, err := bufs.WriteTo(f.nc)
	return err
}

// Finish does nothing: playGrouped's caller logs and ends the response
// once the viewer is done.
func (f *flvViewer) Finish(error) {}
