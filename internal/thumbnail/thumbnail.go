// Package thumbnail makes JPEG thumbnails of live streams: the newest
// keyframe of a stream decoded by one ffmpeg run on demand, cached for a
// few seconds. Concurrent requests for one stream share one run
// (singleflight), and a semaphore bounds the runs of all streams together.
package thumbnail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// Errors Get returns; callers map them to answers (404, 503).
var (
	// ErrNoStream: no stream is live at the path.
	ErrNoStream = errors.New("thumbnail: no such stream")
	// ErrNoKeyframe: the stream is live but holds no video keyframe (an
	// audio-only stream, or one waiting for its next keyframe).
	ErrNoKeyframe = errors.New("thumbnail: the stream has no video keyframe")
	// ErrBusy: too many thumbnails are being made; try again later.
	ErrBusy = errors.New("thumbnail: too many thumbnails in progress")
)

// Source gives the keyframes thumbnails show (the hub's GOP cache).
type Source interface {
	// LatestKeyframe returns the newest video keyframe of the stream at
	// path (packets are immutable), nil if it has none; live is false
	// when no stream is live at path.
	LatestKeyframe(path string) (key *av.Packet, live bool)
}

// Options configure a Maker; zero fields take the defaults stated.
type Options struct {
	// Source gives the keyframes. Required.
	Source Source
	// FFmpeg is the ffmpeg program. Default "ffmpeg" (from PATH).
	FFmpeg string
	// CacheFor is how long a thumbnail is served again before a newer
	// keyframe is decoded. Default 5 s. While the stream's newest keyframe
	// is the one shown, the thumbnail is served without decoding anyway.
	CacheFor time.Duration
	// MaxConcurrent bounds the ffmpeg runs of all streams together.
	// Default 2.
	MaxConcurrent int
	// Timeout bounds one thumbnail: waiting for a run slot plus the
	// ffmpeg run. Default 10 s.
	Timeout time.Duration
	// MaxStreams bounds the streams whose thumbnails are cached; when
	// every slot is taken by a thumbnail younger than CacheFor, a request
	// for another stream gets ErrBusy. Default 1024.
	MaxStreams int
	// Logger receives one line per made or failed thumbnail. Default
	// slog.Default().
	Logger *slog.Logger
}

// Stats counts thumbnail requests since the Maker was made.
type Stats struct {
	// Made counts thumbnails decoded (one ffmpeg run each); Failed those
	// that could not be (ffmpeg failed, timed out or found no slot).
	Made, Failed uint64
	// Cached counts requests answered without a run of their own: from
	// the cache or by sharing a run in flight.
	Cached uint64
}

// Maker makes and caches thumbnails. It is safe for concurrent use.
type Maker struct {
	opts Options
	sem  chan struct{}

	mu      sync.Mutex
	entries map[string]*entry

	made, failed, cached atomic.Uint64
}

// entry is one stream's thumbnail, the one in progress, or both.
type entry struct {
	jpeg []byte     // nil until the first run succeeds
	key  *av.Packet // the keyframe jpeg shows
	at   time.Time  // when jpeg was made
	run  *run       // in flight, nil when none
}

// run is one ffmpeg run that every concurrent request of a stream waits
// for.
type run struct {
	done chan struct{} // closed when jpeg and err are set
	jpeg []byte
	err  error
}

// New returns a Maker with opts' defaults filled in.
func New(opts Options) *Maker {
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	if opts.CacheFor <= 0 {
		opts.CacheFor = 5 * time.Second
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 2
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Maker{opts: opts, sem: make(chan struct{}, opts.MaxConcurrent), entries: map[string]*entry{}}
}

// Stats returns the counters.
func (m *Maker) Stats() Stats {
	return Stats{Made: m.made.Load(), Failed: m.failed.Load(), Cached: m.cached.Load()}
}

// Get returns a JPEG of the newest keyframe of the stream at path: the
// cached one while it is younger than CacheFor or still shows the newest
// keyframe, else a new one (shared with every concurrent request for the
// stream). ctx ends only this caller's wait, not a run others share.
func (m *Maker) Get(ctx context.Context, path string) ([]byte, error) {
	key, live := m.opts.Source.LatestKeyframe(path)
	m.mu.Lock()
	e := m.entries[path]
	if !live {
		if e != nil && e.run == nil {
			delete(m.entries, path)
		}
		m.mu.Unlock()
		return nil, ErrNoStream
	}
	if e != nil && e.jpeg != nil && (e.key == key || time.Since(e.at) < m.opts.CacheFor) {
		jpeg := e.jpeg
		m.mu.Unlock()
		m.cached.Add(1)
		return jpeg, nil
	}
	if e != nil && e.run != nil {
		r := e.run
		m.mu.Unlock()
		m.cached.Add(1)
		return wait(ctx, r)
	}
	if key == nil {
		m.mu.Unlock()
		return nil, ErrNoKeyframe
	}
	if e == nil {
		if !m.makeRoomLocked() {
			m.mu.Unlock()
			return nil, ErrBusy
		}
		e = &entry{}
		m.entries[path] = e
	}
	r := &run{done: make(chan struct{})}
	e.run = r
	m.mu.Unlock()

	// The run outlives a caller that gives up: others may wait for it.
	go m.make(path, e, r, key)
	return wait(ctx, r)
}

// wait returns r's result, or ctx's error if ctx ends first.
func wait(ctx context.Context, r *run) ([]byte, error) {
	select {
	case <-r.done:
		return r.jpeg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// makeRoomLocked drops cached thumbnails older than CacheFor (not in
// flight) until a new entry fits under MaxStreams. Caller holds m.mu.
func (m *Maker) makeRoomLocked() bool {
	if len(m.entries) < m.opts.MaxStreams {
		return true
	}
	for p, e := range m.entries {
		if e.run == nil && time.Since(e.at) >= m.opts.CacheFor {
			delete(m.entries, p)
		}
	}
	return len(m.entries) < m.opts.MaxStreams
}

// make runs ffmpeg for r (waiting for a slot first), then publishes the
// result to e and to r's waiters.
func (m *Maker) make(path string, e *entry, r *run, key *av.Packet) {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.Timeout)
	defer cancel()
	start := time.Now()
	select {
	case m.sem <- struct{}{}:
		r.jpeg, r.err = m.decode(ctx, key)
		<-m.sem
	case <-ctx.Done():
		r.err = fmt.Errorf("%w (waited %s for a slot)", ErrBusy, m.opts.Timeout)
	}
	// Counted before the waiters wake, so a caller sees its run in Stats.
	if r.err != nil {
		m.failed.Add(1)
		m.opts.Logger.Warn("thumbnail failed", "path", path, "err", r.err.Error())
	} else {
		m.made.Add(1)
		m.opts.Logger.Debug("thumbnail made", "path", path, "bytes", len(r.jpeg),
			"width", key.Track.Width, "height", key.Track.Height, "took", time.Since(start).Round(time.Millisecond).String())
	}
	m.mu.Lock()
	e.run = nil
	if r.err == nil {
		e.jpeg, e.key, e.at = r.jpeg, key, time.Now()
	}
	m.mu.Unlock()
	close(r.done)
}
