package hub

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

const (
	// republishGap is the media-time gap inserted between the last packet of
	// a publisher and the first packet of the one that reconnects, so the
	// timeline stays strictly increasing.
	republishGap = 40 * time.Millisecond
	// Timestamp jumps beyond these are rebased rather than passed on.
	maxBackwardJump = time.Second
	maxForwardJump  = 10 * time.Second
	// maxCoalescedAudio is how many audio packets may wait for a video
	// packet before readers are woken anyway (3 AAC frames ≈ 64–70 ms).
	maxCoalescedAudio = 3
)

// Stream is one live stream: its packet ring, GOP cache position, current
// tracks, publisher and readers. One mutex guards all mutable state; the
// publisher is the single writer.
type Stream struct {
	hub     *Hub
	path    string
	created time.Time

	mu         sync.RWMutex
	ring       *ring
	notify     chan struct{} // closed and replaced on every write or end
	lastKeySeq uint64
	haveKey    bool // lastKeySeq is the GOP cache's keyframe (keyframes.go)
	// keyDTS is the DTS of the newest video keyframe (haveKeyDTS); askedKey
	// and askedAt record the publisher was asked for the next one.
	keyDTS     time.Duration
	haveKeyDTS bool
	askedKey   bool
	askedAt    time.Duration
	sawVideo   bool
	lastDTS    time.Duration // newest DTS of any track (timeline.go)
	haveDTS    bool
	clocks     [2]trackClock // by kindIndex
	video      *av.Track
	audio      *av.Track
	publisher  *Publisher
	graceTimer *time.Timer
	ready      chan struct{}
	announced  bool
	hasVideo   bool
	hasAudio   bool
	ended      bool
	pendDisc   bool
	readers    map[*Reader]struct{}
	// pendingAudio counts audio packets written since readers were last
	// woken.
	pendingAudio int
	// derivedCodec is the codec of the derived audio track a transcoder
	// announced (CodecUnknown: none); derived is its newest track, nil
	// until the first derived packet (derived.go).
	derivedCodec av.Codec
	derived      *av.Track

	bytesIn     atomic.Uint64
	packetsIn   atomic.Uint64
	skips       atomic.Uint64
	drops       atomic.Uint64
	republishes atomic.Uint64
	keyRequests atomic.Uint64
}

func newStream(h *Hub, path string) *Stream {
	return &Stream{
		hub:     h,
		path:    path,
		created: time.Now(),
		ring:    newRing(),
		notify:  make(chan struct{}),
		ready:   make(chan struct{}),
		readers: make(map[*Reader]struct{}),
	}
}

// Path returns the stream's path, e.g. "live/cam1".
func (s *Stream) Path() string { return s.path }

// Tracks returns the stream's current video and audio tracks (nil when
// absent or not yet known).
func (s *Stream) Tracks() (video, audio *av.Track) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.video, s.audio
}

// WaitVideo returns the stream's video track, waiting for the first video
// packet of a stream that announced video until it comes, the stream ends
// or ctx is done (then it returns nil). It returns nil at once for a
// stream without video.
func (s *Stream) WaitVideo(ctx context.Context) *av.Track {
	for {
		s.mu.RLock()
		video, done := s.video, s.ended || !(s.hasVideo || s.sawVideo)
		wait := s.notify
		s.mu.RUnlock()
		if video != nil || done {
			return video
		}
		select {
		case <-wait: // every packet and the end wake it
		case <-ctx.Done():
			return nil
		}
	}
}

// Kinds returns which kinds the publisher announced.
func (s *Stream) Kinds() (hasVideo, hasAudio bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hasVideo, s.hasAudio
}

func (s *Stream) attachPublisher(info ClientInfo, release func()) (*Publisher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, ErrEnded
	}
	if s.publisher != nil {
		return nil, ErrBusy
	}
	if s.graceTimer != nil {
		s.graceTimer.Stop()
		s.graceTimer = nil
		s.republishes.Add(1)
	}
	p := &Publisher{s: s, info: info, since: time.Now(), done: make(chan struct{}), keyReq: make(chan string, 1), release: release}
	s.publisher = p
	s.hub.opts.Logger.Info("publish started", "path", s.path, "proto", info.Protocol, "remote", info.Remote)
	return p, nil
}

// wake tells waiting readers that something changed. Caller holds s.mu.
func (s *Stream) wake() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// write inserts a packet from publisher p. Caller does not hold s.mu.
func (s *Stream) write(p *Publisher, pkt *av.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.closed || s.ended {
		return ErrEnded
	}
	if !p.started && s.pendDisc {
		pkt.Discontinuity = true
		s.pendDisc = false
	}
	if !s.retime(p, pkt) {
		return nil
	}
	if pkt.Arrival.IsZero() {
		pkt.Arrival = time.Now()
	}

	seq := s.ring.push(pkt)
	if pkt.Kind() == av.KindVideo {
		s.sawVideo = true
		s.video = pkt.Track
		if pkt.Key {
			s.lastKeySeq, s.haveKey = seq, true
		}
	} else {
		s.audio = pkt.Track
		if !s.sawVideo && !s.hasVideo {
			s.lastKeySeq, s.haveKey = seq, true
		}
	}
	s.noteKeyframes(pkt)
	s.trim()
	s.bytesIn.Add(uint64(len(pkt.Data)))
	s.packetsIn.Add(1)
	s.wakeFor(pkt)
	return nil
}

// wakeFor wakes readers after pkt was pushed. Audio rides along with
// video: readers are woken per video frame (or every maxCoalescedAudio
// audio frames), which halves wake-ups and socket writes per viewer at the
// cost of at most a few tens of milliseconds of audio delay; audio-only
// streams wake per packet. Caller holds s.mu.
func (s *Stream) wakeFor(pkt *av.Packet) {
	if pkt.Kind() == av.KindVideo || !(s.sawVideo || s.hasVideo) {
		s.pendingAudio = 0
		s.wake()
	} else if s.pendingAudio++; s.pendingAudio >= maxCoalescedAudio {
		s.pendingAudio = 0
		s.wake()
	}
}

// trim drops packets that no reader may need any more: older than MaxLag and
// before the newest keyframe (the GOP cache, kept for MaxGOPDuration), or
// anything beyond MaxBufferBytes. Caller holds s.mu.
func (s *Stream) trim() {
	if s.gopExpired() {
		s.haveKey = false // new readers wait for the next keyframe
	}
	r := s.ring
	for r.len() > 1 {
		if r.bytes > s.hub.opts.MaxBufferBytes {
			r.popFront()
			continue
		}
		if s.haveKey && r.front >= s.lastKeySeq {
			break
		}
		if s.behind(r.at(r.front)) <= s.hub.opts.MaxLag {
			break
		}
		r.popFront()
	}
	if s.haveKey && s.lastKeySeq < r.front {
		s.haveKey = false
	}
}

func (s *Stream) announce(hasVideo, hasAudio bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hasVideo, s.hasAudio = hasVideo, hasAudio
	if !s.announced {
		s.announced = true
		close(s.ready)
	}
}

func (s *Stream) detachPublisher(p *Publisher, reason string) {
	s.mu.Lock()
	if p.closed {
		s.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	defer p.releaseClaim()
	if s.publisher != p || s.ended {
		s.mu.Unlock()
		return
	}
	s.publisher = nil
	s.pendDisc = true
	s.wake() // flush audio that waited for a video frame
	grace := s.hub.opts.RepublishGrace
	s.graceTimer = time.AfterFunc(grace, func() { s.expireGrace() })
	s.mu.Unlock()
	s.hub.opts.Logger.Info("publish stopped", "path", s.path, "proto", p.info.Protocol,
		"remote", p.info.Remote, "reason", reason, "grace", grace)
}

func (s *Stream) expireGrace() {
	s.mu.RLock()
	waiting := s.publisher == nil && !s.ended
	s.mu.RUnlock()
	if waiting {
		s.end("no publisher within the republish grace period")
	}
}

// end finishes the stream: the publisher (if any) is kicked, readers get
// ErrEnded after draining, and the path is free for a new stream.
func (s *Stream) end(reason string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.graceTimer != nil {
		s.graceTimer.Stop()
	}
	var kicked *Publisher
	if p := s.publisher; p != nil && !p.closed {
		p.closed = true
		close(p.done)
		kicked = p
	}
	defer kicked.releaseClaim()
	if !s.announced {
		s.announced = true
		close(s.ready)
	}
	s.wake()
	s.mu.Unlock()
	s.hub.remove(s)
	s.hub.opts.Logger.Info("stream ended", "path", s.path, "reason", reason)
}

// Ended reports whether the stream has ended.
func (s *Stream) Ended() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ended
}

func (s *Stream) subscribe(ctx context.Context, info ClientInfo) (*Reader, error) {
	timer := time.NewTimer(s.hub.opts.WaitTimeout)
	defer timer.Stop()
	select {
	case <-s.ready:
	case <-timer.C:
		return nil, ErrNotReady
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, ErrEnded
	}
	r := &Reader{s: s, id: nextReaderID(), info: info, since: time.Now()}
	switch {
	case s.haveKey:
		r.cursor = s.lastKeySeq
	case s.hasVideo || s.sawVideo:
		// No keyframe, or only one older than MaxGOPDuration: start with
		// the next one, and ask the publisher for it.
		r.cursor = s.ring.head
		r.needKey = true
		s.askKeyframe("a new reader waits for a keyframe")
	default:
		r.cursor = s.ring.head
	}
	s.readers[r] = struct{}{}
	return r, nil
}

// Stats is a point-in-time snapshot of a stream for the API and metrics.
type Stats struct {
	Path        string
	Created     time.Time
	Publisher   *ClientInfo
	PublishedAt time.Time
	Video       *av.Track
	Audio       *av.Track
	// DerivedAudio is the audio track the server transcodes for protocols
	// that cannot carry Audio (nil when none).
	DerivedAudio *av.Track
	BytesIn      uint64
	PacketsIn    uint64
	Readers      map[string]int // by protocol
	Skips        uint64
	Drops        uint64
	Republishes  uint64
	// KeyframeRequests counts the keyframe requests sent to publishers
	// (Publisher.KeyframeRequests).
	KeyframeRequests uint64
	BufferedPackets  int
	BufferedBytes    int
}

// Stats returns a snapshot of the stream.
func (s *Stream) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{
		Path: s.path, Created: s.created, Video: s.video, Audio: s.audio, DerivedAudio: s.derived,
		BytesIn: s.bytesIn.Load(), PacketsIn: s.packetsIn.Load(),
		Readers: make(map[string]int), Skips: s.skips.Load(), Drops: s.drops.Load(),
		Republishes: s.republishes.Load(), KeyframeRequests: s.keyRequests.Load(), BufferedPackets: s.ring.len(), BufferedBytes: s.ring.bytes,
	}
	if p := s.publisher; p != nil {
		info := p.info
		st.Publisher = &info
		st.PublishedAt = p.since
	}
	for r := range s.readers {
		st.Readers[r.info.Protocol]++
	}
	return st
}
