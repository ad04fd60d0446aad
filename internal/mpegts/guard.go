package mpegts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// packetSize is the MPEG-TS packet size (ISO 13818-1 §2.4.3.2).
const packetSize = 188

// Guard limits, defaults of DemuxOptions.
const (
	// DefaultMaxPESSize bounds one PES packet (one access unit): 8 MiB.
	DefaultMaxPESSize = 8 << 20
	// DefaultMaxProbeBytes bounds the bytes read before the PMT: 4 MiB.
	DefaultMaxProbeBytes = 4 << 20
)

// errGarbage is wrapped by every guard error.
var errGarbage = errors.New("mpegts: malformed stream")

// guard sits between the transport and mediacommon's reader and keeps a
// hostile stream from making it hold unbounded memory: mediacommon
// rewinds to the start after finding the PMT (so it keeps every byte read
// before it) and assembles a PES until the next payload_unit_start, however
// long that takes. guard checks the 188-byte framing, caps the probe and
// each PID's unfinished PES, and counts bytes.
type guard struct {
	r io.Reader
	// probe is how many more bytes may be read before probing ends.
	probe int
	// probing is true until the caller calls endProbe.
	probing  bool
	maxPES   int
	pending  map[uint16]int // PID → bytes since its last unit start
	buf      []byte         // bytes read but not yet returned (whole packets)
	carry    []byte         // a partial packet left over from the last read
	store    []byte         // buf's backing array, reused once buf is drained
	readBuf  []byte
	onBytes  func(int)
	maxPIDs  int
	probeMax int
	// resyncs counts lost syncs since resyncFrom (lostSync).
	resyncs    int
	resyncFrom time.Time
}

func newGuard(r io.Reader, maxPES, maxProbe int, onBytes func(int)) *guard {
	return &guard{r: r, probe: maxProbe, probeMax: maxProbe, probing: true, maxPES: maxPES,
		pending: make(map[uint16]int), readBuf: make([]byte, 64*packetSize), onBytes: onBytes, maxPIDs: 64}
}

// endProbe lifts the probe budget once the reader has found its tracks.
func (g *guard) endProbe() { g.probing = false }

// Read implements io.Reader; it only ever returns whole, checked packets.
func (g *guard) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		g.buf = g.store[:0]
		n, err := g.r.Read(g.readBuf)
		if n > 0 {
			if g.onBytes != nil {
				g.onBytes(n)
			}
			if g.probing {
				g.probe -= n
				if g.probe < 0 {
					return 0, fmt.Errorf("%w: no program map table within the first %d bytes", errGarbage, g.probeMax)
				}
			}
			if err := g.take(g.readBuf[:n]); err != nil {
				return 0, err
			}
			g.store = g.buf[:0]
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// take checks the packets in b (after what is left of the last read)
// and queues them. Bytes that are not on the 188-byte grid are skipped to
// the next sync byte: a sender whose messages are not whole packets loses
// alignment when SRT drops one. Too many of those in a row of ten seconds
// mean the stream is not MPEG-TS.
func (g *guard) take(b []byte) error {
	data := b
	if len(g.carry) > 0 {
		data = append(g.carry, b...)
	}
	i := 0
	for len(data)-i >= packetSize {
		if data[i] != 0x47 {
			if err := g.lostSync(data[i]); err != nil {
				return err
			}
			j := bytes.IndexByte(data[i+1:], 0x47)
			if j < 0 {
				i = len(data)
				break
			}
			i += 1 + j
			continue
		}
		pkt := data[i : i+packetSize]
		if err := g.check(pkt); err != nil {
			return err
		}
		g.buf = append(g.buf, pkt...)
		i += packetSize
	}
	g.carry = append(g.carry[:0], data[i:]...)
	return nil
}

// maxResyncs is how many times in ten seconds the stream may lose the
// packet grid before it is taken for garbage.
const maxResyncs = 20

func (g *guard) lostSync(got byte) error {
	now := time.Now()
	if now.Sub(g.resyncFrom) > 10*time.Second {
		g.resyncFrom, g.resyncs = now, 0
	}
	g.resyncs++
	if g.resyncs > maxResyncs {
		return fmt.Errorf("%w: lost sync %d times within 10s (byte 0x%02x where 0x47 belongs)", errGarbage, g.resyncs, got)
	}
	return nil
}

// check validates one packet's header (ISO 13818-1 §2.4.3.2) and
// accounts its payload against its PID's unfinished PES.
func (g *guard) check(pkt []byte) error {
	pid := uint16(pkt[1]&0x1f)<<8 | uint16(pkt[2])
	if pid == 0x1fff { // null packet
		return nil
	}
	start := pkt[1]&0x40 != 0
	payload := packetSize - 4
	if afc := pkt[3] >> 4 & 3; afc&2 != 0 {
		payload -= 1 + int(pkt[4])
	}
	if payload < 0 {
		payload = 0
	}
	cur, ok := g.pending[pid]
	if !ok && len(g.pending) >= g.maxPIDs {
		return fmt.Errorf("%w: more than %d PIDs", errGarbage, g.maxPIDs)
	}
	if start {
		cur = 0
	}
	cur += payload
	if cur > g.maxPES {
		return fmt.Errorf("%w: PID %d: a PES over %d bytes", errGarbage, pid, g.maxPES)
	}
	g.pending[pid] = cur
	return nil
}
