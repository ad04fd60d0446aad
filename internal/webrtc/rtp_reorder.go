package webrtc

import (
	"time"

	"github.com/pion/rtp"
)

// Reorder buffer bounds.
const (
	// reorderSize is how many RTP packets a reorder buffer holds at most
	// (a power of two): about one second of 2 Mbit/s video in 1200-byte
	// packets. A packet further ahead than that flushes the gap as lost.
	reorderSize = 256
	// reorderWait is how long packets wait behind a gap for the missing
	// ones (reordered, or retransmitted after a NACK, RFC 4585 §6.2.1)
	// before the gap is declared lost.
	reorderWait = 150 * time.Millisecond
)

// reorderBuffer puts received RTP packets of one SSRC back in sequence
// order (RFC 3550 §A.1 sequence number arithmetic), drops duplicates and
// late packets, and reports gaps it gives up on as losses. It holds at most
// reorderSize packets and no packet longer than reorderWait after a later
// one arrived. It is used by one goroutine.
type reorderBuffer struct {
	slots    [reorderSize]*rtp.Packet
	next     uint16 // sequence number expected next
	started  bool
	held     int       // packets in slots
	gapSince time.Time // when packets started waiting behind a gap
	lost     bool      // a gap was skipped before the next emitted packet
	// Lost counts packets given up on.
	Lost uint64
}

// push adds p, received at now, and calls emit for every packet now in
// order; lostBefore is true when packets before it were given up on.
func (b *reorderBuffer) push(p *rtp.Packet, now time.Time, emit func(p *rtp.Packet, lostBefore bool)) {
	seq := p.SequenceNumber
	if !b.started {
		b.started, b.next = true, seq
	}
	d := int16(seq - b.next)
	if d < 0 && int(d) > -reorderSize {
		return // late (already skipped) or duplicate
	}
	if d < 0 {
		// Far behind: the sender restarted its sequence; resynchronize.
		b.reset()
		b.next, b.lost, d = seq, true, 0
	}
	for int(d) >= reorderSize {
		// Too far ahead to hold: give up on the oldest gap.
		if b.held == 0 {
			b.Lost += uint64(seq - b.next)
			b.next, b.lost = seq, true
			break
		}
		b.skipGap()
		b.drain(emit)
		d = int16(seq - b.next)
		if d < 0 {
			return
		}
	}
	i := seq % reorderSize
	if b.slots[i] != nil {
		return // duplicate
	}
	b.slots[i] = p
	b.held++
	b.drain(emit)
	if b.held == 0 {
		b.gapSince = time.Time{}
		return
	}
	if b.gapSince.IsZero() {
		b.gapSince = now
	} else if now.Sub(b.gapSince) >= reorderWait {
		b.skipGap()
		b.drain(emit)
		b.gapSince = time.Time{}
		if b.held > 0 {
			b.gapSince = now
		}
	}
}

// skipGap advances next to the oldest held packet, counting the skipped
// sequence numbers as lost. Caller ensures held > 0.
func (b *reorderBuffer) skipGap() {
	for b.slots[b.next%reorderSize] == nil {
		b.next++
		b.Lost++
	}
	b.lost = true
}

// drain emits the packets in order from next.
func (b *reorderBuffer) drain(emit func(p *rtp.Packet, lostBefore bool)) {
	for {
		i := b.next % reorderSize
		p := b.slots[i]
		if p == nil {
			return
		}
		b.slots[i] = nil
		b.held--
		b.next++
		lost := b.lost
		b.lost = false
		emit(p, lost)
	}
}

// reset drops every held packet.
func (b *reorderBuffer) reset() {
	for i := range b.slots {
		b.slots[i] = nil
	}
	b.held = 0
	b.gapSince = time.Time{}
}
