package record

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// recorder writes one subscription of a stream to files.
type recorder struct {
	m    *Manager
	path string
	rd   *hub.Reader
	log  *slog.Logger

	cur *fileWriter
	// retryAt is when a recording stopped by an error may start a new
	// file; failed is set while it is stopped.
	retryAt time.Time
	failed  bool
	// rotateNext: a new track or a reconnect waits for the next video
	// keyframe to start a new file.
	rotateNext bool
}

// run reads the stream until it ends (the error says why) and closes the
// last file.
func (r *recorder) run(ctx context.Context) error {
	defer r.closeFile()
	buf := make([]*av.Packet, 0, 64)
	for {
		var err error
		buf, err = r.rd.Read(ctx, buf[:0])
		for _, pkt := range buf {
			r.write(pkt)
		}
		if err != nil {
			return err
		}
	}
}

// write adds pkt to the current file, starting a new one first when
// needed and possible (files start at a video keyframe).
func (r *recorder) write(pkt *av.Packet) {
	o := &r.m.opts
	video := pkt.Kind() == av.KindVideo
	if r.cur != nil {
		t := r.cur.trackFor(pkt)
		rotate := t == nil || pkt.Discontinuity || r.rotateNext || pkt.DTS-r.cur.startDTS >= o.SegmentDuration
		canStart := video && pkt.Key || !r.expectsVideo(pkt)
		if rotate && !canStart && (t == nil || pkt.Discontinuity) {
			r.rotateNext = true
		}
		switch {
		case rotate && canStart:
			r.closeFile()
		case t == nil:
			return // a new track waits for the next file
		default:
			if err := r.cur.add(t, pkt, o.PartDuration); err != nil {
				r.fail(err)
				return
			}
			r.m.bytes.Add(uint64(len(pkt.Data)))
			return
		}
	}
	if video && !pkt.Key || !video && r.expectsVideo(pkt) {
		return // files start at a keyframe
	}
	if o.Now().Before(r.retryAt) {
		return
	}
	if err := r.openFile(pkt); err != nil {
		r.fail(err)
		return
	}
	if err := r.cur.add(r.cur.trackFor(pkt), pkt, o.PartDuration); err != nil {
		r.fail(err)
	}
}

// expectsVideo reports whether the stream carries video, so an audio
// packet cannot start a file.
func (r *recorder) expectsVideo(pkt *av.Packet) bool {
	if r.cur != nil && r.cur.hasKind(av.KindVideo) {
		return true
	}
	v, _ := r.rd.Stream().Tracks()
	hasV, _ := r.rd.Stream().Kinds()
	return v != nil || hasV
}

// fileName is the file of a recording starting at start:
// DIR/APP/NAME/2026-12-02T10-00-00.123Z.mp4.
func fileName(dir string, start time.Time) string {
	return filepath.Join(dir, start.UTC().Format(fileTimeLayout)+".mp4")
}

// fileTimeLayout is the time in file names: RFC 3339 in UTC with
// milliseconds and "-" for ":" (portable file names).
const fileTimeLayout = "2006-01-02T15-04-05.000Z"

// openFile starts a file whose first sample is pkt.
func (r *recorder) openFile(pkt *av.Packet) error {
	start := pkt.Arrival
	if start.IsZero() {
		start = r.m.opts.Now()
	}
	start = start.UTC().Truncate(time.Millisecond)
	dir := r.m.dirOf(r.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("record: create %s: %w", dir, err)
	}
	video, audio := r.rd.Stream().Tracks()
	if pkt.Kind() == av.KindVideo {
		video = pkt.Track
	} else {
		audio = pkt.Track
	}
	if audio != nil && audio.Derived {
		audio = nil
	}
	var f File
	var name string
	var err error
	for i := 0; i < 10; i++ { // two files within one millisecond
		name = fileName(dir, start)
		// A closed file of that name may wait for its upload: marking it
		// open, even briefly, would make the uploader pass it over.
		if _, serr := os.Lstat(name); serr == nil {
			err = os.ErrExist
			start = start.Add(time.Millisecond)
			continue
		}
		// Open before it exists: the upload scan never takes a file
		// being created.
		r.m.setOpen(name, true)
		if f, err = r.m.opts.OpenFile(name); err == nil {
			break
		}
		r.m.setOpen(name, false)
		if !os.IsExist(err) {
			break
		}
		start = start.Add(time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("record: create file: %w", err)
	}
	w, err := newFileWriter(f, name, start, pkt.DTS, video, audio)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(name)
		r.m.setOpen(name, false)
		return err
	}
	r.m.bytes.Add(uint64(len(w.init)))
	r.cur = w
	r.rotateNext = false
	if r.failed {
		r.failed = false
		r.log.Info("recording resumed", "file", name)
	} else {
		r.log.Debug("recording file started", "file", name)
	}
	return nil
}

// closeFile ends the current file and reports it.
func (r *recorder) closeFile() {
	w := r.cur
	if w == nil {
		return
	}
	r.cur = nil
	err := w.close()
	r.m.setOpen(w.name, false)
	if err != nil {
		r.fail(err)
	}
	r.m.Catalog.Invalidate(w.name)
	r.m.fileDone(w.name)
	seg := Segment{Path: r.path, File: w.name, Start: w.start, Duration: w.dur, Size: w.size}
	r.log.Info("recording file closed", "file", w.name, "duration", w.dur.Round(time.Millisecond).String(), "bytes", w.size)
	if r.m.opts.OnSegment != nil {
		r.m.opts.OnSegment(seg)
	}
}

// fail stops the recording after a write error: the file keeps what was
// written (it plays up to its last complete fragment), the stream goes
// on, and a new file is tried after RetryAfter.
func (r *recorder) fail(err error) {
	r.m.errors.Add(1)
	if w := r.cur; w != nil {
		r.cur = nil
		w.abort()
		r.m.setOpen(w.name, false)
		r.m.Catalog.Invalidate(w.name)
		// It plays up to its last complete fragment: upload that.
		r.m.fileDone(w.name)
	}
	r.retryAt = r.m.opts.Now().Add(r.m.opts.RetryAfter)
	if !r.failed {
		r.failed = true
		r.log.Error("recording stopped: write failed; the stream goes on, retrying", "err", err.Error(),
			"retry_in", r.m.opts.RetryAfter.String())
		return
	}
	r.log.Debug("recording still failing", "err", err.Error())
}
