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
}

// Manager starts a transcoder for every stream that has a ladder, restarts
// it when ffmpeg dies, and stops it when the stream ends.
type Manager struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	jobs       map[string]*job
	renditions map[string]bool // paths we publish: never transcoded again
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
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{opts: opts, ctx: ctx, cancel: cancel, jobs: map[string]*job{}, renditions: map[string]bool{}}
}

// StreamStarted starts the ladder of path, if it has one.
func (m *Manager) StreamStarted(path string) {
	if m.opts.Ladder == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil || m.renditions[path] || m.jobs[path] != nil {
		return
	}
	ladder := m.opts.Ladder(path)
	if len(ladder) == 0 {
		return
	}
	for _, r := range ladder {
		m.renditions[RenditionPath(path, r)] = true
	}
	j := &job{m: m, source: path, ladder: ladder, log: m.opts.Logger.With("component", "transcode", "path", path)}
	m.jobs[path] = j
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		j.run(m.ctx)
		m.mu.Lock()
		delete(m.jobs, path)
		for _, r := range ladder {
			delete(m.renditions, RenditionPath(path, r))
		}
		m.mu.Unlock()
	}()
}

// JobStats describes one running transcoder for the API and metrics.
type JobStats struct {
	Source     string
	Renditions []string
	Running    bool // an ffmpeg process is up
	Restarts   int
	Since      time.Time
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
