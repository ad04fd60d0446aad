package rtsp

import (
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/pion/rtp"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/relay/ingest"
)

// trackSetup is one RTSP format Sluice carries: its media, and what turns
// its RTP packets (with the PTS gortsplib decoded from RTP time, in the
// format's clock rate) into hub packets. handle is called from the
// client's reader goroutine of that media only.
type trackSetup struct {
	medi   *description.Media
	forma  format.Format
	handle func(pkt *rtp.Packet, pts int64)
}

// newVideo returns the setup of an H.264 or H.265 format, nil for another
// codec.
func newVideo(m *description.Media, f format.Format, w *ingest.Writer) (*trackSetup, error) {
	v, err := newVideoTrack(f, w)
	if v == nil || err != nil {
		return nil, err
	}
	return &trackSetup{medi: m, forma: f, handle: v.handle}, nil
}

// newVideoTrack returns the packet handler of an H.264 or H.265 format
// (its SDP parameter sets, if any, known in advance), nil for another
// codec.
func newVideoTrack(f format.Format, w *ingest.Writer) (*videoTrack, error) {
	switch f := f.(type) {
	case *format.H264:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		v := &videoTrack{w: w, ing: &av.NALUIngest{Codec: av.CodecH264}, decode: dec.Decode,
			needMore: func(err error) bool {
				return errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious)
			}}
		v.ing.SetParams(nil, f.SPS, f.PPS)
		return v, nil
	case *format.H265:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		v := &videoTrack{w: w, ing: &av.NALUIngest{Codec: av.CodecH265}, decode: dec.Decode,
			needMore: func(err error) bool {
				return errors.Is(err, rtph265.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious)
			}}
		v.ing.SetParams(f.VPS, f.SPS, f.PPS)
		return v, nil
	}
	return nil, nil
}

// newAudio returns the setup of an AAC (mpeg4-generic) or Opus format,
// nil for another codec.
func newAudio(m *description.Media, f format.Format, w *ingest.Writer) (*trackSetup, error) {
	switch f := f.(type) {
	case *format.MPEG4Audio:
		if f.Config == nil {
			return nil, errors.New("AAC without config")
		}
		asc, err := f.Config.Marshal()
		if err != nil {
			return nil, fmt.Errorf("AAC config: %w", err)
		}
		track, err := av.NewTrack(av.CodecAAC, asc)
		if err != nil {
			return nil, err
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		samples := 1024
		if f.Config.FrameLengthFlag {
			samples = 960
		}
		rate := f.ClockRate()
		return &trackSetup{medi: m, forma: f, handle: func(pkt *rtp.Packet, pts int64) {
			aus, err := dec.Decode(pkt)
			if err != nil {
				if !errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
					w.Bad(fmt.Errorf("AAC RTP: %w", err))
				}
				return
			}
			w.AAC(track, samples, aus, ingest.Duration(pts, rate))
		}}, nil
	case *format.Opus:
		track, err := av.NewTrack(av.CodecOpus, av.OpusHead(max(f.ChannelCount, 1)))
		if err != nil {
			return nil, err
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		rate := f.ClockRate()
		return &trackSetup{medi: m, forma: f, handle: func(pkt *rtp.Packet, pts int64) {
			frame, err := dec.Decode(pkt)
			if err != nil {
				w.Bad(fmt.Errorf("opus RTP: %w", err))
				return
			}
			w.Opus(track, [][]byte{frame}, ingest.Duration(pts, rate), opus.PacketDuration2)
		}}, nil
	}
	return nil, nil
}
