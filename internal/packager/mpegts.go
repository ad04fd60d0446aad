package packager

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/sluicemedia/sluice/internal/av"
)

// tsOffset shifts MPEG-TS timestamps (90 kHz) so that PCR = DTS - 100 ms
// (mediacommon's choice) never goes negative at the start of a stream.
const tsOffset = 90000

// tsMuxer writes MPEG-TS segments with mediacommon's mpegts.Writer. One
// writer lives as long as the track set, so continuity counters run on
// across segments; each segment opens with PAT/PMT.
type tsMuxer struct {
	buf    bytes.Buffer
	w      *mpegts.Writer
	video  *mpegts.Track
	audio  *mpegts.Track
	vState *trackState
	aState *trackState
	// paramSets is prepended (Annex-B) to keyframes that lack them: FLV
	// and MP4 carry SPS/PPS out of band, MPEG-TS in band.
	paramSets [][]byte
	nalus     [][]byte // reused
}

// reset sets up a writer for a new track set.
func (m *tsMuxer) reset(video, audio *trackState) error {
	m.w, m.video, m.audio, m.vState, m.aState, m.paramSets = nil, nil, nil, video, audio, nil
	var tracks []*mpegts.Track
	if video != nil {
		switch video.track.Codec {
		case av.CodecH264:
			sps, pps, err := av.H264ParameterSets(video.track.Config)
			if err != nil {
				return err
			}
			m.paramSets = append(append(m.paramSets, sps...), pps...)
			m.video = &mpegts.Track{Codec: &mpegts.CodecH264{}}
		case av.CodecH265:
			vps, sps, pps, err := av.H265ParameterSets(video.track.Config)
			if err != nil {
				return err
			}
			m.paramSets = append(append(append(m.paramSets, vps...), sps...), pps...)
			m.video = &mpegts.Track{Codec: &mpegts.CodecH265{}}
		default:
			return fmt.Errorf("packager: MPEG-TS cannot carry %s video", video.track.Codec)
		}
		tracks = append(tracks, m.video)
	}
	if audio != nil {
		switch audio.track.Codec {
		case av.CodecAAC:
			var asc mpeg4audio.AudioSpecificConfig
			if err := asc.Unmarshal(audio.track.Config); err != nil {
				return fmt.Errorf("packager: aac config: %w", err)
			}
			m.audio = &mpegts.Track{Codec: &mpegts.CodecMPEG4Audio{Config: asc}}
		case av.CodecMP3:
			// Stream type 0x03, ISO 11172-3 audio (ISO 13818-1 Table 2-34).
			m.audio = &mpegts.Track{Codec: &mpegts.CodecMPEG1Audio{}}
		default:
			return fmt.Errorf("packager: MPEG-TS cannot carry %s audio", audio.track.Codec)
		}
		tracks = append(tracks, m.audio)
	}
	m.w = &mpegts.Writer{W: &m.buf, Tracks: tracks}
	if err := m.w.Initialize(); err != nil {
		return fmt.Errorf("packager: mpegts writer: %w", err)
	}
	return nil
}

// begin starts a segment: PAT and PMT first (ISO 13818-1 §2.4.4), so each
// segment decodes on its own (RFC 8216bis §3.3).
func (m *tsMuxer) begin() error {
	m.buf.Reset()
	if _, err := m.w.WriteTables(); err != nil {
		return fmt.Errorf("packager: mpegts tables: %w", err)
	}
	return nil
}

// write appends the samples of one part, interleaved by decode time.
func (m *tsMuxer) write(video, audio []sample) error {
	i, j := 0, 0
	for i < len(video) || j < len(audio) {
		if j >= len(audio) || (i < len(video) && video[i].pkt.DTS <= audio[j].pkt.DTS) {
			if err := m.writeVideo(&video[i]); err != nil {
				return err
			}
			i++
			continue
		}
		s := &audio[j]
		j++
		pts := ticks(s.pkt.PTS, 90000) + tsOffset
		var err error
		if m.aState.track.Codec == av.CodecMP3 {
			// The packet's frames carry their own headers: the PES
			// payload is the frames as they are. A packet that does not
			// start with a frame (the FLV demuxer passes those on once the
			// track is known) is left out: mediacommon's writer fails on
			// one that comes first.
			if av.MP3FrameCount(s.pkt.Data) == 0 {
				continue
			}
			err = m.w.WriteMPEG1Audio(m.audio, pts, [][]byte{s.pkt.Data})
		} else {
			err = m.w.WriteMPEG4Audio(m.audio, pts, [][]byte{s.pkt.Data})
		}
		if err != nil {
			return fmt.Errorf("packager: mpegts audio: %w", err)
		}
	}
	return nil
}

func (m *tsMuxer) writeVideo(s *sample) error {
	nalus := m.nalus[:0]
	hasParams := false
	for b := s.pkt.Data; len(b) >= 4; {
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			break
		}
		n := b[4 : 4+l]
		b = b[4+l:]
		if len(n) == 0 {
			continue
		}
		if isParamSet(m.vState.track.Codec, n[0]) {
			hasParams = true
		}
		nalus = append(nalus, n)
	}
	m.nalus = nalus[:0]
	if len(nalus) == 0 {
		return nil
	}
	if s.pkt.Key && !hasParams {
		nalus = append(append(make([][]byte, 0, len(m.paramSets)+len(nalus)), m.paramSets...), nalus...)
	}
	dts := ticks(s.pkt.DTS, 90000) + tsOffset
	pts := ticks(s.pkt.PTS, 90000) + tsOffset
	var err error
	if m.vState.track.Codec == av.CodecH265 {
		err = m.w.WriteH265(m.video, pts, dts, nalus)
	} else {
		err = m.w.WriteH264(m.video, pts, dts, nalus)
	}
	if err != nil {
		return fmt.Errorf("packager: mpegts video: %w", err)
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

// end returns the segment's bytes (a copy the window keeps).
func (m *tsMuxer) end() []byte {
	return bytes.Clone(m.buf.Bytes())
}
