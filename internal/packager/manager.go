package packager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// Manager starts packagers on demand, one per (stream path, format), and
// stops one after IdleTimeout without a holder: the first request
// subscribes to the hub (whose GOP cache gives the first segment at once).
// It is safe for concurrent use.
type Manager struct {
	// Hub is where streams are read from.
	Hub *hub.Hub
	// Options is the template for every packager (Format is set per
	// Acquire).
	Options Options
	// IdleTimeout stops a packager nobody acquired for this long. Default
	// 30 s.
	IdleTimeout time.Duration
	// EndLinger is how long a packager whose stream ended keeps answering
	// (playlists with EXT-X-ENDLIST, its last segments for players still
	// fetching them) however often it is requested; then it is dropped
	// with its window. Default 10 s, at most IdleTimeout.
	EndLinger time.Duration
	// Logger receives lifecycle logs. Default slog.Default().
	Logger *slog.Logger

	mu      sync.Mutex
	entries map[entryKey]*entry
	closed  bool
	wg      sync.WaitGroup
}

type entryKey struct {
	path   string
	format Format
}

type entry struct {
	key    entryKey
	stream *hub.Stream
	ready  chan struct{} // closed once p or err is set
	p      *Packager
	err    error
	cancel context.CancelFunc
	refs   int
	idle   *time.Timer
	linger *time.Timer // drops the entry EndLinger after its stream ended
}

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("packager: manager closed")

func (m *Manager) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

func (m *Manager) idleTimeout() time.Duration {
	if m.IdleTimeout > 0 {
		return m.IdleTimeout
	}
	return 30 * time.Second
}

// Acquire returns the running packager of path in format f, starting it if
// needed, and a release function the caller must call once done with it.
// A path with no stream fails at once with an error wrapping
// hub.ErrNotFound; a stream whose tracks f cannot carry with one wrapping
// ErrUnsupportedCodec.
func (m *Manager) Acquire(ctx context.Context, path string, f Format) (*Packager, func(), error) {
	key := entryKey{path, f}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, nil, ErrClosed
	}
	if m.entries == nil {
		m.entries = make(map[entryKey]*entry)
	}
	e := m.entries[key]
	if e != nil && e.p != nil && e.p.Ended() {
		// A new stream at the path replaces an ended one.
		if s := m.Hub.Stream(path); s != nil && s != e.stream {
			m.removeLocked(e)
			e = nil
		}
	}
	if e == nil {
		s := m.Hub.Stream(path)
		if s == nil {
			m.mu.Unlock()
			return nil, nil, fmt.Errorf("packager: %s: %w", path, hub.ErrNotFound)
		}
		e = &entry{key: key, stream: s, ready: make(chan struct{})}
		m.entries[key] = e
		m.start(e)
	}
	e.refs++
	if e.idle != nil {
		e.idle.Stop()
		e.idle = nil
	}
	m.mu.Unlock()

	release := m.releaser(e)
	select {
	case <-e.ready:
	case <-ctx.Done():
		release()
		return nil, nil, ctx.Err()
	}
	if e.err != nil {
		release()
		m.mu.Lock()
		if m.entries[key] == e {
			m.removeLocked(e)
		}
		m.mu.Unlock()
		return nil, nil, e.err
	}
	return e.p, release, nil
}

// Lookup returns the running packager of path in format f without
// starting one (nil if none), with a release function as for Acquire.
func (m *Manager) Lookup(path string, f Format) (*Packager, func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[entryKey{path, f}]
	if e == nil || e.p == nil {
		return nil, nil
	}
	e.refs++
	if e.idle != nil {
		e.idle.Stop()
		e.idle = nil
	}
	return e.p, m.releaser(e)
}

func (m *Manager) endLinger() time.Duration {
	if m.EndLinger > 0 {
		return min(m.EndLinger, m.idleTimeout())
	}
	return min(10*time.Second, m.idleTimeout())
}

// ended schedules e's removal once its packager stopped (the stream
// ended, or an error), so an ended stream's window does not wait for the
// idle timeout of its last viewers' polling.
func (m *Manager) ended(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries[e.key] != e || m.closed {
		return
	}
	e.linger = time.AfterFunc(m.endLinger(), func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.entries[e.key] == e {
			m.logger().Debug("packager ended, dropping", "path", e.key.path, "format", e.key.format.String())
			m.removeLocked(e)
		}
	})
}

func (m *Manager) releaser(e *entry) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			e.refs--
			if e.refs == 0 && m.entries[e.key] == e && !m.closed {
				e.idle = time.AfterFunc(m.idleTimeout(), func() { m.expire(e) })
			}
		})
	}
}

func (m *Manager) expire(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.refs == 0 && m.entries[e.key] == e {
		m.logger().Debug("packager idle, stopping", "path", e.key.path, "format", e.key.format.String())
		m.removeLocked(e)
	}
}

// removeLocked stops e and forgets it. Caller holds mu.
func (m *Manager) removeLocked(e *entry) {
	if e.idle != nil {
		e.idle.Stop()
		e.idle = nil
	}
	if e.linger != nil {
		e.linger.Stop()
		e.linger = nil
	}
	if e.cancel != nil {
		e.cancel()
	}
	if m.entries[e.key] == e {
		delete(m.entries, e.key)
	}
}

// start subscribes e's packager to the hub in a goroutine. Caller holds mu.
func (m *Manager) start(e *entry) {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		log := m.logger().With("path", e.key.path, "format", e.key.format.String())
		finish := func(p *Packager, stream *hub.Stream, err error) {
			m.mu.Lock()
			e.p, e.err = p, err
			if stream != nil {
				e.stream = stream
			}
			m.mu.Unlock()
			close(e.ready)
		}
		r, err := m.Hub.Subscribe(ctx, e.key.path, hub.ClientInfo{Protocol: "hls", Remote: "packager"})
		if err != nil {
			finish(nil, nil, fmt.Errorf("packager: subscribe %s: %w", e.key.path, err))
			return
		}
		if e.key.format == FormatMPEGTS {
			// AAC derived from an Opus publisher; MP3 as published (hls.js
			// plays it from MPEG-TS through an audio/mpeg buffer, Safari,
			// VLC and ffmpeg natively), never Opus derived for WebRTC.
			r.PreferAudio(av.CodecAAC, av.CodecMP3)
		} else {
			// AAC and Opus as published; for an MP3 publisher the Opus
			// derived for its whole life (internal/transcode), since MSE
			// in browsers takes no MP3 in MP4; MP3 itself (mp4a.6B) when
			// no bridge runs (no ffmpeg).
			r.PreferAudio(av.CodecAAC, av.CodecOpus, av.CodecMP3)
		}
		opts := m.Options
		opts.Format = e.key.format
		opts.Logger = log
		p := New(opts)
		video, audio := readerTracks(ctx, r, e.key.format)
		if err := p.SetTracks(video, audio); err != nil {
			r.Close()
			finish(nil, nil, err)
			return
		}
		finish(p, r.Stream(), nil)
		log.Debug("packager started", "session", p.SessionID())
		m.run(ctx, e, p, r, log)
		m.ended(e)
	}()
}

// Restart budget: a packager whose reader or muxer fails while its stream
// is live is restarted (resubscribed, continuing its window with a
// discontinuity) at most maxRestarts times per restartWindow, each after
// restartDelay; beyond that it ends, and playlists say EXT-X-ENDLIST.
const (
	maxRestarts   = 5
	restartWindow = time.Minute
	restartDelay  = 200 * time.Millisecond
)

// run feeds p from r, restarting it on failures while e's stream is live,
// until the stream ends or ctx is done; it ends p and closes r.
func (m *Manager) run(ctx context.Context, e *entry, p *Packager, r *hub.Reader, log *slog.Logger) {
	var restarts []time.Time
	for {
		err := p.feed(ctx, r)
		r.Close()
		switch {
		case errors.Is(err, hub.ErrEnded):
			p.End(nil)
			return
		case ctx.Err() != nil:
			p.End(ctx.Err())
			return
		case errors.Is(err, hub.ErrKicked), errors.Is(err, hub.ErrClosed):
			// Stopped on purpose (an operator's kick, shutdown).
			p.End(err)
			log.Warn("packager stopped", "reason", err.Error())
			return
		}
		now := time.Now()
		for len(restarts) > 0 && now.Sub(restarts[0]) > restartWindow {
			restarts = restarts[1:]
		}
		if len(restarts) >= maxRestarts {
			p.End(err)
			log.Warn("packager stopped", "reason", err.Error(), "restarts", len(restarts))
			return
		}
		restarts = append(restarts, now)
		log.Warn("packager restarting", "reason", err.Error(), "session", p.SessionID())
		select {
		case <-time.After(restartDelay):
		case <-ctx.Done():
			p.End(ctx.Err())
			return
		}
		r, err = m.Hub.Subscribe(ctx, e.key.path, hub.ClientInfo{Protocol: "hls", Remote: "packager"})
		if err != nil {
			p.End(nil) // the stream is gone: its playlist ends
			return
		}
		if r.Stream() != e.stream {
			// A new stream at the path: Acquire starts a new packager.
			r.Close()
			p.End(nil)
			return
		}
		if e.key.format == FormatMPEGTS {
			r.PreferAudio(av.CodecAAC)
		}
		if err := p.restart(r.Tracks()); err != nil {
			r.Close()
			p.End(err)
			log.Warn("packager stopped", "reason", err.Error())
			return
		}
	}
}

// Close stops every packager and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for _, e := range m.entries {
		m.removeLocked(e)
	}
	m.mu.Unlock()
	m.wg.Wait()
}
