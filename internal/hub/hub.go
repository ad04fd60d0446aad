// Package hub is the meeting point of ingest and egress: a registry of live
// streams by path, each a ring of immutable packets written by one publisher
// and read by any number of readers, each with its own cursor.
//
// Publishers never block: a reader that falls behind by more than
// Options.MaxLag jumps to the newest keyframe (it is sent sequence headers
// again and never a broken GOP); one that keeps falling behind is dropped.
package hub

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Errors returned to callers that decide what to tell clients.
var (
	// ErrBusy means the path already has a publisher.
	ErrBusy = errors.New("hub: stream is already being published")
	// ErrNotFound means no stream is published at the path.
	ErrNotFound = errors.New("hub: stream not found")
	// ErrNotReady means the stream exists but its publisher did not announce
	// its tracks within Options.WaitTimeout.
	ErrNotReady = errors.New("hub: stream has no media yet")
	// ErrEnded means the stream ended (publisher gone past the grace period,
	// kicked, or server shutdown).
	ErrEnded = errors.New("hub: stream ended")
	// ErrLagging means a reader fell behind more than Options.MaxSkips times
	// in a minute and was dropped.
	ErrLagging = errors.New("hub: reader too slow, dropped")
	// ErrClosed means the hub is shut down.
	ErrClosed = errors.New("hub: closed")
)

// Options configure a Hub. Zero values take the documented defaults.
type Options struct {
	// MaxLag is how far (in media time) a reader may fall behind the newest
	// packet before it jumps to the newest keyframe. Default 5 s.
	MaxLag time.Duration
	// MaxGOPDuration is how old (in media time) the newest keyframe may be
	// and still start new readers (the GOP cache); past it, new readers
	// wait for the next keyframe, and the publisher is asked for one
	// (Publisher.KeyframeRequests). It bounds the backlog a reader can get
	// at start. Default 5 s.
	MaxGOPDuration time.Duration
	// KeyframeInterval, when positive, asks the publisher for a keyframe
	// when the stream has had none for this long (in media time), e.g.
	// the HLS segment duration, so segments can be cut on time. Only
	// publishers that make keyframes on demand (WHIP) heed it. Default 0:
	// off.
	KeyframeInterval time.Duration
	// RepublishGrace is how long a stream outlives its publisher, waiting
	// for it to reconnect. Default 10 s.
	RepublishGrace time.Duration
	// MaxBufferBytes bounds the payload bytes one stream retains. Default
	// 64 MiB.
	MaxBufferBytes int
	// MaxSkips is how many keyframe jumps in one minute a reader may take
	// before it is dropped. Default 3.
	MaxSkips int
	// WaitTimeout bounds how long Subscribe waits for a stream that exists
	// but has not announced its tracks yet. Default 5 s.
	WaitTimeout time.Duration
	// Logger receives stream lifecycle logs. Default slog.Default().
	Logger *slog.Logger
	// OnStreamStart, if set, is called (in its own goroutine) when a new
	// stream starts, not when a publisher rejoins one within its grace
	// period. Consumers that follow every stream (transcoders, always-on
	// packagers) start from it.
	OnStreamStart func(path string)
	// Demand, if set, is asked by Hub.Demand to bring up a stream that
	// has no publisher (see there): it returns once the stream has media
	// or it cannot. Nil: streams exist only while published.
	Demand func(ctx context.Context, path string) error
	// Claimer, if set, is asked before every publish whether this node may
	// publish the path (cluster ownership, internal/cluster). Nil: every
	// publish is local-only, as on a single node.
	Claimer Claimer
}

// Claimer gates publishes across nodes. Claim is called outside the hub's
// locks before a publisher attaches; an error refuses the publish (wrap
// ErrBusy for a path held elsewhere so protocols answer "busy"). lost is
// called, at most once and from any goroutine, if the claim is taken away
// later (another node owns the path now): the hub then kicks the
// publisher. release is called exactly once when the publisher detaches
// or the publish fails locally.
type Claimer interface {
	Claim(path string, info ClientInfo, lost func(reason string)) (release func(), err error)
}

func (o *Options) setDefaults() {
	if o.MaxLag <= 0 {
		o.MaxLag = 5 * time.Second
	}
	if o.MaxGOPDuration <= 0 {
		o.MaxGOPDuration = 5 * time.Second
	}
	if o.RepublishGrace <= 0 {
		o.RepublishGrace = 10 * time.Second
	}
	if o.MaxBufferBytes <= 0 {
		o.MaxBufferBytes = 64 << 20
	}
	if o.MaxSkips <= 0 {
		o.MaxSkips = 3
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Hub is the registry of live streams. It is safe for concurrent use.
type Hub struct {
	opts Options

	mu      sync.Mutex
	streams map[string]*Stream
	closed  bool
}

// New returns an empty hub.
func New(opts Options) *Hub {
	opts.setDefaults()
	return &Hub{opts: opts, streams: make(map[string]*Stream)}
}

// Options returns the hub's effective options.
func (h *Hub) Options() Options { return h.opts }

// Publish claims path for a new publisher. If the path is in its republish
// grace period, the publisher continues the existing stream's timeline. A
// path with an active publisher returns ErrBusy.
func (h *Hub) Publish(path string, info ClientInfo) (*Publisher, error) {
	if h.opts.Claimer == nil {
		return h.publish(path, info, nil)
	}
	if s := h.Stream(path); s != nil && s.HasPublisher() {
		return nil, ErrBusy // busy here: do not touch this node's own claim
	}
	var (
		pubMu sync.Mutex
		pub   *Publisher
		lost  bool
	)
	release, err := h.opts.Claimer.Claim(path, info, func(reason string) {
		pubMu.Lock()
		p := pub
		lost = true
		pubMu.Unlock()
		if p != nil {
			p.Kick(reason)
		}
	})
	if err != nil {
		return nil, err
	}
	p, err := h.publish(path, info, release)
	if err != nil {
		release()
		return nil, err
	}
	pubMu.Lock()
	pub = p
	kick := lost
	pubMu.Unlock()
	if kick {
		p.Kick("cluster ownership lost")
	}
	return p, nil
}

func (h *Hub) publish(path string, info ClientInfo, release func()) (*Publisher, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := h.streams[path]
	fresh := s == nil || s.Ended()
	if fresh {
		s = newStream(h, path)
		h.streams[path] = s
	}
	p, err := s.attachPublisher(info, release)
	if err != nil {
		return nil, err
	}
	if fresh && h.opts.OnStreamStart != nil {
		go h.opts.OnStreamStart(path)
	}
	return p, nil
}

// Stream returns the live stream at path, or nil.
func (h *Hub) Stream(path string) *Stream {
	h.mu.Lock()
	s := h.streams[path]
	h.mu.Unlock()
	if s == nil || s.Ended() {
		return nil // an ended stream may linger until end() unregisters it
	}
	return s
}

// Streams returns the live streams sorted by path.
func (h *Hub) Streams() []*Stream {
	h.mu.Lock()
	out := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		out = append(out, s)
	}
	h.mu.Unlock()
	live := out[:0]
	for _, s := range out {
		if !s.Ended() {
			live = append(live, s)
		}
	}
	out = live
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// Subscribe attaches a reader to the stream at path, positioned at the
// newest keyframe (GOP cache) so its first video frame decodes at once. It
// returns ErrNotFound if nothing is published there and waits up to
// Options.WaitTimeout for a stream whose publisher has not announced its
// tracks yet.
func (h *Hub) Subscribe(ctx context.Context, path string, info ClientInfo) (*Reader, error) {
	s := h.Stream(path)
	if s == nil {
		return nil, ErrNotFound
	}
	return s.subscribe(ctx, info)
}

// remove drops s from the registry if it is still the stream there.
func (h *Hub) remove(s *Stream) {
	h.mu.Lock()
	if h.streams[s.path] == s {
		delete(h.streams, s.path)
	}
	h.mu.Unlock()
}

// Close ends every stream: publishers are kicked and readers get ErrEnded
// once they have drained what was published. New publishes get ErrClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	streams := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		streams = append(streams, s)
	}
	h.mu.Unlock()
	for _, s := range streams {
		s.end("server shutdown")
	}
}

// ClientInfo identifies a publisher or reader for logs, the API and metrics.
type ClientInfo struct {
	// Protocol is the client's protocol, e.g. "rtmp", "rtmps", "http-flv",
	// "ws-flv", "hls", "whep".
	Protocol string
	// Remote is the client's address.
	Remote string
}
