package relay

import (
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/hub"
)

// forward pushes one stream to one target for the stream's life.
type forward struct {
	m      *Manager
	path   string
	st     *hub.Stream
	dst    *url.URL
	pusher Pusher
	log    *slog.Logger
	stats  Stats

	errors     atomic.Uint64
	reconnects atomic.Uint64

	mu      sync.Mutex
	state   string
	lastErr string
}

// StreamStarted is wired to hub.Options.OnStreamStart: a new stream at
// path is pushed to each of its forward targets (ForwardsFor) and extra
// (an on_publish hook's answer), except a target the stream is pulled
// from (loop guard).
func (m *Manager) StreamStarted(path string, extra ...*url.URL) {
	st := m.opts.Hub.Stream(path)
	if st == nil {
		return
	}
	var targets []*url.URL
	if m.opts.ForwardsFor != nil {
		targets = m.opts.ForwardsFor(path)
	}
	targets = append(targets, extra...)
	targets = append(targets, m.takePending(path)...)
	if len(targets) == 0 {
		return
	}
	var source *url.URL
	m.mu.Lock()
	if p := m.pulls[path]; p != nil {
		source = p.src.URL
	}
	m.mu.Unlock()
	seen := map[string]bool{}
	for _, dst := range targets {
		log := m.opts.Logger.With("proto", "forward", "path", path, "target", Redact(dst))
		if sameTarget(dst, source) {
			log.Warn("forward skipped: the stream is pulled from this URL (loop)")
			continue
		}
		if seen[dst.String()] {
			continue
		}
		seen[dst.String()] = true
		pusher, err := m.opts.Registry.Pusher(dst.Scheme)
		if err != nil {
			log.Warn("forward skipped", "reason", err.Error())
			continue
		}
		f := &forward{m: m, path: path, st: st, dst: dst, pusher: pusher, log: log, state: StateConnecting}
		m.mu.Lock()
		if m.closed || len(m.forwards) >= m.opts.MaxForwards {
			m.mu.Unlock()
			log.Warn("forward skipped", "reason", "relay: forward limit reached or server stopping")
			continue
		}
		m.forwards[f] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go f.run()
	}
}

func (f *forward) setState(s string, err error) {
	f.mu.Lock()
	f.state = s
	if err != nil {
		f.lastErr = err.Error()
	}
	f.mu.Unlock()
}

func (f *forward) status() ForwardStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	state := f.state
	if state == StateConnecting && f.stats.IsConnected() {
		state = StateLive
	}
	return ForwardStatus{Path: f.path, URL: Redact(f.dst), State: state, LastError: f.lastErr,
		Bytes: f.stats.Bytes.Load(), Errors: f.errors.Load(), Reconnects: f.reconnects.Load()}
}

// run pushes until the stream ends or the Manager closes, reconnecting
// with back-off. The target reads through its own hub reader: a target
// that cannot keep up lags, skips and is dropped by the hub's lag policy
// (and reconnected), never slowing the publisher or the other targets.
func (f *forward) run() {
	m := f.m
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.forwards, f)
		m.fwdBytesDone.Add(f.stats.Bytes.Load())
		m.mu.Unlock()
	}()
	ctx := m.ctx
	bo := backoff{min: m.opts.MinBackoff, max: m.opts.MaxBackoff}
	f.log.Info("forward started")
	for {
		f.setState(StateConnecting, nil)
		rd, err := f.st.Subscribe(ctx, hub.ClientInfo{Protocol: ForwardProtocol, Remote: Redact(f.dst)})
		if err != nil {
			break // the stream ended (or the server is stopping)
		}
		f.stats.Reset()
		err = f.pusher.Push(ctx, f.dst, rd, &f.stats, f.log)
		rd.Close()
		if ctx.Err() != nil || err == nil || errors.Is(err, hub.ErrEnded) || f.st.Ended() {
			break
		}
		wait := bo.after(f.stats.IsConnected())
		f.errors.Add(1)
		f.reconnects.Add(1)
		m.fwdReconnects.Add(1)
		f.setState(StateBackoff, err)
		f.log.Warn("forward failed, retrying", "reason", err.Error(), "retry_in", wait.String())
		if !sleep(ctx, wait) || f.st.Ended() {
			break
		}
	}
	f.log.Info("forward stopped")
}

// Pending hook targets: an on_publish answer's targets wait here for the
// stream's start (StreamStarted), at most pendingTTL and maxPending paths.
const (
	pendingTTL     = 30 * time.Second
	maxPendingHook = 1024
)

type pendingForwards struct {
	urls []*url.URL
	exp  time.Time
}

// AddForwards adds targets (templates expanded for path) to the next
// stream that starts at path within 30 s: the targets of an on_publish
// hook answer, known just before the publish starts. A rejoining
// publisher (republish grace) starts no stream, so its answer's targets
// are not added again. Invalid URLs are logged and skipped.
func (m *Manager) AddForwards(path string, raw []string) {
	var urls []*url.URL
	for _, r := range raw {
		u, err := Expand(r, path)
		if err == nil && u.Host == "" {
			err = errors.New("missing host")
		}
		if err != nil {
			m.opts.Logger.Warn("hook forward target skipped", "path", path, "reason", err.Error())
			continue
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]pendingForwards{}
	}
	if _, ok := m.pending[path]; !ok && len(m.pending) >= maxPendingHook {
		for p, e := range m.pending {
			if now.After(e.exp) {
				delete(m.pending, p)
			}
		}
		if len(m.pending) >= maxPendingHook {
			clear(m.pending)
		}
	}
	m.pending[path] = pendingForwards{urls: urls, exp: now.Add(pendingTTL)}
}

// takePending returns and forgets the hook targets waiting for path.
func (m *Manager) takePending(path string) []*url.URL {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.pending[path]
	delete(m.pending, path)
	if !ok || time.Now().After(e.exp) {
		return nil
	}
	return e.urls
}
