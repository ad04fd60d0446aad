package transcode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Ogg (RFC 3533) is how ffmpeg hands us the Opus it encodes: one packet per
// page (-page_duration), so packets come out as soon as they are encoded.

// maxOggPacket bounds one reassembled Ogg packet (an Opus packet is at most
// 1275 bytes per frame times 48 frames).
const maxOggPacket = 64 << 10

// oggReader splits an Ogg stream (RFC 3533) into packets.
type oggReader struct {
	r       *bufio.Reader
	hdr     [27]byte
	segs    [255]byte
	partial []byte
	queue   [][]byte
}

func newOggReader(r *bufio.Reader) *oggReader { return &oggReader{r: r} }

// next returns the next complete packet.
func (o *oggReader) next() ([]byte, error) {
	for len(o.queue) == 0 {
		if err := o.readPage(); err != nil {
			return nil, err
		}
	}
	p := o.queue[0]
	o.queue = o.queue[1:]
	return p, nil
}

// readPage reads one page (RFC 3533 §6) and queues the packets it
// completes.
func (o *oggReader) readPage() error {
	if _, err := io.ReadFull(o.r, o.hdr[:]); err != nil {
		return err
	}
	if !bytes.Equal(o.hdr[:4], []byte("OggS")) {
		return errors.New("ogg: bad capture pattern")
	}
	nsegs := int(o.hdr[26])
	if _, err := io.ReadFull(o.r, o.segs[:nsegs]); err != nil {
		return fmt.Errorf("ogg: segment table: %w", err)
	}
	for _, l := range o.segs[:nsegs] {
		if len(o.partial)+int(l) > maxOggPacket {
			return fmt.Errorf("ogg: packet larger than %d bytes", maxOggPacket)
		}
		start := len(o.partial)
		o.partial = append(o.partial, make([]byte, l)...)
		if _, err := io.ReadFull(o.r, o.partial[start:]); err != nil {
			return fmt.Errorf("ogg: page body: %w", err)
		}
		if l < 255 {
			o.queue = append(o.queue, o.partial)
			o.partial = nil
		}
	}
	return nil
}

// opusPacketSamples returns the number of 48 kHz samples in an Opus packet
// from its TOC byte (RFC 6716 §3.1), or 960 (20 ms) when it cannot tell.
func opusPacketSamples(p []byte) int {
	if len(p) == 0 {
		return 960
	}
	toc := p[0]
	cfg := toc >> 3
	var frame int // in 48 kHz samples
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{480, 960, 1920, 2880}[cfg&3]
	case cfg < 16: // Hybrid: 10, 20 ms
		frame = []int{480, 960}[cfg&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{120, 240, 480, 960}[cfg&3]
	}
	count := 1
	switch toc & 3 {
	case 1, 2:
		count = 2
	case 3:
		if len(p) < 2 {
			return 960
		}
		count = int(p[1] & 0x3f)
	}
	return frame * count
}
