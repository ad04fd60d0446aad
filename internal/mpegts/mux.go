package mpegts

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mcmpegts "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/sluicemedia/sluice/internal/av"
)

// TimeOffset shifts MPEG-TS timestamps (90 kHz) so that PCR = DTS - 100 ms
// (mediacommon's choice) never goes negative at the start of a stream.
const TimeOffset = 90000

// Muxer writes hub packets of one track set as MPEG-TS with mediacommon's
// writer. Continuity counters run on for the Muxer's life, so a caller
// cutting segments keeps one Muxer per track set and calls WriteTables at
// each segment start.
type Muxer struct {
	w      *mcmpegts.Writer
	video  *mcmpegts.Track
	audio  *mcmpegts.Track
	vTrack *av.Track
	aTrack *av.Track
	// paramSets is prepended (Annex-B) to keyframes that lack them: FLV
	// and MP4 carry SPS/PPS out of band, MPEG-TS in band.
	paramSets [][]byte
	nalus     [][]byte // reused
}

// NewMuxer returns a Muxer writing to w for the given tracks (either may be
// nil, not both). It fails for a codec MPEG-TS cannot carry here: video
// other than H.264/H.265, audio other than AAC, Opus and MP3.
func NewMuxer(w io.Writer, video, audio *av.Track) (*Muxer, error) {
	m := &Muxer{vTrack: video, aTrack: audio}
	var tracks []*mcmpegts.Track
	if video != nil {
		switch video.Codec {
		case av.CodecH264:
			sps, pps, err := av.H264ParameterSets(video.Config)
			if err != nil {
				return nil, err
			}
			m.paramSets = append(append(m.paramSets, sps...), pps...)
			m.video = &mcmpegts.Track{Codec: &mcmpegts.CodecH264{}}
		case av.CodecH265:
			vps, sps, pps, err := av.H265ParameterSets(video.Config)
			if err != nil {
				return nil, err
			}
			m.paramSets = append(append(append(m.paramSets, vps...), sps...), pps...)
			m.video = &mcmpegts.Track{Codec: &mcmpegts.CodecH265{}}
		default:
			return nil, fmt.Errorf("mpegts: cannot carry %s video", video.Codec)
		}
		tracks = append(tracks, m.video)
	}
	if audio != nil {
		switch audio.Codec {
		case av.CodecAAC:
			var asc mpeg4audio.AudioSpecificConfig
			if err := asc.Unmarshal(audio.Config); err != nil {
				return nil, fmt.Errorf("mpegts: aac config: %w", err)
			}
			m.audio = &mcmpegts.Track{Codec: &mcmpegts.CodecMPEG4Audio{Config: asc}}
		case av.CodecMP3:
			// Stream type 0x03, ISO 11172-3 audio (ISO 13818-1 Table 2-34).
			m.audio = &mcmpegts.Track{Codec: &mcmpegts.CodecMPEG1Audio{}}
		case av.CodecOpus:
			ch := audio.Channels
			if ch < 1 {
				ch = 2
			}
			m.audio = &mcmpegts.Track{Codec: &mcmpegts.CodecOpus{ChannelCount: ch}}
		default:
			return nil, fmt.Errorf("mpegts: cannot carry %s audio", audio.Codec)
		}
		tracks = append(tracks, m.audio)
	}
	if len(tracks) == 0 {
		return nil, fmt.Errorf("mpegts: no track to write")
	}
	m.w = &mcmpegts.Writer{W: w, Tracks: tracks}
	if err := m.w.Initialize(); err != nil {
		return nil, fmt.Errorf("mpegts: writer: %w", err)
	}
	return m, nil
}

// Tracks returns the tracks the Muxer was made for.
func (m *Muxer) Tracks() (video, audio *av.Track) { return m.vTrack, m.aTrack }

// WriteTables writes PAT and PMT (ISO 13818-1 §2.4.4), so that what
// follows decodes on its own.
func (m *Muxer) WriteTables() error {
	if _, err := m.w.WriteTables(); err != nil {
		return fmt.Errorf("mpegts: tables: %w", err)
	}
	return nil
}

// ticks converts a duration to 90 kHz ticks plus TimeOffset.
func ticks(d time.Duration) int64 {
	return int64(d/time.Second)*90000 + int64(d%time.Second)*90000/int64(time.Second) + TimeOffset
}

// WritePacket writes one packet of the Muxer's video or audio track (by
// kind; packets of a kind the Muxer has no track for are skipped).
func (m *Muxer) WritePacket(p *av.Packet) error {
	if p.Kind() == av.KindVideo {
		if m.video == nil {
			return nil
		}
		return m.writeVideo(p)
	}
	if m.audio == nil {
		return nil
	}
	pts := ticks(p.PTS)
	var err error
	switch m.aTrack.Codec {
	case av.CodecMP3:
		// The packet's frames carry their own headers: the PES payload is
		// the frames as they are. A packet that does not start with a
		// frame (the FLV demuxer passes those on once the track is known)
		// is left out: mediacommon's writer fails on one that comes first.
		if av.MP3FrameCount(p.Data) == 0 {
			return nil
		}
		err = m.w.WriteMPEG1Audio(m.audio, pts, [][]byte{p.Data})
	case av.CodecOpus:
		err = m.w.WriteOpus(m.audio, pts, [][]byte{p.Data})
	default:
		err = m.w.WriteMPEG4Audio(m.audio, pts, [][]byte{p.Data})
	}
	if err != nil {
		return fmt.Errorf("mpegts: audio: %w", err)
	}
	return nil
}

func (m *Muxer) writeVideo(p *av.Packet) error {
	nalus := m.nalus[:0]
	hasParams := false
	for b := p.Data; len(b) >= 4; {
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			break
		}
		n := b[4 : 4+l]
		b = b[4+l:]
		if len(n) == 0 {
			continue
		}
		if isParamSet(m.vTrack.Codec, n[0]) {
			hasParams = true
		}
		nalus = append(nalus, n)
	}
	m.nalus = nalus[:0]
	if len(nalus) == 0 {
		return nil
	}
	if p.Key && !hasParams {
		nalus = append(append(make([][]byte, 0, len(m.paramSets)+len(nalus)), m.paramSets...), nalus...)
	}
	dts, pts := ticks(p.DTS), ticks(p.PTS)
	var err error
	if m.vTrack.Codec == av.CodecH265 {
		err = m.w.WriteH265(m.video, pts, dts, nalus)
	} else {
		err = m.w.WriteH264(m.video, pts, dts, nalus)
	}
	if err != nil {
		return fmt.Errorf("mpegts: video: %w", err)
	}
	return nil
}

// isParamSet reports an SPS/PPS (H.264) or VPS/SPS/PPS (H.265) NAL header.
func isParamSet(c av.Codec, hdr byte) bool {
	if c == av.CodecH265 {
		t := (hdr >> 1) & 0x3f
		return t >= 32 && t <= 34
	}
	t := hdr & 0x1f
	return t == 7 || t == 8
}
