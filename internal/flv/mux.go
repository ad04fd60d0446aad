package flv

import (
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// TimestampMS converts a timeline position to FLV/RTMP milliseconds, rounding
// down and wrapping modulo 2^32 as the 32-bit FLV timestamp does.
func TimestampMS(d time.Duration) uint32 {
	ms := d / time.Millisecond
	if d%time.Millisecond < 0 {
		ms--
	}
	return uint32(int64(ms))
}

// AppendPacketBody appends the FLV tag body for the coded frame p — the same
// bytes as the RTMP audio/video message payload. The composition time is
// TimestampMS(p.PTS)-TimestampMS(p.DTS), so a player that adds it to the tag
// timestamp TimestampMS(p.DTS) gets exactly TimestampMS(p.PTS). A packet
// without a track, or of an unsupported codec, appends nothing.
func AppendPacketBody(dst []byte, p *av.Packet) []byte {
	if p == nil || p.Track == nil {
		return dst
	}
	if p.Track.Kind() == av.KindAudio {
		return AppendAudio(dst, AudioTag{Codec: p.Track.Codec, PacketType: Coded, Data: p.Data})
	}
	return AppendVideo(dst, VideoTag{
		Codec:      p.Track.Codec,
		Key:        p.Key,
		PacketType: Coded,
		CTS:        int32(TimestampMS(p.PTS) - TimestampMS(p.DTS)),
		Data:       p.Data,
	})
}

// AppendSequenceHeaderBody appends the sequence header tag body for t (its
// Config as AVC/HEVC/AV1 configuration record, AudioSpecificConfig or
// OpusHead). An Opus track without Config gets a default OpusHead for its
// channel count. A nil track, and an MP3 track (MP3 has no sequence
// header), append nothing.
func AppendSequenceHeaderBody(dst []byte, t *av.Track) []byte {
	if t == nil {
		return dst
	}
	if t.Kind() == av.KindAudio {
		cfg := t.Config
		if t.Codec == av.CodecOpus && len(cfg) == 0 {
			cfg = av.OpusHead(t.Channels)
		}
		return AppendAudio(dst, AudioTag{Codec: t.Codec, PacketType: SequenceHeader, Data: cfg})
	}
	return AppendVideo(dst, VideoTag{Codec: t.Codec, Key: true, PacketType: SequenceHeader, Data: t.Config})
}

// HasSequenceHeader reports whether t is sent with a sequence header before
// its frames: every codec but MP3, whose frames carry their parameters.
func HasSequenceHeader(t *av.Track) bool { return t != nil && t.Codec != av.CodecMP3 }
