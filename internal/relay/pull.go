package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/hub"
)

// Pull and forward states, as the API and metrics name them.
const (
	StateConnecting = "connecting"
	StateLive       = "live"
	StateBackoff    = "backoff"
	StateIdle       = "idle"
)

// readyPoll is how often Demand checks whether the pulled stream has
// media; idlePoll bounds how often an on-demand pull counts its readers.
const (
	readyPoll = 50 * time.Millisecond
	idlePoll  = time.Second
)

// pull supervises one source: attempts, back-off, the idle stop.
type pull struct {
	m      *Manager
	src    Source
	puller Puller
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// prev is the pull this one replaces (it was stopping); run waits for
	// it to release the path first.
	prev  *pull
	stats Stats
	since time.Time

	// lastDemand is when (Unix ns) a viewer last asked for the stream.
	lastDemand atomic.Int64
	stop       atomic.Bool // the idle stop decided; Demand starts a new pull
	reconnects atomic.Uint64

	mu       sync.Mutex
	state    string
	lastErr  string
	attempts int // failed attempts since the last established one
}

func newPull(m *Manager, src Source, puller Puller, prev *pull) *pull {
	p := &pull{m: m, src: src, puller: puller, prev: prev, done: make(chan struct{}), since: time.Now(), state: StateConnecting,
		log: m.opts.Logger.With("proto", "relay", "path", src.Path, "source", Redact(src.URL))}
	p.ctx, p.cancel = context.WithCancel(m.ctx)
	p.touch()
	return p
}

func (p *pull) touch()         { p.lastDemand.Store(time.Now().UnixNano()) }
func (p *pull) stopping() bool { return p.stop.Load() }
func (p *pull) setState(s string, err error) {
	p.mu.Lock()
	p.state = s
	if err != nil {
		p.lastErr = err.Error()
		p.attempts++
	} else if s == StateLive {
		p.attempts = 0
	}
	p.mu.Unlock()
}

func (p *pull) status() PullStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	state := p.state
	if state == StateConnecting && p.stats.IsConnected() {
		state = StateLive
	}
	return PullStatus{Path: p.src.Path, URL: Redact(p.src.URL), OnDemand: p.src.OnDemand, State: state,
		LastError: p.lastErr, Bytes: p.stats.Bytes.Load(), Reconnects: p.reconnects.Load(), Since: p.since}
}

func (p *pull) run() {
	defer p.m.wg.Done()
	defer close(p.done)
	defer p.m.removePull(p)
	defer p.cancel()
	if p.prev != nil {
		select {
		case <-p.prev.done:
		case <-p.ctx.Done():
			return
		}
		p.prev = nil
	}
	if p.src.OnDemand {
		go p.watchIdle()
	}
	bo := backoff{min: p.m.opts.MinBackoff, max: p.m.opts.MaxBackoff}
	p.log.Info("relay pull started", "on_demand", p.src.OnDemand)
	for first := true; ; first = false {
		if !first {
			p.relocate()
		}
		p.setState(StateConnecting, nil)
		connected, err := p.attempt()
		if p.ctx.Err() != nil {
			break
		}
		wait := bo.after(connected)
		p.setState(StateBackoff, err)
		p.reconnects.Add(1)
		p.m.pullReconnects.Add(1)
		p.log.Warn("relay pull failed, retrying", "reason", errString(err), "retry_in", wait.String())
		if !sleep(p.ctx, wait) {
			break
		}
	}
	p.setState(StateIdle, nil)
	p.log.Info("relay pull stopped", "reason", p.stopReason())
}

// relocateTimeout bounds one Locate call before a retry.
const relocateTimeout = 2 * time.Second

// relocate asks Locate again where a located source is now: after its
// owner node died, the path moves to the node the publisher reconnected
// to, and the pull follows it there on the same hub stream (within the
// republish grace, viewers see a discontinuity, not an end). Nothing
// found (no owner yet): the pull keeps its URL and backs off again.
// Only run's goroutine writes p.src.URL and p.log; status reads the URL
// under p.mu.
func (p *pull) relocate() {
	if !p.src.Located || p.m.opts.Locate == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, relocateTimeout)
	defer cancel()
	u, ok := p.m.opts.Locate(ctx, p.src.Path)
	if !ok || u.String() == p.src.URL.String() {
		return
	}
	p.log.Info("relay source moved", "to", Redact(u))
	p.mu.Lock()
	p.src.URL = u
	p.mu.Unlock()
	p.log = p.m.opts.Logger.With("proto", "relay", "path", p.src.Path, "source", Redact(u))
}

func (p *pull) stopReason() string {
	if p.stopping() {
		return "no viewers for " + p.src.CloseAfter.String()
	}
	return "server stopping"
}

// attempt runs one Pull: it claims the path (continuing the stream if it
// is in its republish grace period: a discontinuity, same timeline) and
// releases it after.
func (p *pull) attempt() (connected bool, err error) {
	pub, err := p.m.opts.Hub.Publish(p.src.Path, hub.ClientInfo{Protocol: PublisherProtocol, Remote: Redact(p.src.URL)})
	if err != nil {
		if errors.Is(err, hub.ErrBusy) {
			err = errors.New("the path has another publisher")
		}
		return false, err
	}
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	go func() { // a kicked stream (API, shutdown) ends the attempt
		select {
		case <-pub.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	p.stats.Reset()
	err = p.puller.Pull(ctx, p.src.URL, pub, &p.stats, p.log)
	connected = p.stats.IsConnected()
	reason := errString(err)
	if p.ctx.Err() != nil {
		reason = p.stopReason()
	}
	pub.Close(reason)
	if err == nil {
		err = errors.New("source ended the stream")
	}
	return connected, err
}

func errString(err error) string {
	if err == nil {
		return "source ended the stream"
	}
	return err.Error()
}

// watchIdle stops an on-demand pull once no counted reader has read it,
// and no viewer asked for it, for CloseAfter.
func (p *pull) watchIdle() {
	poll := min(idlePoll, max(p.src.CloseAfter/4, 10*time.Millisecond))
	t := time.NewTicker(poll)
	defer t.Stop()
	active := time.Now()
	for {
		select {
		case <-p.ctx.Done():
			return
		case now := <-t.C:
			if st := p.m.opts.Hub.Stream(p.src.Path); st != nil && p.m.readers(st) > 0 {
				active = now
			}
			if last := time.Unix(0, p.lastDemand.Load()); last.After(active) {
				active = last
			}
			if now.Sub(active) >= p.src.CloseAfter {
				p.m.mu.Lock()
				p.stop.Store(true) // under m.mu: ensurePull then starts a successor
				p.m.mu.Unlock()
				p.cancel()
				return
			}
		}
	}
}

// waitReady waits until the stream has media, an attempt fails (the first
// of a pull it created; for a running pull, one already in back-off
// answers at once), or StartTimeout passes.
func (p *pull) waitReady(ctx context.Context, created bool) error {
	ctx, cancel := context.WithTimeout(ctx, p.src.StartTimeout)
	defer cancel()
	p.mu.Lock()
	failed0, state, lastErr := p.attempts, p.state, p.lastErr
	p.mu.Unlock()
	if created {
		failed0 = 0
	} else if state == StateBackoff {
		return errors.New("relay: pull failed: " + lastErr)
	}
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for {
		if st := p.m.opts.Hub.Stream(p.src.Path); st != nil && st.HasPublisher() {
			video, _ := st.Tracks()
			hasVideo, hasAudio := st.Kinds()
			if video != nil || (hasAudio && !hasVideo) {
				p.touch()
				return nil
			}
		}
		p.mu.Lock()
		failed, lastErr := p.attempts > failed0, p.lastErr
		p.mu.Unlock()
		if failed {
			return errors.New("relay: pull failed: " + lastErr)
		}
		select {
		case <-t.C:
		case <-p.done:
			return errors.New("relay: pull stopped")
		case <-ctx.Done():
			return errors.New("relay: no media from the source within " + p.src.StartTimeout.String())
		}
	}
}
