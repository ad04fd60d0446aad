package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/hub"
)

// Defaults of Source's on-demand timings.
const (
	// DefaultStartTimeout bounds how long a request that started an
	// on-demand pull waits for its first keyframe.
	DefaultStartTimeout = 10 * time.Second
	// DefaultCloseAfter is how long an on-demand pull outlives its last
	// viewer.
	DefaultCloseAfter = 10 * time.Second
)

// ErrNoSource is returned by Demand for a path with no source (configured
// or located).
var ErrNoSource = errors.New("relay: no source for this path")

// PublisherProtocol is the hub.ClientInfo.Protocol of every pulled
// stream's publisher; its Remote is the source URL, redacted.
const PublisherProtocol = "relay"

// ForwardProtocol is the hub.ClientInfo.Protocol of forward readers.
const ForwardProtocol = "forward"

// Source is one stream to pull into the hub.
type Source struct {
	// Path is the hub path the stream is published at.
	Path string
	// URL is where it is pulled from.
	URL *url.URL
	// OnDemand: started by the first viewer (Demand), stopped CloseAfter
	// after the last; otherwise pulled from Start until Close.
	OnDemand bool
	// StartTimeout bounds Demand's wait for the first keyframe. Default
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// CloseAfter is the idle delay of an on-demand pull. Default
	// DefaultCloseAfter.
	CloseAfter time.Duration
	// Located: the URL came from Options.Locate (a cluster edge's pull of
	// the owner node), so every retry asks Locate again and follows the
	// stream when its owner changed.
	Located bool
}

// Options configure a Manager. Zero values take the documented defaults.
type Options struct {
	// Hub receives pulled streams and gives forwarded ones. Required.
	Hub *hub.Hub
	// Registry holds the protocol clients. Required.
	Registry *Registry
	// Sources lists the always-on sources, pulled from Start.
	Sources []Source
	// SourceFor returns the configured source of path (an on-demand one,
	// possibly from a glob pattern with its URL template expanded), if
	// any.
	SourceFor func(path string) (Source, bool)
	// Locate is asked for paths without a configured source, after it: a
	// cluster edge returns the owner node's URL of the stream. The pull
	// then runs on demand like a configured one. Nil: none.
	Locate func(ctx context.Context, path string) (*url.URL, bool)
	// ForwardsFor returns the forward targets of a newly published stream
	// (templates expanded). Nil: none.
	ForwardsFor func(path string) []*url.URL
	// IgnoreReaders are the reader protocols that do not keep an on-demand
	// pull running, because they run for as long as the stream exists
	// rather than for a viewer. Default DefaultIgnoreReaders.
	IgnoreReaders []string
	// MinBackoff and MaxBackoff bound the wait between attempts. Default
	// 500 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// MaxPulls and MaxForwards bound the concurrent pulls and forward
	// targets. Default 1000 each.
	MaxPulls, MaxForwards int
	// Logger receives one line per attempt and state change. Default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultIgnoreReaders: readers that live as long as their stream (the
// audio bridge and its probe, forward targets, recorders). Viewers are
// counted, and so are the demand-driven internal readers that exist
// because of viewers: the HLS/DASH packager (it lingers after its last
// playlist request, then closes), an on-demand transcoder (it stops after
// its renditions' viewers). So an HLS viewer keeps the pull running until
// the packager's linger ends, then CloseAfter runs.
var DefaultIgnoreReaders = []string{"audio-probe", "audio-bridge", ForwardProtocol, "record"}

// Manager runs pulls and forwards: it starts them, reconnects them with
// back-off, stops idle on-demand pulls and reports their state.
type Manager struct {
	opts   Options
	ignore map[string]bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	pullReconnects atomic.Uint64
	fwdReconnects  atomic.Uint64
	fwdBytesDone   atomic.Uint64 // bytes of forward attempts that ended

	mu       sync.Mutex
	pulls    map[string]*pull // by path
	forwards map[*forward]struct{}
	// pending holds on_publish hook targets until their stream starts.
	pending map[string]pendingForwards
	closed  bool
}

// New returns a Manager; Start runs it.
func New(opts Options) *Manager {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = defaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(defaultMaxBackoff, opts.MinBackoff)
	}
	if opts.IgnoreReaders == nil {
		opts.IgnoreReaders = DefaultIgnoreReaders
	}
	if opts.MaxPulls <= 0 {
		opts.MaxPulls = 1000
	}
	if opts.MaxForwards <= 0 {
		opts.MaxForwards = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{opts: opts, ignore: map[string]bool{}, pulls: map[string]*pull{}, forwards: map[*forward]struct{}{}}
	for _, p := range opts.IgnoreReaders {
		m.ignore[p] = true
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// Start starts the always-on pulls.
func (m *Manager) Start() error {
	for _, src := range m.opts.Sources {
		if _, _, err := m.ensurePull(src); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every pull and forward and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

func (src *Source) setDefaults() {
	if src.StartTimeout <= 0 {
		src.StartTimeout = DefaultStartTimeout
	}
	if src.CloseAfter <= 0 {
		src.CloseAfter = DefaultCloseAfter
	}
}

// ensurePull returns the running pull of src.Path, starting one if there
// is none (or the one there is stopping).
func (m *Manager) ensurePull(src Source) (p *pull, created bool, err error) {
	src.setDefaults()
	puller, err := m.opts.Registry.Puller(src.URL.Scheme)
	if err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, hub.ErrClosed
	}
	old := m.pulls[src.Path]
	if old != nil && !old.stopping() {
		old.touch()
		return old, false, nil
	}
	if old == nil && len(m.pulls) >= m.opts.MaxPulls {
		return nil, false, fmt.Errorf("relay: %d pulls running (the limit)", len(m.pulls))
	}
	p = newPull(m, src, puller, old)
	m.pulls[src.Path] = p
	m.wg.Add(1)
	go p.run()
	return p, true, nil
}

// removePull forgets p once it ended, unless a successor replaced it.
func (m *Manager) removePull(p *pull) {
	m.mu.Lock()
	if m.pulls[p.src.Path] == p {
		delete(m.pulls, p.src.Path)
	}
	m.mu.Unlock()
}

// Demand is hub.Options.Demand: it starts (or keeps) the pull of path —
// its configured source, else what Locate names — and waits, up to the
// source's StartTimeout, until the stream has its first keyframe (or, for
// audio, its first frame). It returns ErrNoSource for a path with no
// source, and the pull's error if its first attempt failed.
func (m *Manager) Demand(ctx context.Context, path string) error {
	src, ok := Source{}, false
	if m.opts.SourceFor != nil {
		src, ok = m.opts.SourceFor(path)
	}
	if !ok && m.opts.Locate != nil {
		if u, found := m.opts.Locate(ctx, path); found {
			src, ok = Source{Path: path, URL: u, OnDemand: true, Located: true}, true
		}
	}
	if !ok {
		return ErrNoSource
	}
	p, created, err := m.ensurePull(src)
	if err != nil {
		return err
	}
	return p.waitReady(ctx, created)
}

// Located reports whether path is pulled from the node Locate named (a
// cluster edge's copy of a stream another node owns), not from a
// configured source.
func (m *Manager) Located(path string) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pulls[path]
	return p != nil && p.src.Located
}

// readers counts the readers of st that keep an on-demand pull running.
func (m *Manager) readers(st *hub.Stream) int {
	n := 0
	for proto, c := range st.Stats().Readers {
		if !m.ignore[proto] {
			n += c
		}
	}
	return n
}

// PullStatus is one pull's state for the API and metrics.
type PullStatus struct {
	Path string `json:"path"`
	// URL is the source, credentials redacted.
	URL      string `json:"url"`
	OnDemand bool   `json:"on_demand"`
	// State is connecting, live, backoff or idle.
	State      string    `json:"state"`
	LastError  string    `json:"last_error,omitempty"`
	Bytes      uint64    `json:"bytes"`
	Reconnects uint64    `json:"reconnects"`
	Since      time.Time `json:"since"`
}

// ForwardStatus is one forward target's state.
type ForwardStatus struct {
	Path string `json:"path"`
	// URL is the target, credentials redacted.
	URL string `json:"url"`
	// State is connecting, live or backoff.
	State      string `json:"state"`
	LastError  string `json:"last_error,omitempty"`
	Bytes      uint64 `json:"bytes"`
	Errors     uint64 `json:"errors"`
	Reconnects uint64 `json:"reconnects"`
}

// Pulls returns the pulls' states, sorted by path.
func (m *Manager) Pulls() []PullStatus {
	m.mu.Lock()
	ps := make([]*pull, 0, len(m.pulls))
	for _, p := range m.pulls {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	out := make([]PullStatus, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Forwards returns the forward targets' states, sorted by path and URL.
func (m *Manager) Forwards() []ForwardStatus {
	m.mu.Lock()
	fs := make([]*forward, 0, len(m.forwards))
	for f := range m.forwards {
		fs = append(fs, f)
	}
	m.mu.Unlock()
	out := make([]ForwardStatus, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.status())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].URL < out[j].URL
	})
	return out
}

// Totals are the counters over the Manager's life, for metrics.
type Totals struct {
	PullReconnects    uint64
	ForwardReconnects uint64
	ForwardBytes      uint64
}

// Totals returns the counters.
func (m *Manager) Totals() Totals {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := Totals{PullReconnects: m.pullReconnects.Load(), ForwardReconnects: m.fwdReconnects.Load(), ForwardBytes: m.fwdBytesDone.Load()}
	for f := range m.forwards {
		t.ForwardBytes += f.stats.Bytes.Load()
	}
	return t
}
