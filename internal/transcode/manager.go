// Package transcode runs the adaptive-bitrate ladder: one ffmpeg process per
// source stream reads the stream from the hub as FLV on stdin and writes each
// rendition as FLV on a pipe of its own; every rendition is published back
// into the hub as a stream (live/cam1_480p), so every protocol can play it.
package transcode

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"sort"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/hub"
)

// Options configure a Manager.
type Options struct {
	// Hub is where sources are read and renditions published.
	Hub *hub.Hub
	// Ladder returns the rungs for a source path; none means no
	// transcoding for it.
	Ladder func(path string) []Rung
	// FFmpeg is the ffmpeg program. Default "ffmpeg" from PATH.
	FFmpeg string
	// GOP is the keyframe interval forced on every rendition. Default 2 s.
	GOP time.Duration
	// Logger receives transcoder logs. Default slog.Default().
	Logger *slog.Logger
	// OnDemand reports whether the ladder of a source path starts only on
	// demand (Ensure) and stops after IdleTimeout without Touch, instead of
	// running from the moment the source stream starts. Default nil: every
	// ladder is always on.
	OnDemand func(path string) bool
	// IdleTimeout stops an on-demand ladder nobody touched for this long.
	// Default 60 s.
	IdleTimeout time.Duration
}

// Manager starts a transcoder for every stream that has a ladder, restarts
// it when ffmpeg dies, and stops it when the stream ends. A ladder that is
// always on starts with its source stream (StreamStarted); an on-demand one
// (Options.OnDemand) starts on Ensure and stops after Options.IdleTimeout
// without Ensure or Touch.
type Manager struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	jobs       map[string]*job
	renditions map[string]string // paths we publish → their source: never transcoded again
}

// CheckFFmpeg reports a clear error when the ffmpeg program is missing;
// call it at startup only if some ladder is configured.
func CheckFFmpeg(program string) error {
	if program == "" {
		program = "ffmpeg"
	}
	if _, err := exec.LookPath(program); err != nil {
		return errors.New("transcode: a ladder is configured but the ffmpeg program was not found in PATH (install it, e.g. apt-get install ffmpeg)")
	}
	return nil
}

// New returns a Manager; wire StreamStarted to hub.Options.OnStreamStart.
func New(opts Options) *Manager {
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	if opts.GOP <= 0 {
		opts.GOP = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{opts: opts, ctx: ctx, cancel: cancel, jobs: map[string]*job{}, renditions: map[string]string{}}
}

func (m *Manager) onDemand(path string) bool {
	return m.opts.OnDemand != nil && m.opts.OnDemand(path)
}

// StreamStarted starts the ladder of path if it has one that is always on;
// an on-demand ladder waits for Ensure.
func (m *Manager) StreamStarted(path string) {
	if m.opts.Ladder == nil || m.onDemand(path) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.startLocked(path, false)
}

// Ensure starts the ladder of the source stream at path if it has one and
// is not running yet, and counts as a use of it (see Touch). It reports
// whether a ladder is running for path; false when path has no ladder, is
// itself a rendition, or has no stream. Ensure does not wait for the
// renditions: they appear as hub streams once ffmpeg's first output comes.
func (m *Manager) Ensure(path string) bool {
	if m.opts.Ladder == nil {
		return false
	}
	if m.opts.Hub.Stream(path) == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.jobs[path]
	if j != nil && j.stream != m.opts.Hub.Stream(path) {
		// The old stream's job is winding down: queue this one's.
		m.startLocked(path, m.onDemand(path))
		return true
	}
	if j == nil {
		j = m.startLocked(path, m.onDemand(path))
	}
	if j == nil {
		return false
	}
	j.touch()
	return true
}

// Touch records a use of the ladder that path belongs to (path is its
// source or one of its renditions), postponing an on-demand ladder's idle
// stop. It never starts a ladder.
func (m *Manager) Touch(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if src, ok := m.renditions[path]; ok {
		path = src
	}
	if j := m.jobs[path]; j != nil {
		j.touch()
	}
}

// startLocked starts the ladder of path's current stream; idle makes it
// stop after IdleTimeout without a touch. Caller holds mu.
//
// A job serves one hub stream. When the stream at path was replaced (the
// publisher came back after the republish grace) while the old stream's
// job is still winding down (ffmpeg flushing, its renditions still
// published), the new stream's ladder is started as soon as that job is
// gone (job.successor) rather than skipped.
func (m *Manager) startLocked(path string, idle bool) *job {
	if m.ctx.Err() != nil || m.renditions[path] != "" {
		return nil
	}
	st := m.opts.Hub.Stream(path)
	if st == nil {
		return nil
	}
	if old := m.jobs[path]; old != nil {
		if old.stream != st {
			old.successor = &successor{stream: st, idle: idle}
		}
		return nil
	}
	ladder := m.opts.Ladder(path)
	if len(ladder) == 0 {
		return nil
	}
	for _, r := range ladder {
		m.renditions[RenditionPath(path, r)] = path
	}
	ctx, cancel := context.WithCancel(m.ctx)
	j := &job{m: m, source: path, stream: st, ladder: ladder, onDemand: idle, log: m.opts.Logger.With("component", "transcode", "path", path)}
	j.touch()
	m.jobs[path] = j
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		if idle {
			go j.stopWhenIdle(ctx, cancel, m.opts.IdleTimeout)
		}
		j.run(ctx)
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.jobs, path)
		for _, r := range ladder {
			delete(m.renditions, RenditionPath(path, r))
		}
		if next := j.successor; next != nil && m.opts.Hub.Stream(path) == next.stream {
			m.startLocked(path, next.idle)
		}
	}()
	return j
}

// successor is the stream that replaced a job's while the job was still
// running: its ladder starts once the job is gone.
type successor struct {
	stream *hub.Stream
	idle   bool
}

// JobStats describes one running transcoder for the API and metrics.
type JobStats struct {
	Source     string
	Renditions []string
	Running    bool // an ffmpeg process is up
	Restarts   int
	Since      time.Time
	// OnDemand reports a ladder that stops after the idle timeout.
	OnDemand bool
	// Speed is media time transcoded per wall time since the current
	// process's first output (1.0 = real time); 0 in its first second.
	Speed float64
}

// Jobs returns the running transcoders sorted by source path.
func (m *Manager) Jobs() []JobStats {
	m.mu.Lock()
	jobs := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		jobs = append(jobs, j)
	}
	m.mu.Unlock()
	out := make([]JobStats, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j.stats())
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Source < out[k].Source })
	return out
}

// Close stops every transcoder and waits for them.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}
