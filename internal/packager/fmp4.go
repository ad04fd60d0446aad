package packager

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/sluicemedia/sluice/internal/av"
)

// fmp4Muxer serializes CMAF/fMP4 init sections and parts with mediacommon.
type fmp4Muxer struct {
	seq uint32 // mfhd sequence number, increasing over the whole session
}

// initCodec converts an av.Track into mediacommon's fMP4 codec description.
func initCodec(t *av.Track) (fmp4.Codec, error) {
	switch t.Codec {
	case av.CodecH264:
		sps, pps, err := av.H264ParameterSets(t.Config)
		if err != nil {
			return nil, err
		}
		if len(sps) == 0 || len(pps) == 0 {
			return nil, errors.New("h264 config without SPS or PPS")
		}
		return &fmp4.CodecH264{SPS: sps[0], PPS: pps[0]}, nil
	case av.CodecH265:
		vps, sps, pps, err := av.H265ParameterSets(t.Config)
		if err != nil {
			return nil, err
		}
		if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
			return nil, errors.New("h265 config without VPS, SPS or PPS")
		}
		return &fmp4.CodecH265{VPS: vps[0], SPS: sps[0], PPS: pps[0]}, nil
	case av.CodecAV1:
		sh, err := av1SequenceHeader(t.Config)
		if err != nil {
			return nil, err
		}
		return &fmp4.CodecAV1{SequenceHeader: sh}, nil
	case av.CodecAAC:
		var asc mpeg4audio.AudioSpecificConfig
		if err := asc.Unmarshal(t.Config); err != nil {
			return nil, fmt.Errorf("aac config: %w", err)
		}
		return &fmp4.CodecMPEG4Audio{Config: asc}, nil
	case av.CodecOpus:
		ch := t.Channels
		if ch == 0 {
			ch = 2
		}
		return &fmp4.CodecOpus{ChannelCount: ch}, nil
	case av.CodecMP3:
		// mp4a with an esds of object type 0x6B (ISO 14496-1 Table 5); the
		// frames, headers included, are the samples.
		if t.SampleRate == 0 || t.Channels == 0 {
			return nil, errors.New("mp3 track without a frame header")
		}
		return &fmp4.CodecMPEG1Audio{SampleRate: t.SampleRate, ChannelCount: t.Channels}, nil
	}
	return nil, fmt.Errorf("codec %s not supported in fMP4", t.Codec)
}

// av1SequenceHeader returns the sequence header OBU of an
// AV1CodecConfigurationRecord's configOBUs (AV1-ISOBMFF §2.3.3), rebuilt
// without extension and size field as mediacommon expects.
func av1SequenceHeader(rec []byte) ([]byte, error) {
	if len(rec) < 4 {
		return nil, errors.New("av1 config record too short")
	}
	obus := rec[4:]
	for len(obus) > 0 {
		hdr := obus[0]
		n := 1
		if hdr&0x04 != 0 {
			n++
		}
		if len(obus) < n {
			break
		}
		size := len(obus) - n
		if hdr&0x02 != 0 {
			v, m := uvarintLEB128(obus[n:])
			if m == 0 || v > uint64(len(obus)-n-m) {
				return nil, errors.New("av1 config: bad OBU size")
			}
			n += m
			size = int(v)
		}
		payload := obus[n : n+size]
		obus = obus[n+size:]
		if (hdr>>3)&0x0f == 1 { // OBU_SEQUENCE_HEADER
			out := make([]byte, 1+len(payload))
			out[0] = hdr &^ 0x06
			copy(out[1:], payload)
			return out, nil
		}
	}
	return nil, errors.New("av1 config without sequence header OBU")
}

// uvarintLEB128 decodes an AV1 leb128 (AV1 spec §4.10.5); m is 0 on error.
func uvarintLEB128(b []byte) (v uint64, m int) {
	for i := 0; i < 8 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// makeInit serializes the init section for the given tracks (nil ones are
// absent), and one per track (DASH: one media component per
// Representation), indexed by track ID.
func (m *fmp4Muxer) makeInit(tracks []*trackState) ([]byte, [3][]byte, error) {
	var init fmp4.Init
	var one [3][]byte
	for _, ts := range tracks {
		c, err := initCodec(ts.track)
		if err != nil {
			return nil, one, fmt.Errorf("packager: init %s track: %w", ts.track.Codec, err)
		}
		it := &fmp4.InitTrack{ID: ts.id, TimeScale: ts.timescale, Codec: c}
		init.Tracks = append(init.Tracks, it)
		if one[ts.id], err = marshalInit(fmp4.Init{Tracks: []*fmp4.InitTrack{it}}, trackBrands); err != nil {
			return nil, one, err
		}
	}
	muxed, err := marshalInit(init, muxedBrands)
	return muxed, one, err
}

func marshalInit(init fmp4.Init, brands []string) ([]byte, error) {
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("packager: marshal init: %w", err)
	}
	return withBrands(buf.Bytes(), brands)
}

// makePart serializes one part holding the given samples of each track
// (tracks with no samples are left out): the muxed moof+mdat and, sharing
// its sample bytes, each track's own fragment (see fragment).
func (m *fmp4Muxer) makePart(groups []sampleGroup) ([]byte, [3]trackFragment, error) {
	m.seq++
	nonEmpty := make([]*sampleGroup, 0, len(groups))
	for i := range groups {
		if len(groups[i].samples) > 0 {
			nonEmpty = append(nonEmpty, &groups[i])
		}
	}
	return fragment(m.seq, nonEmpty)
}
