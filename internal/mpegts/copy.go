package mpegts

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// DefaultChunkSize is CopyOptions.ChunkSize's default: seven TS packets,
// the 1316-byte payload SRT peers (libsrt, ffmpeg) expect per message.
const DefaultChunkSize = 7 * packetSize

// probeWindow is how long Copy collects packets, waiting for every
// announced kind of track, before it writes the program tables.
const probeWindow = time.Second

// CopyOptions tune Copy.
type CopyOptions struct {
	// ChunkSize is the size of each write to w, in bytes, a multiple of
	// 188 (the last write of a batch may be shorter, but is whole TS
	// packets). Default DefaultChunkSize.
	ChunkSize int
	// Logger receives one line per track MPEG-TS cannot carry. Default
	// slog.Default().
	Logger *slog.Logger
	// OnBytes, if set, is called with the size of every write to w.
	OnBytes func(n int)
}

// Copy reads rd and writes its packets to w as MPEG-TS until the stream
// ends (nil), ctx ends (ctx.Err()) or w or rd fails. Program tables open
// the stream and precede every video keyframe, so a receiver can join at
// any GOP; a new track (codec change, republish with other settings)
// starts a new program. Video other than H.264/H.265 and audio other than
// AAC/Opus/MP3 are left out.
func Copy(ctx context.Context, rd *hub.Reader, w io.Writer, opts CopyOptions) error {
	if opts.ChunkSize <= 0 || opts.ChunkSize%packetSize != 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &copier{
		out:     &chunker{w: w, size: opts.ChunkSize, onBytes: opts.OnBytes},
		log:     opts.Logger,
		stream:  rd.Stream(),
		skipped: map[av.Codec]bool{},
	}
	batch := make([]*av.Packet, 0, 64)
	for {
		var err error
		batch, err = rd.Read(ctx, batch[:0])
		for _, p := range batch {
			if werr := c.packet(p); werr != nil {
				return werr
			}
		}
		if ferr := c.out.flush(); ferr != nil {
			return ferr
		}
		if err != nil {
			if errors.Is(err, hub.ErrEnded) {
				return nil
			}
			return err
		}
	}
}

type copier struct {
	out     *chunker
	log     *slog.Logger
	stream  *hub.Stream
	mux     *Muxer
	video   *av.Track // the tracks seen, which the muxer must carry
	audio   *av.Track
	pending []*av.Packet // collected before the first program
	skipped map[av.Codec]bool
}

func (c *copier) carries(t *av.Track) bool {
	switch t.Codec {
	case av.CodecH264, av.CodecH265, av.CodecAAC, av.CodecOpus, av.CodecMP3:
		return true
	}
	if !c.skipped[t.Codec] {
		c.skipped[t.Codec] = true
		c.log.Warn("mpegts cannot carry this track; left out", "codec", t.Codec.String())
	}
	return false
}

func (c *copier) packet(p *av.Packet) error {
	if !c.carries(p.Track) {
		return nil
	}
	changed := false
	if p.Kind() == av.KindVideo && p.Track != c.video {
		c.video, changed = p.Track, true
	} else if p.Kind() == av.KindAudio && p.Track != c.audio {
		c.audio, changed = p.Track, true
	}
	if c.mux == nil {
		c.pending = append(c.pending, p)
		if !c.ready() {
			return nil
		}
		if err := c.program(); err != nil {
			return err
		}
		pend := c.pending
		c.pending = nil
		for _, q := range pend {
			if err := c.write(q); err != nil {
				return err
			}
		}
		return nil
	}
	if changed {
		if err := c.program(); err != nil {
			return err
		}
	}
	return c.write(p)
}

// ready reports whether the first program can be written: every
// announced kind has a track, or the probe window is over.
func (c *copier) ready() bool {
	hasVideo, hasAudio := c.stream.Kinds()
	if (c.video != nil || !hasVideo) && (c.audio != nil || !hasAudio) {
		return true
	}
	first, last := c.pending[0], c.pending[len(c.pending)-1]
	return last.DTS-first.DTS >= probeWindow || len(c.pending) >= 512
}

// program starts a new program for the current tracks.
func (c *copier) program() error {
	mux, err := NewMuxer(c.out, c.video, c.audio)
	if err != nil {
		return err
	}
	c.mux = mux
	return mux.WriteTables()
}

func (c *copier) write(p *av.Packet) error {
	if p.Kind() == av.KindVideo && p.Key {
		if err := c.mux.WriteTables(); err != nil {
			return err
		}
	}
	return c.mux.WritePacket(p)
}

// chunker cuts the muxer's output into writes of size bytes.
type chunker struct {
	w       io.Writer
	size    int
	buf     []byte
	onBytes func(int)
}

func (k *chunker) Write(p []byte) (int, error) {
	k.buf = append(k.buf, p...)
	for len(k.buf) >= k.size {
		if err := k.send(k.buf[:k.size]); err != nil {
			return 0, err
		}
		k.buf = k.buf[:copy(k.buf, k.buf[k.size:])]
	}
	return len(p), nil
}

func (k *chunker) flush() error {
	if len(k.buf) == 0 {
		return nil
	}
	err := k.send(k.buf)
	k.buf = k.buf[:0]
	return err
}

func (k *chunker) send(b []byte) error {
	n, err := k.w.Write(b)
	if k.onBytes != nil && n > 0 {
		k.onBytes(n)
	}
	return err
}
