package packager

import (
	"bytes"
	"fmt"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/mpegts"
)

// tsMuxer writes MPEG-TS segments with internal/mpegts's Muxer (shared
// with the SRT egress). One Muxer lives as long as the track set, so
// continuity counters run on across segments; each segment opens with
// PAT/PMT.
type tsMuxer struct {
	buf    bytes.Buffer
	mux    *mpegts.Muxer
	aState *trackState
}

// reset sets up a writer for a new track set.
func (m *tsMuxer) reset(video, audio *trackState) error {
	m.mux, m.aState = nil, audio
	var vt, at *av.Track
	if video != nil {
		vt = video.track
	}
	if audio != nil {
		at = audio.track
		// HLS MPEG-TS carries AAC and MP3 (RFC 8216bis §3.2); Opus is
		// the muxer's for SRT only.
		if at.Codec != av.CodecAAC && at.Codec != av.CodecMP3 {
			return fmt.Errorf("packager: MPEG-TS cannot carry %s audio", at.Codec)
		}
	}
	mux, err := mpegts.NewMuxer(&m.buf, vt, at)
	if err != nil {
		return fmt.Errorf("packager: %w", err)
	}
	m.mux = mux
	return nil
}

// begin starts a segment: PAT and PMT first (ISO 13818-1 §2.4.4), so each
// segment decodes on its own (RFC 8216bis §3.3).
func (m *tsMuxer) begin() error {
	m.buf.Reset()
	if err := m.mux.WriteTables(); err != nil {
		return fmt.Errorf("packager: %w", err)
	}
	return nil
}

// write appends the samples of one part, interleaved by decode time.
func (m *tsMuxer) write(video, audio []sample) error {
	i, j := 0, 0
	for i < len(video) || j < len(audio) {
		var s *sample
		if j >= len(audio) || (i < len(video) && video[i].pkt.DTS <= audio[j].pkt.DTS) {
			s = &video[i]
			i++
		} else {
			s = &audio[j]
			j++
		}
		if err := m.mux.WritePacket(s.pkt); err != nil {
			return fmt.Errorf("packager: %w", err)
		}
	}
	return nil
}

// end returns the segment's bytes (a copy the window keeps).
func (m *tsMuxer) end() []byte {
	return bytes.Clone(m.buf.Bytes())
}
