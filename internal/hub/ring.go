package hub

import "github.com/sluicemedia/sluice/internal/av"

// ring is a growable circular buffer of packets addressed by an absolute,
// ever-increasing sequence number. It is not goroutine-safe: Stream guards it.
type ring struct {
	slots []*av.Packet // len is a power of two
	front uint64       // sequence number of the oldest retained packet
	head  uint64       // sequence number the next packet will get
	bytes int          // payload bytes retained
}

const (
	initialRingSlots = 256
	// maxRingSlots bounds the ring by count whatever the packet sizes; at
	// 30 fps video + 47 AAC frames/s this is about 28 minutes.
	maxRingSlots = 1 << 17
)

func newRing() *ring { return &ring{slots: make([]*av.Packet, initialRingSlots)} }

func (r *ring) len() int { return int(r.head - r.front) }

func (r *ring) at(seq uint64) *av.Packet { return r.slots[seq&uint64(len(r.slots)-1)] }

// push appends p and returns its sequence number. When the ring is full it
// grows, or, at maxRingSlots, drops the oldest packet.
func (r *ring) push(p *av.Packet) uint64 {
	if r.len() == len(r.slots) {
		if len(r.slots) < maxRingSlots {
			r.grow()
		} else {
			r.popFront()
		}
	}
	seq := r.head
	r.slots[seq&uint64(len(r.slots)-1)] = p
	r.head++
	r.bytes += len(p.Data)
	return seq
}

func (r *ring) grow() {
	next := make([]*av.Packet, len(r.slots)*2)
	for seq := r.front; seq < r.head; seq++ {
		next[seq&uint64(len(next)-1)] = r.at(seq)
	}
	r.slots = next
}

func (r *ring) popFront() {
	i := r.front & uint64(len(r.slots)-1)
	r.bytes -= len(r.slots[i].Data)
	r.slots[i] = nil // let the packet be collected
	r.front++
}
