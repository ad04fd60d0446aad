package webrtc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// opusFrame is one Opus packet made from a stream's AAC audio, with its
// presentation time on the stream's timeline.
type opusFrame struct {
	data []byte
	pts  time.Duration
}

// opusSubQueue bounds each viewer's queue of bridged Opus packets (1 s at
// 20 ms per packet); a viewer that falls further behind loses packets
// rather than delaying the others.
const opusSubQueue = 50

// opusBridge turns one stream's AAC audio into Opus with one ffmpeg process
// (AAC in ADTS on stdin, Ogg Opus on stdout) for all of the stream's WHEP
// viewers. It starts with the first viewer that needs it and stops after
// the last one leaves (Server.acquireBridge / releaseBridge).
//
// This is a first slice: DESIGN.md wants AAC→Opus as a hub track produced
// by internal/transcode, shared with every protocol; until that exists it
// lives here, private to WHEP.
type opusBridge struct {
	srv    *Server
	stream *hub.Stream
	refs   int // guarded by srv.mu
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	subs  map[chan opusFrame]struct{}
	ended bool
}

// acquireBridge returns the stream's running bridge, starting one for the
// first viewer.
func (s *Server) acquireBridge(st *hub.Stream) *opusBridge {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[st]
	if b == nil {
		ctx, cancel := context.WithCancel(context.Background())
		b = &opusBridge{srv: s, stream: st, ctx: ctx, cancel: cancel, subs: map[chan opusFrame]struct{}{}}
		s.bridges[st] = b
		s.wg.Add(1)
		go b.run()
	}
	b.refs++
	return b
}

// releaseBridge drops a viewer's reference; the last one stops ffmpeg.
func (s *Server) releaseBridge(st *hub.Stream, b *opusBridge) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.refs--; b.refs == 0 {
		if s.bridges[st] == b {
			delete(s.bridges, st)
		}
		b.cancel()
	}
}

// subscribe returns a bounded queue of the bridge's Opus packets; it is
// closed when the bridge ends.
func (b *opusBridge) subscribe() chan opusFrame {
	ch := make(chan opusFrame, opusSubQueue)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		close(ch)
		return ch
	}
	b.subs[ch] = struct{}{}
	return ch
}

func (b *opusBridge) unsubscribe(ch chan opusFrame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[ch]; ok {
		delete(b.subs, ch)
		close(ch)
	}
}

// publish hands f to every subscriber that has room.
func (b *opusBridge) publish(f opusFrame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- f:
		default: // that viewer is behind: drop, never queue more
		}
	}
}

func (b *opusBridge) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended = true
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}

// run feeds ffmpeg from a hub reader and publishes what it encodes, until
// the last viewer leaves, the stream ends or ffmpeg fails.
func (b *opusBridge) run() {
	defer b.srv.wg.Done()
	defer b.end()
	log := b.srv.Logger.With("proto", "whep", "path", b.stream.Path(), "component", "opus-bridge")
	err := b.transcode()
	if err != nil && b.ctx.Err() == nil {
		log.Warn("whep: AAC to Opus bridge stopped; viewers continue without audio", "err", err)
		return
	}
	log.Debug("whep: AAC to Opus bridge stopped")
}

func (b *opusBridge) transcode() error {
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	reader, err := b.srv.Hub.Subscribe(ctx, b.stream.Path(), hub.ClientInfo{Protocol: "whep-opus-bridge", Remote: "ffmpeg"})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer reader.Close()

	cmd := exec.CommandContext(ctx, b.srv.FFmpeg,
		"-hide_banner", "-loglevel", "error", "-nostats",
		"-fflags", "nobuffer", "-probesize", "2048", "-analyzeduration", "0",
		"-f", "aac", "-i", "pipe:0",
		"-map", "0:a:0", "-c:a", "libopus", "-b:a", "64k", "-ar", "48000", "-ac", "2",
		"-frame_duration", "20", "-application", "lowdelay",
		"-page_duration", "20000", "-flush_packets", "1",
		"-f", "ogg", "pipe:1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg stdout: %w", err)
	}
	var stderr boundedBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", b.srv.FFmpeg, err)
	}

	// base is the PTS of the first AAC frame fed; ffmpeg's output timeline
	// counts samples from it.
	baseCh := make(chan time.Duration, 1)
	outErr := make(chan error, 1)
	go func() { outErr <- b.readOgg(ctx, stdout, baseCh) }()

	inErr := b.feed(ctx, reader, stdin, baseCh)
	_ = stdin.Close()
	cancel() // kills ffmpeg if it is still running
	err = <-outErr
	_ = cmd.Wait()
	if inErr != nil && !errors.Is(inErr, context.Canceled) {
		return inErr
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w (ffmpeg: %s)", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// feed writes the reader's AAC frames to w as ADTS until the reader ends.
func (b *opusBridge) feed(ctx context.Context, r *hub.Reader, w io.Writer, baseCh chan<- time.Duration) error {
	buf := make([]*av.Packet, 0, 64)
	var frame []byte
	sentBase := false
	for {
		pkts, err := r.Read(ctx, buf[:0])
		for _, p := range pkts {
			if p.Track.Codec != av.CodecAAC {
				continue
			}
			frame, err = appendADTS(frame[:0], p.Track, p.Data)
			if err != nil {
				return fmt.Errorf("adts: %w", err)
			}
			if !sentBase {
				sentBase = true
				baseCh <- p.PTS
			}
			if _, err := w.Write(frame); err != nil {
				return fmt.Errorf("write to ffmpeg: %w", err)
			}
		}
		if err != nil {
			return err
		}
	}
}

// readOgg parses ffmpeg's Ogg Opus output (RFC 7845) and publishes each
// audio packet with its time, skipping the two header packets.
func (b *opusBridge) readOgg(ctx context.Context, r io.Reader, baseCh <-chan time.Duration) error {
	or := newOggReader(bufio.NewReaderSize(r, 16<<10))
	var base time.Duration
	haveBase := false
	var samples int64
	for n := 0; ; n++ {
		pkt, err := or.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if n < 2 { // OpusHead, OpusTags (RFC 7845 §3)
			continue
		}
		if !haveBase {
			select {
			case base = <-baseCh:
				haveBase = true
			case <-ctx.Done():
				return nil
			}
		}
		pts := base + time.Duration(samples)*time.Second/48000
		samples += int64(opusPacketSamples(pkt))
		b.publish(opusFrame{data: pkt, pts: pts})
	}
}

// adtsSampleRates is the ADTS sampling_frequency_index table
// (ISO 14496-3 §1.6.3.4).
var adtsSampleRates = []int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// appendADTS appends one AAC frame with an ADTS header (ISO 14496-3
// §1.A.2.2, no CRC) built from the track: AAC-LC at the track's core
// sampling rate, which is also how HE-AAC is carried in ADTS (implicit SBR).
func appendADTS(dst []byte, t *av.Track, frame []byte) ([]byte, error) {
	sfi := -1
	for i, r := range adtsSampleRates {
		if r == t.SampleRate {
			sfi = i
		}
	}
	if sfi < 0 {
		return dst, fmt.Errorf("sample rate %d has no ADTS index", t.SampleRate)
	}
	ch := t.Channels
	if ch < 1 || ch > 8 {
		return dst, fmt.Errorf("%d channels not expressible in ADTS", ch)
	}
	if ch == 8 {
		ch = 7 // channel_configuration 7 is 7.1
	}
	n := len(frame) + 7
	if n > 1<<13-1 {
		return dst, fmt.Errorf("frame of %d bytes too large for ADTS", len(frame))
	}
	const profileLC = 1 // audio object type 2 minus 1
	dst = append(dst,
		0xff, 0xf1, // syncword, MPEG-4, layer 0, protection_absent
		byte(profileLC<<6|sfi<<2|ch>>2),
		byte((ch&3)<<6|n>>11),
		byte(n>>3),
		byte((n&7)<<5|0x1f), // + buffer fullness 0x7ff (VBR)
		0xfc,                // buffer fullness, one raw data block
	)
	return append(dst, frame...), nil
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
	_ = binary.LittleEndian.Uint64(o.hdr[6:]) // granule position: unused, packet TOCs give durations
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

// boundedBuffer keeps the first 4 KiB written to it (ffmpeg's stderr).
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 4096 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startBridge attaches the session to its stream's AAC→Opus bridge and
// starts the goroutine that forwards the bridge's packets. Called by run.
func (s *session) startBridge() {
	s.bridge = s.srv.acquireBridge(s.stream)
	ch := s.bridge.subscribe()
	s.srv.wg.Add(1)
	go func() {
		defer s.srv.wg.Done()
		defer s.bridge.unsubscribe(ch)
		for {
			select {
			case f, ok := <-ch:
				if !ok {
					return
				}
				if err := s.writeOpus(f.data, f.pts); err != nil {
					return
				}
			case <-s.ctx.Done():
				return
			}
		}
	}()
}
