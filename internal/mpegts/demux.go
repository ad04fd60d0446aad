// Package mpegts converts between MPEG-TS byte streams and hub packets,
// through mediacommon's MPEG-TS reader and writer: Demux publishes a TS
// stream (SRT publishers, pulled srt:// sources) into the hub, Muxer and
// Copy write hub packets as TS (SRT readers, srt:// forward targets, the
// packager's MPEG-TS segments).
//
// Codecs: H.264 and H.265 video; AAC (ADTS), Opus (ETSI TS 102 366 style
// as mediacommon reads it) and MP3 (MPEG audio Layer III) audio. Other
// elementary streams are ignored with one log line.
package mpegts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg1audio"
	mcopus "github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	mcmpegts "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// Sink receives the demuxed stream. *hub.Publisher implements it.
type Sink interface {
	// Announce declares the kinds of track the stream carries.
	Announce(hasVideo, hasAudio bool)
	// WritePacket publishes one access unit.
	WritePacket(pkt *av.Packet) error
}

var _ Sink = (*hub.Publisher)(nil)

// ErrNoTracks is returned by Demux for a stream whose program carries no
// elementary stream of a supported codec.
var ErrNoTracks = errors.New("mpegts: no supported track (H.264, H.265, AAC, Opus, MP3)")

// DemuxOptions tune Demux. The zero value is usable.
type DemuxOptions struct {
	// Logger receives one line per ignored track and rate-limited decode
	// warnings. Default slog.Default().
	Logger *slog.Logger
	// MaxPESSize bounds one PES packet (an access unit), in bytes; a
	// larger one ends the stream with an error. Default 8 MiB.
	MaxPESSize int
	// MaxProbeBytes bounds what is read before the program map table is
	// found, in bytes. Default 4 MiB.
	MaxProbeBytes int
	// OnBytes, if set, is called with the size of every read from r.
	OnBytes func(n int)
	// MaxDecodeErrors ends the stream once this many non-fatal decode
	// errors (broken PES, bad ADTS...) happened in a row of ten seconds:
	// a stream that is mostly garbage is cut rather than parsed forever.
	// Default 1000.
	MaxDecodeErrors int
}

// Demux reads an MPEG-TS stream from r and writes its access units to sink
// until r fails (its error is returned; io.EOF for a clean end) or sink
// refuses a packet. It never panics on hostile input and bounds the memory
// a stream can make it hold (DemuxOptions).
func Demux(r io.Reader, sink Sink, opts DemuxOptions) (err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxPESSize <= 0 {
		opts.MaxPESSize = DefaultMaxPESSize
	}
	if opts.MaxProbeBytes <= 0 {
		opts.MaxProbeBytes = DefaultMaxProbeBytes
	}
	if opts.MaxDecodeErrors <= 0 {
		opts.MaxDecodeErrors = 1000
	}
	defer func() {
		// mediacommon and astits are bounds-checked, but a publisher
		// must never be able to crash the server.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: parser panic: %v", errGarbage, r)
		}
	}()
	g := newGuard(r, opts.MaxPESSize, opts.MaxProbeBytes, opts.OnBytes)
	rd := &mcmpegts.Reader{R: g}
	if err := rd.Initialize(); err != nil {
		if errors.Is(err, errGarbage) || isEOF(err) {
			return err
		}
		return fmt.Errorf("mpegts: find program: %w", err)
	}
	g.endProbe()
	d := &demuxer{sink: sink, log: opts.Logger, maxErrs: opts.MaxDecodeErrors}
	if err := d.setup(rd); err != nil {
		return err
	}
	for {
		if err := rd.Read(); err != nil {
			if d.fatal != nil {
				return d.fatal
			}
			return err
		}
		if d.fatal != nil {
			return d.fatal
		}
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// demuxer holds one stream's conversion state.
type demuxer struct {
	sink    Sink
	log     *slog.Logger
	td      mcmpegts.TimeDecoder // one for all tracks: keeps the A/V offset
	video   videoState
	audio   *av.Track
	fatal   error
	maxErrs int
	errs    int
	errFrom time.Time
	logged  int
}

func (d *demuxer) setup(rd *mcmpegts.Reader) error {
	var hasVideo, hasAudio bool
	for _, t := range rd.Tracks() {
		switch c := t.Codec.(type) {
		case *codecs.H264, *codecs.H265:
			if hasVideo {
				d.ignore(t, "a second video track")
				continue
			}
			hasVideo = true
			d.video.codec = av.CodecH264
			if _, ok := c.(*codecs.H265); ok {
				d.video.codec = av.CodecH265
				rd.OnDataH265(t, d.onVideo)
			} else {
				rd.OnDataH264(t, d.onVideo)
			}
		case *codecs.MPEG4Audio:
			if hasAudio {
				d.ignore(t, "a second audio track")
				continue
			}
			cfg, err := c.Config.Marshal()
			if err != nil {
				d.ignore(t, "AAC config: "+err.Error())
				continue
			}
			tr, err := av.NewTrack(av.CodecAAC, cfg)
			if err != nil {
				d.ignore(t, err.Error())
				continue
			}
			hasAudio, d.audio = true, tr
			rd.OnDataMPEG4Audio(t, d.onAAC)
		case *codecs.Opus:
			if hasAudio {
				d.ignore(t, "a second audio track")
				continue
			}
			ch := c.ChannelCount
			if ch < 1 || ch > 2 {
				ch = 2
			}
			tr, err := av.NewTrack(av.CodecOpus, av.OpusHead(ch))
			if err != nil {
				d.ignore(t, err.Error())
				continue
			}
			hasAudio, d.audio = true, tr
			rd.OnDataOpus(t, d.onOpus)
		case *codecs.MPEG1Audio:
			if hasAudio {
				d.ignore(t, "a second audio track")
				continue
			}
			hasAudio = true // the track is made from the first frame
			rd.OnDataMPEG1Audio(t, d.onMP3)
		default:
			d.ignore(t, "unsupported codec")
		}
	}
	if !hasVideo && !hasAudio {
		return ErrNoTracks
	}
	rd.OnDecodeError(d.decodeError)
	d.sink.Announce(hasVideo, hasAudio)
	return nil
}

func (d *demuxer) ignore(t *mcmpegts.Track, why string) {
	d.log.Info("mpegts track ignored", "pid", t.PID, "codec", fmt.Sprintf("%T", t.Codec), "reason", why)
}

// decodeError counts the reader's non-fatal errors: a few are logged, too
// many in a row make the stream fail.
func (d *demuxer) decodeError(err error) {
	now := time.Now()
	if now.Sub(d.errFrom) > 10*time.Second {
		d.errFrom, d.errs = now, 0
	}
	d.errs++
	if d.logged < 3 {
		d.logged++
		d.log.Warn("mpegts decode error", "err", err)
	}
	if d.errs >= d.maxErrs && d.fatal == nil {
		d.fatal = fmt.Errorf("%w: %d decode errors within 10s, last: %v", errGarbage, d.errs, err)
	}
}

// duration converts 90 kHz ticks to a duration.
func duration(t int64) time.Duration {
	return time.Duration(t/90000)*time.Second + time.Duration(t%90000)*time.Second/90000
}

// decode unwraps a 33-bit timestamp onto the stream's continuous timeline.
func (d *demuxer) decode(ts int64) time.Duration { return duration(d.td.Decode(ts)) }

func (d *demuxer) write(pkt *av.Packet) error {
	if err := d.sink.WritePacket(pkt); err != nil {
		d.fatal = err
		return err
	}
	return nil
}

func (d *demuxer) onAAC(pts int64, aus [][]byte) error {
	base := d.decode(pts)
	for i, au := range aus {
		t := base + time.Duration(i)*1024*time.Second/time.Duration(max(d.audio.SampleRate, 1))
		pkt := &av.Packet{Track: d.audio, DTS: t, PTS: t, Key: true, Data: au, Arrival: time.Now()}
		if err := d.write(pkt); err != nil {
			return err
		}
	}
	return nil
}

func (d *demuxer) onOpus(pts int64, packets [][]byte) error {
	t := d.decode(pts)
	for _, p := range packets {
		if len(p) == 0 {
			continue
		}
		pkt := &av.Packet{Track: d.audio, DTS: t, PTS: t, Key: true, Data: p, Arrival: time.Now()}
		if err := d.write(pkt); err != nil {
			return err
		}
		t += time.Duration(mcopus.PacketDuration2(p)) * time.Second / 48000
	}
	return nil
}

func (d *demuxer) onMP3(pts int64, frames [][]byte) error {
	t := d.decode(pts)
	for _, f := range frames {
		cfg, err := av.MP3Config(f)
		if err != nil {
			d.decodeError(err) // Layer I/II: not carried
			continue
		}
		if d.audio == nil || string(d.audio.Config) != string(cfg) {
			tr, err := av.NewTrack(av.CodecMP3, cfg)
			if err != nil {
				d.decodeError(err)
				continue
			}
			d.audio = tr
		}
		pkt := &av.Packet{Track: d.audio, DTS: t, PTS: t, Key: true, Data: f, Arrival: time.Now()}
		if err := d.write(pkt); err != nil {
			return err
		}
		var h mpeg1audio.FrameHeader
		if h.Unmarshal(f) == nil && h.SampleRate > 0 {
			t += time.Duration(h.SampleCount()) * time.Second / time.Duration(h.SampleRate)
		}
	}
	return nil
}

// videoState builds H.264/H.265 tracks from the in-band parameter sets.
type videoState struct {
	codec         av.Codec
	vps, sps, pps []byte
	track         *av.Track
	dropped       int
}

func (d *demuxer) onVideo(pts, dts int64, au [][]byte) error {
	v := &d.video
	t := d.decode(dts)
	cts := (pts - dts) & 0x1FFFFFFFF
	if cts > 0x1FFFFFFFF/2 {
		cts -= 0x200000000
	}
	size, key, changed := 0, false, false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch v.kind(n) {
		case nalParam:
			changed = v.setParam(n) || changed
			continue
		case nalSkip:
			continue
		case nalKey:
			key = true
		}
		size += 4 + len(n)
	}
	if changed || v.track == nil {
		v.rebuild()
	}
	if size == 0 {
		return nil
	}
	if v.track == nil || (v.dropped > 0 && !key) {
		// Nothing decodes before the parameter sets and a keyframe.
		v.dropped++
		if v.dropped == 1 {
			d.log.Debug("mpegts video before its parameter sets or first keyframe dropped")
		}
		return nil
	}
	v.dropped = 0
	data := make([]byte, 0, size)
	for _, n := range au {
		if len(n) == 0 || v.kind(n) == nalParam || v.kind(n) == nalSkip {
			continue
		}
		data = binary.BigEndian.AppendUint32(data, uint32(len(n)))
		data = append(data, n...)
	}
	pkt := &av.Packet{Track: v.track, DTS: t, PTS: t + duration(cts), Key: key, Data: data, Arrival: time.Now()}
	return d.write(pkt)
}

type nalKind int

const (
	nalOther nalKind = iota
	nalKey
	nalParam
	nalSkip // access unit delimiters, filler data
)

// kind classifies a NAL unit by its header: H.264 Table 7-1, H.265 Table 7-1.
func (v *videoState) kind(n []byte) nalKind {
	if v.codec == av.CodecH265 {
		switch typ := n[0] >> 1 & 0x3f; {
		case typ >= 32 && typ <= 34:
			return nalParam
		case typ == 35 || typ == 38:
			return nalSkip
		case typ >= 16 && typ <= 23:
			return nalKey
		}
		return nalOther
	}
	switch n[0] & 0x1f {
	case 7, 8:
		return nalParam
	case 9, 12:
		return nalSkip
	case 5:
		return nalKey
	}
	return nalOther
}

func (v *videoState) setParam(n []byte) bool {
	var dst *[]byte
	if v.codec == av.CodecH265 {
		switch n[0] >> 1 & 0x3f {
		case 32:
			dst = &v.vps
		case 33:
			dst = &v.sps
		default:
			dst = &v.pps
		}
	} else if n[0]&0x1f == 7 {
		dst = &v.sps
	} else {
		dst = &v.pps
	}
	if string(*dst) == string(n) {
		return false
	}
	*dst = append([]byte(nil), n...)
	return true
}

// rebuild makes a new track from the current parameter sets (a change of
// SPS/PPS is a new Track, av.Track's rule); it keeps the old one when they
// do not parse.
func (v *videoState) rebuild() {
	var cfg []byte
	var err error
	if v.codec == av.CodecH265 {
		if v.vps == nil || v.sps == nil || v.pps == nil {
			return
		}
		cfg, err = av.HEVCConfigRecord(v.vps, v.sps, v.pps)
	} else {
		if v.sps == nil || v.pps == nil {
			return
		}
		cfg, err = av.AVCConfigRecord(v.sps, v.pps)
	}
	if err != nil {
		return
	}
	if t, err := av.NewTrack(v.codec, cfg); err == nil {
		v.track = t
	}
}
