package flv

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// avcConfig is x264's AVCDecoderConfigurationRecord for 320x240 High@1.3.
var avcConfig = func() []byte {
	sps := []byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfa, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60}
	pps := []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	b := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}()

func avcSeqHeader(cfg []byte) []byte {
	return AppendVideo(nil, VideoTag{Codec: av.CodecH264, PacketType: SequenceHeader, Data: cfg})
}

func TestDemuxerVideo(t *testing.T) {
	var d Demuxer
	frame := []byte{0, 0, 0, 2, 0x65, 0x88}
	body := AppendVideo(nil, VideoTag{Codec: av.CodecH264, Key: true, PacketType: Coded, CTS: 80, Data: frame})

	_, err := d.Video(0, body)
	require.ErrorIs(t, err, ErrNoSequenceHeader)

	p, err := d.Video(0, avcSeqHeader(avcConfig))
	require.NoError(t, err)
	require.Nil(t, p)
	track := d.VideoTrack()
	require.Equal(t, "avc1.64000d", track.CodecString)

	// Same config again: same track.
	_, err = d.Video(0, avcSeqHeader(avcConfig))
	require.NoError(t, err)
	require.Same(t, track, d.VideoTrack())

	p, err = d.Video(1000, body)
	require.NoError(t, err)
	require.Same(t, track, p.Track)
	require.Equal(t, time.Second, p.DTS)
	require.Equal(t, 1080*time.Millisecond, p.PTS)
	require.True(t, p.Key)
	require.Equal(t, frame, p.Data)
	body[len(body)-1] = 0 // caller reuses its buffer
	require.Equal(t, byte(0x88), p.Data[len(p.Data)-1])

	// Metadata, EOS and commands are dropped silently.
	for _, b := range [][]byte{{0x17, 2, 0, 0, 0}, {0x57, 0}, {0x94, 'a', 'v', 'c', '1', 2}} {
		p, err = d.Video(0, b)
		require.NoError(t, err)
		require.Nil(t, p)
	}

	// A malformed new config keeps the old track.
	_, err = d.Video(0, avcSeqHeader([]byte{1, 2}))
	require.Error(t, err)
	require.Same(t, track, d.VideoTrack())

	// A codec switch without a sequence header is an error.
	_, err = d.Video(0, AppendVideo(nil, VideoTag{Codec: av.CodecAV1, PacketType: Coded, Data: []byte{0x12, 0}}))
	require.ErrorIs(t, err, ErrNoSequenceHeader)

	// Non-default multitrack tracks are ignored.
	p, err = d.Video(0, []byte{0x96, 0x01, 'a', 'v', 'c', '1', 3, 0, 0, 0, 0, 0, 0, 1, 0x65})
	require.NoError(t, err)
	require.Nil(t, p)
}

func TestDemuxerNALULengthWidening(t *testing.T) {
	cfg := append([]byte{}, avcConfig...)
	cfg[4] = 0xfd // lengthSizeMinusOne = 1: 2-byte lengths
	var d Demuxer
	_, err := d.Video(0, avcSeqHeader(cfg))
	require.NoError(t, err)
	require.Equal(t, avcConfig, d.VideoTrack().Config, "record rewritten to 4-byte lengths")

	body := AppendVideo(nil, VideoTag{Codec: av.CodecH264, Key: true, PacketType: Coded,
		Data: []byte{0, 2, 0x65, 0x88, 0, 1, 0x06}})
	p, err := d.Video(0, body)
	require.NoError(t, err)
	require.Equal(t, []byte{0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06}, p.Data)

	_, err = d.Video(0, AppendVideo(nil, VideoTag{Codec: av.CodecH264, PacketType: Coded, Data: []byte{0, 9, 1}}))
	require.ErrorIs(t, err, ErrTruncated)
}

func TestDemuxerAudio(t *testing.T) {
	var d Demuxer
	raw := AppendAudio(nil, AudioTag{Codec: av.CodecAAC, PacketType: Coded, Data: []byte{0x21, 0x10}})
	_, err := d.Audio(0, raw)
	require.ErrorIs(t, err, ErrNoSequenceHeader)

	p, err := d.Audio(0, AppendAudio(nil, AudioTag{Codec: av.CodecAAC, PacketType: SequenceHeader, Data: []byte{0x11, 0x90}}))
	require.NoError(t, err)
	require.Nil(t, p)
	require.Equal(t, 48000, d.AudioTrack().SampleRate)

	p, err = d.Audio(21, raw)
	require.NoError(t, err)
	require.Equal(t, 21*time.Millisecond, p.DTS)
	require.Equal(t, p.DTS, p.PTS)
	require.True(t, p.Key)
	require.Equal(t, []byte{0x21, 0x10}, p.Data)
	require.Equal(t, av.CodecAAC, p.Track.Codec)

	// Opus without a sequence header: default stereo track.
	var o Demuxer
	p, err = o.Audio(0, AppendAudio(nil, AudioTag{Codec: av.CodecOpus, PacketType: Coded, Data: []byte{0xfc}}))
	require.NoError(t, err)
	require.Equal(t, av.CodecOpus, p.Track.Codec)
	require.Equal(t, 2, p.Track.Channels)
	require.Equal(t, 48000, p.Track.SampleRate)

	// Opus header for mono replaces it.
	_, err = o.Audio(0, AppendAudio(nil, AudioTag{Codec: av.CodecOpus, PacketType: SequenceHeader, Data: av.OpusHead(1)}))
	require.NoError(t, err)
	require.Equal(t, 1, o.AudioTrack().Channels)
}

func TestMuxHelpers(t *testing.T) {
	vt, err := av.NewTrack(av.CodecH265, nil)
	require.Error(t, err)
	require.Nil(t, vt)

	at, err := av.NewTrack(av.CodecOpus, nil)
	require.NoError(t, err)
	hdr := AppendSequenceHeaderBody(nil, at)
	a, err := ParseAudio(hdr)
	require.NoError(t, err)
	require.Equal(t, SequenceHeader, a.PacketType)
	require.Equal(t, av.OpusHead(2), a.Data)

	p := &av.Packet{Track: at, DTS: 20 * time.Millisecond, PTS: 20 * time.Millisecond, Data: []byte{0xfc}, Key: true}
	require.Equal(t, []byte{0x91, 'O', 'p', 'u', 's', 0xfc}, AppendPacketBody(nil, p))

	// Sub-millisecond timestamps: CTS is the difference of the rounded ms.
	h264, err := av.NewTrack(av.CodecH264, avcConfig)
	require.NoError(t, err)
	p = &av.Packet{Track: h264, DTS: 10*time.Millisecond + 900*time.Microsecond, PTS: 50*time.Millisecond + 100*time.Microsecond, Data: []byte{1}}
	v, err := ParseVideo(AppendPacketBody(nil, p))
	require.NoError(t, err)
	require.Equal(t, int32(40), v.CTS)
	require.Equal(t, TimestampMS(p.PTS), TimestampMS(p.DTS)+uint32(v.CTS))

	require.Nil(t, AppendPacketBody(nil, nil))
	require.Nil(t, AppendSequenceHeaderBody(nil, nil))
}

// A packet just past 2^32 ms, its PTS past the wrap and its DTS before it:
// the tag carries the DTS modulo 2^32 (upper byte in TimestampExtended) and
// a CTS that is the true 40 ms, so a player adding them gets the PTS
// modulo 2^32 — the wrap is continuous, never a jump.
func TestSharedTagAcrossTheWrap(t *testing.T) {
	h264, err := av.NewTrack(av.CodecH264, avcConfig)
	require.NoError(t, err)
	const wrap = (1 << 32) * time.Millisecond
	p := &av.Packet{Track: h264, DTS: wrap - 20*time.Millisecond, PTS: wrap + 20*time.Millisecond, Data: []byte{1}}
	tag := SharedTag(p)
	require.Equal(t, []byte{0xFF, 0xFF, 0xEC, 0xFF}, tag[4:8], "timestamp bytes (24 bits, then TimestampExtended)")
	v, err := ParseVideo(TagBody(tag))
	require.NoError(t, err)
	require.Equal(t, int32(40), v.CTS)

	p = &av.Packet{Track: h264, DTS: 2*wrap + 1000*time.Millisecond, PTS: 2*wrap + 1000*time.Millisecond, Data: []byte{1}}
	require.Equal(t, []byte{0x00, 0x03, 0xE8, 0x00}, SharedTag(p)[4:8], "second wrap")
}
