// Package record writes live streams to crash-safe fragmented MP4 files,
// rotates and deletes them, and indexes them for playback by time (an MP4
// clip, an HLS VOD playlist of byte ranges).
//
// Files are DIR/APP/NAME/YYYY-MM-DDTHH-MM-SS.mmmZ.mp4, named for the wall
// clock (UTC) of their first sample: an init section (ftyp+moov), then one
// moof+mdat fragment per Options.PartDuration and at every video
// keyframe, each fsynced as it is written, so a crash or power loss leaves
// a file that plays up to its last complete fragment. A file starts at a
// video keyframe; a new one begins every Options.SegmentDuration and when
// the publisher reconnects or its codec configuration changes.
package record

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/hub"
)

// Options configure a Manager. Zero values take the documented defaults.
type Options struct {
	// Dir is the directory recordings are written under. Default
	// "./recordings".
	Dir string
	// PartDuration is the media time of one fragment: at most this much
	// is lost in a crash. Default 1 s.
	PartDuration time.Duration
	// SegmentDuration is the media time after which a new file starts (at
	// the next keyframe). Default 1 h.
	SegmentDuration time.Duration
	// RetryAfter is how long a recording stopped by a write error waits
	// before it tries a new file. Default 10 s.
	RetryAfter time.Duration
	// DeleteAfter deletes files whose last write is older than this; 0
	// keeps them. Default 0.
	DeleteAfter time.Duration
	// MaxBytes returns the size cap of one path's files in bytes (oldest
	// closed files are deleted past it); 0 or a nil func: no cap.
	MaxBytes func(path string) int64
	// Enabled reports whether the stream at path is recorded. Required.
	Enabled func(path string) bool
	// OnSegment, if set, is called (in the recorder's goroutine; it must
	// not block) when a file is closed.
	OnSegment func(Segment)
	// Store, if set, receives every closed file as
	// recordings/APP/NAME/FILE.mp4 (upload.go); a file whose upload fails
	// stays on disk and is tried again.
	Store FileStore
	// DeleteLocalAfterUpload removes a file once it is uploaded to Store.
	DeleteLocalAfterUpload bool
	// UploadRetry is how often files not yet uploaded are looked for
	// (files of an earlier run, files a full queue left out), and the
	// longest back-off after failed uploads. Default 30 s.
	UploadRetry time.Duration
	// UploadQueue bounds the files queued for upload; more wait for the
	// next look. Default 256.
	UploadQueue int
	// OpenFile creates a recording file; default os.OpenFile with
	// O_CREATE|O_EXCL|O_WRONLY. Tests inject write errors with it.
	OpenFile func(name string) (File, error)
	// Logger receives one line per recording event. Default slog.Default().
	Logger *slog.Logger
	// Now returns the wall clock. Default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Dir == "" {
		o.Dir = "./recordings"
	}
	if o.PartDuration <= 0 {
		o.PartDuration = time.Second
	}
	if o.SegmentDuration <= 0 {
		o.SegmentDuration = time.Hour
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 10 * time.Second
	}
	if o.UploadRetry <= 0 {
		o.UploadRetry = 30 * time.Second
	}
	if o.UploadQueue <= 0 {
		o.UploadQueue = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OpenFile == nil {
		o.OpenFile = func(name string) (File, error) {
			return os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		}
	}
}

// Segment describes a closed recording file (the on_record_segment hook).
type Segment struct {
	// Path is the stream path APP/NAME.
	Path string
	// File is the file's path (under Options.Dir).
	File string
	// Start is the wall-clock time of its first sample.
	Start time.Time
	// Duration is its media duration.
	Duration time.Duration
	// Size is its size in bytes.
	Size int64
}

// Manager records the streams of a hub: StreamStarted starts a recorder
// for every enabled stream, each in its own goroutine, writing until the
// stream ends.
type Manager struct {
	opts Options
	hub  *hub.Hub
	// Catalog indexes the files for listing and playback.
	Catalog *Catalog
	// up uploads closed files; nil without Options.Store.
	up *uploader
	// held are the files retention keeps because they await their upload
	// (logged once each).
	heldMu sync.Mutex
	held   map[string]bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	active map[string]bool // path → a recorder runs
	open   map[string]bool // file being written → true
	closed bool

	errors atomic.Uint64
	bytes  atomic.Uint64
}

// New returns a Manager writing streams of h; it starts the retention
// sweep when opts.DeleteAfter or opts.MaxBytes is set.
func New(h *hub.Hub, opts Options) *Manager {
	opts.setDefaults()
	m := &Manager{opts: opts, hub: h, active: map[string]bool{}, open: map[string]bool{}}
	m.Catalog = NewCatalog(opts.Dir)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if opts.DeleteAfter > 0 || opts.MaxBytes != nil {
		m.wg.Add(1)
		go m.sweepLoop()
	}
	if opts.Store != nil {
		m.up = newUploader(m)
	}
	return m
}

// Dir returns the recordings directory.
func (m *Manager) Dir() string { return m.opts.Dir }

// Errors returns how many write errors stopped a recording
// (sluice_record_errors_total).
func (m *Manager) Errors() uint64 { return m.errors.Load() }

// BytesWritten returns the bytes written to recordings
// (sluice_record_bytes_total).
func (m *Manager) BytesWritten() uint64 { return m.bytes.Load() }

// Active returns how many streams are being recorded.
func (m *Manager) Active() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.active)
}

// StreamStarted records the stream at path if it is enabled (hub
// Options.OnStreamStart).
func (m *Manager) StreamStarted(path string) {
	if m.opts.Enabled == nil || !m.opts.Enabled(path) {
		return
	}
	m.mu.Lock()
	if m.closed || m.active[path] {
		m.mu.Unlock()
		return
	}
	m.active[path] = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		m.follow(path)
		m.mu.Lock()
		delete(m.active, path)
		m.mu.Unlock()
	}()
}

// Close waits (at most wait) for the recorders to write their last
// fragment once their streams have ended (close the hub first), then
// stops them and the retention sweep, and lets the uploads of the last
// files finish for up to a second (the rest are uploaded at the next
// start).
func (m *Manager) Close(wait time.Duration) {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	m.cancel()
	<-done
	if m.up != nil {
		m.up.close(uploadStopWait)
	}
}

// fileDone hands a file that will not be written again to the uploader.
func (m *Manager) fileDone(name string) {
	if m.up != nil {
		m.up.enqueue(name)
	}
}

// setOpen marks a file as being written (retention and uploads leave it
// alone).
func (m *Manager) setOpen(name string, open bool) {
	m.mu.Lock()
	if open {
		m.open[name] = true
	} else {
		delete(m.open, name)
	}
	m.mu.Unlock()
}

func (m *Manager) isOpen(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.open[name]
}

// follow records the stream at path until it ends; a recorder dropped as
// too slow (the disk stalls) subscribes again, in a new file.
func (m *Manager) follow(path string) {
	log := m.opts.Logger.With("proto", "record", "path", path)
	for {
		rd, err := m.hub.Subscribe(m.ctx, path, hub.ClientInfo{Protocol: "record", Remote: "local"})
		if err != nil {
			if !errors.Is(err, hub.ErrNotFound) && !errors.Is(err, hub.ErrEnded) && m.ctx.Err() == nil {
				log.Warn("recording not started", "err", err.Error())
			}
			return
		}
		r := &recorder{m: m, path: path, rd: rd, log: log}
		err = r.run(m.ctx)
		rd.Close()
		if !errors.Is(err, hub.ErrLagging) || m.ctx.Err() != nil {
			return
		}
		log.Warn("recorder fell behind the stream, restarting in a new file")
	}
}

// dirOf is the directory of path's files.
func (m *Manager) dirOf(path string) string {
	return filepath.Join(m.opts.Dir, filepath.FromSlash(path))
}
