package hub

import (
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// Publisher is the single writer of a Stream. Its methods are called from
// the publishing connection's goroutine.
type Publisher struct {
	s     *Stream
	info  ClientInfo
	since time.Time
	done  chan struct{}
	// keyReq carries keyframe requests (keyframes.go); buffered, one.
	keyReq chan string
	// release gives up the cluster claim (Options.Claimer); nil without
	// one. Called once, by releaseClaim, outside s.mu.
	release     func()
	releaseOnce sync.Once

	// Guarded by s.mu.
	closed   bool
	started  bool
	keepTime bool          // KeepTimestamps
	offset   time.Duration // added to every packet's timestamps (timeline.go)
	jumps    int
}

// Path returns the stream's path.
func (p *Publisher) Path() string { return p.s.path }

// Stream returns the stream being published.
func (p *Publisher) Stream() *Stream { return p.s }

// Announce declares which kinds of track the publisher sends. Readers wait
// for it (up to Options.WaitTimeout) so that, for example, an FLV header can
// state the right flags. Calling it again updates the kinds.
func (p *Publisher) Announce(hasVideo, hasAudio bool) { p.s.announce(hasVideo, hasAudio) }

// KeepTimestamps tells the hub that the publisher's timestamps are already
// on a stream timeline (a transcoder's renditions, which keep their
// source's timestamps so segments line up across a ladder): they are not
// moved to start at 0, and a publisher rejoining the stream keeps them when
// they continue after its end. A gap forwards (a transcoder restarted while
// its source ran on) is kept, so the timestamps keep following the source;
// backward jumps are still rebased. Call it before the first WritePacket.
func (p *Publisher) KeepTimestamps() {
	p.s.mu.Lock()
	p.keepTime = true
	p.s.mu.Unlock()
}

// WritePacket publishes pkt. It never blocks on readers. The hub rebases
// pkt's timestamps onto the stream's timeline (starting at 0, one offset for
// all tracks, jumps rebased: timeline.go); pkt must not be used for
// writing afterwards, as readers share it. It returns ErrEnded once the
// publisher was closed or kicked.
func (p *Publisher) WritePacket(pkt *av.Packet) error { return p.s.write(p, pkt) }

// Done is closed when the publisher is closed or kicked (stream ended,
// server shutdown): the publishing connection should then stop.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Close detaches the publisher. The stream stays for Options.RepublishGrace,
// waiting for a publisher to reconnect, and then ends.
func (p *Publisher) Close(reason string) { p.s.detachPublisher(p, reason) }

// Kick ends the whole stream at once, without a grace period.
func (p *Publisher) Kick(reason string) { p.s.end(reason) }

// releaseClaim gives up the publisher's cluster claim, once. Safe on nil.
func (p *Publisher) releaseClaim() {
	if p == nil || p.release == nil {
		return
	}
	p.releaseOnce.Do(p.release)
}
