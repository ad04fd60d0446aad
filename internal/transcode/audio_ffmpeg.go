package transcode

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	mpegtscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/substructs"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// maxBridgeBacklog is how old the first audio packet fed to a new ffmpeg
// may be: the reader starts at the GOP cache, but derived audio made from
// seconds-old packets would reach viewers seconds late.
const maxBridgeBacklog = 100 * time.Millisecond

var errSameCodec = errors.New("the publisher's audio already is in the bridged codec")

// errCannotBridge: the publisher's audio codec cannot be fed to ffmpeg;
// retrying would not help.
var errCannotBridge = errors.New("the publisher's audio cannot be bridged")

// aacEncoderDelay is the priming of ffmpeg's AAC encoder: its first frame
// decodes to 1024 samples that precede the input. ADTS cannot say so, and
// FLV and MPEG-TS players play those samples, so the derived track starts
// that much earlier on the timeline to keep audio on time.
const aacEncoderDelay = 1024

// transcodeOnce runs one ffmpeg: the reader's original audio goes in as
// MPEG-TS (timestamps included, so gaps such as WebRTC's silence
// suppression are filled rather than shortening the audio), the other codec
// comes out as ADTS (AAC) or Ogg (Opus), and every frame is written into st
// as a derived packet on the original's timeline.
func (b *AudioBridges) transcodeOnce(ctx context.Context, r *hub.Reader, st *hub.Stream, to av.Codec) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := &audioSource{r: r, buf: make([]*av.Packet, 0, 64)}
	first, err := src.next(ctx)
	for err == nil && time.Since(first.Arrival) > maxBridgeBacklog {
		first, err = src.next(ctx)
	}
	if err != nil {
		return err
	}
	if first.Track.Codec == to {
		return errSameCodec
	}
	in, err := newTSAudioWriter(first.Track)
	if err != nil {
		return err
	}

	cmd := exec.CommandContext(ctx, b.FFmpeg, bridgeArgs(to)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg stdout: %w", err)
	}
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", b.FFmpeg, err)
	}
	out := &derivedWriter{st: st, base: first.PTS}
	outErr := make(chan error, 1)
	go func() {
		br := bufio.NewReaderSize(stdout, 16<<10)
		if to == av.CodecAAC {
			outErr <- out.fromADTS(newADTSReader(br))
		} else {
			outErr <- out.fromOgg(newOggReader(br))
		}
		cancel() // ffmpeg's output ended: stop feeding it
	}()

	inErr := in.feed(ctx, stdin, first, src)
	_ = stdin.Close()
	if inErr != nil {
		cancel()
	}
	err = <-outErr
	_ = cmd.Wait()
	switch {
	case errors.Is(inErr, hub.ErrEnded), errors.Is(err, hub.ErrEnded):
		return hub.ErrEnded
	case err != nil:
		return fmt.Errorf("%w (ffmpeg: %s)", err, strings.TrimSpace(stderr.String()))
	case inErr != nil && !errors.Is(inErr, context.Canceled):
		return fmt.Errorf("%w (ffmpeg: %s)", inErr, strings.TrimSpace(stderr.String()))
	}
	return fmt.Errorf("ffmpeg exited (%s)", strings.TrimSpace(stderr.String()))
}

// bridgeArgs is the ffmpeg command line from MPEG-TS on stdin to codec to
// on stdout. aresample=async fills gaps in the input timestamps with
// silence, so the output's sample count follows the input's timeline.
func bridgeArgs(to av.Codec) []string {
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostats",
		"-fflags", "nobuffer", "-probesize", "32", "-analyzeduration", "0",
		"-f", "mpegts", "-i", "pipe:0",
		"-map", "0:a:0", "-af", "aresample=async=1:first_pts=0",
	}
	if to == av.CodecAAC {
		return append(args, "-c:a", "aac", "-b:a", "128k", "-ac", "2",
			"-f", "adts", "-flush_packets", "1", "pipe:1")
	}
	return append(args, "-c:a", "libopus", "-b:a", "64k", "-ar", "48000", "-ac", "2",
		"-frame_duration", "20", "-application", "lowdelay",
		"-page_duration", "20000", "-flush_packets", "1", "-f", "ogg", "pipe:1")
}

// audioSource yields a reader's audio packets one by one.
type audioSource struct {
	r   *hub.Reader
	buf []*av.Packet
	i   int
}

func (s *audioSource) next(ctx context.Context) (*av.Packet, error) {
	for {
		for s.i < len(s.buf) {
			p := s.buf[s.i]
			s.i++
			if p.Kind() == av.KindAudio {
				return p, nil
			}
		}
		var err error
		s.buf, err = s.r.Read(ctx, s.buf[:0])
		s.i = 0
		if len(s.buf) == 0 && err != nil {
			return nil, err
		}
	}
}

// tsAudioWriter muxes one audio track into MPEG-TS for ffmpeg's stdin.
type tsAudioWriter struct {
	codec av.Codec
	bw    *bufio.Writer
	w     *mpegts.Writer
	track *mpegts.Track
}

func newTSAudioWriter(t *av.Track) (*tsAudioWriter, error) {
	tw := &tsAudioWriter{codec: t.Codec}
	switch t.Codec {
	case av.CodecAAC:
		var asc mpeg4audio.AudioSpecificConfig
		if err := asc.Unmarshal(t.Config); err != nil {
			return nil, fmt.Errorf("aac config: %w", err)
		}
		tw.track = &mpegts.Track{Codec: &mpegtscodecs.MPEG4Audio{Config: asc}}
	case av.CodecOpus:
		ch := t.Channels
		if ch < 1 || ch > 2 {
			ch = 2
		}
		tw.track = &mpegts.Track{Codec: &mpegtscodecs.Opus{Desc: &substructs.OpusAudioDescriptor{ChannelConfigCode: uint8(ch)}}}
	case av.CodecMP3:
		// The MPEG-TS writer takes MPEG-1 audio only (32-48 kHz), not the
		// MPEG-2/2.5 lower sampling frequencies.
		if t.CodecString != "mp4a.6B" || t.SampleRate < 32000 {
			return nil, fmt.Errorf("%w: MP3 at %d Hz (only MPEG-1, 32-48 kHz)", errCannotBridge, t.SampleRate)
		}
		tw.track = &mpegts.Track{Codec: &mpegtscodecs.MPEG1Audio{}}
	default:
		return nil, fmt.Errorf("%w: %s audio", errCannotBridge, t.Codec)
	}
	return tw, nil
}

// feed writes first and every following packet of the same codec until
// the reader or ctx ends. A change of codec (a publisher reconnecting with
// another encoder) ends this run; the next one starts from the new codec.
func (tw *tsAudioWriter) feed(ctx context.Context, w io.Writer, first *av.Packet, src *audioSource) error {
	if err := tw.start(w); err != nil {
		return err
	}
	for p := first; ; {
		if err := tw.write(p); err != nil {
			return err
		}
		var err error
		if p, err = src.next(ctx); err != nil {
			return err
		}
	}
}

// start writes the PAT and PMT.
func (tw *tsAudioWriter) start(w io.Writer) error {
	tw.bw = bufio.NewWriterSize(w, 8<<10)
	tw.w = &mpegts.Writer{W: tw.bw, Tracks: []*mpegts.Track{tw.track}}
	if err := tw.w.Initialize(); err != nil {
		return fmt.Errorf("mpegts writer: %w", err)
	}
	if _, err := tw.w.WriteTables(); err != nil {
		return fmt.Errorf("mpegts tables: %w", err)
	}
	return nil
}

// write muxes and flushes one packet (ffmpeg gets each frame at once).
func (tw *tsAudioWriter) write(p *av.Packet) error {
	if p.Track.Codec != tw.codec {
		return fmt.Errorf("publisher audio changed from %s to %s", tw.codec, p.Track.Codec)
	}
	pts := int64(p.PTS) * 90000 / int64(time.Second)
	var err error
	switch tw.codec {
	case av.CodecAAC:
		err = tw.w.WriteMPEG4Audio(tw.track, pts, [][]byte{p.Data})
	case av.CodecMP3:
		if av.MP3FrameCount(p.Data) == 0 {
			// Not a frame (the FLV demuxer passes such packets on once the
			// track is known): mediacommon's writer would fail the bridge
			// on the first one, and ffmpeg has nothing to decode in it.
			return nil
		}
		err = tw.w.WriteMPEG1Audio(tw.track, pts, [][]byte{p.Data})
	default:
		err = tw.w.WriteOpus(tw.track, pts, [][]byte{p.Data})
	}
	if err == nil {
		err = tw.bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write to ffmpeg: %w", err)
	}
	return nil
}

// derivedWriter turns ffmpeg's output frames into derived packets.
type derivedWriter struct {
	st    *hub.Stream
	base  time.Duration // PTS of the first input packet
	track *av.Track
}

func (d *derivedWriter) write(data []byte, pts time.Duration) error {
	return d.st.WriteDerived(&av.Packet{Track: d.track, DTS: pts, PTS: pts, Key: true, Data: data})
}

// fromADTS writes AAC frames: frame n starts n×1024 samples after the
// first input sample, less the encoder's priming.
func (d *derivedWriter) fromADTS(r *adtsReader) error {
	var frames int64
	for {
		f, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if d.track == nil {
			cfg, err := f.config.Marshal()
			if err != nil {
				return fmt.Errorf("aac config: %w", err)
			}
			if d.track, err = av.NewTrack(av.CodecAAC, cfg); err != nil {
				return err
			}
			d.track.Derived = true
		}
		rate := int64(d.track.SampleRate)
		pts := d.base + time.Duration((frames*1024-aacEncoderDelay)*int64(time.Second)/rate)
		frames++
		if err := d.write(f.au, pts); err != nil {
			return err
		}
	}
}

// fromOgg writes Opus packets: the first is the OpusHead header, whose
// pre-skip is the encoder's priming (WebRTC receivers play it, so the
// derived track starts that much earlier); the second is OpusTags.
func (d *derivedWriter) fromOgg(r *oggReader) error {
	var samples int64
	var preSkip int64
	for n := 0; ; n++ {
		pkt, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch n {
		case 0:
			if d.track, err = av.NewTrack(av.CodecOpus, pkt); err != nil {
				return err
			}
			d.track.Derived = true
			preSkip = int64(binary.LittleEndian.Uint16(pkt[10:12]))
			continue
		case 1: // OpusTags
			continue
		}
		pts := d.base + time.Duration((samples-preSkip)*int64(time.Second)/av.OpusSampleRate)
		samples += int64(opusPacketSamples(pkt))
		if err := d.write(pkt, pts); err != nil {
			return err
		}
	}
}
