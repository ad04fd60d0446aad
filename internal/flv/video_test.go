package flv

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

func TestParseVideoVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want VideoTag
	}{
		{"legacy avc seq header", []byte{0x17, 0, 0, 0, 0, 1, 0x64},
			VideoTag{Codec: av.CodecH264, Key: true, PacketType: SequenceHeader, Data: []byte{1, 0x64}}},
		{"legacy avc key frame, cts 80", []byte{0x17, 1, 0, 0, 80, 0, 0, 0, 1, 0x65},
			VideoTag{Codec: av.CodecH264, Key: true, PacketType: Coded, CTS: 80, Data: []byte{0, 0, 0, 1, 0x65}}},
		{"legacy avc inter frame, negative cts", []byte{0x27, 1, 0xff, 0xff, 0xd8, 0xaa},
			VideoTag{Codec: av.CodecH264, PacketType: Coded, CTS: -40, Data: []byte{0xaa}}},
		{"legacy avc disposable inter", []byte{0x37, 1, 0, 0, 0, 0xaa},
			VideoTag{Codec: av.CodecH264, PacketType: Coded, Data: []byte{0xaa}}},
		{"legacy avc eos", []byte{0x17, 2, 0, 0, 0},
			VideoTag{Codec: av.CodecH264, Key: true, PacketType: EndOfSequence, Data: []byte{}}},
		{"legacy hevc (codec id 12)", []byte{0x1c, 1, 0, 0, 40, 0xbb},
			VideoTag{Codec: av.CodecH265, Key: true, PacketType: Coded, CTS: 40, Data: []byte{0xbb}}},
		{"legacy command frame", []byte{0x57, 1},
			VideoTag{Codec: av.CodecH264, PacketType: Command, Data: []byte{1}}},
		{"enhanced hvc1 seq start", []byte{0x90, 'h', 'v', 'c', '1', 1, 2},
			VideoTag{Codec: av.CodecH265, Key: true, PacketType: SequenceHeader, Data: []byte{1, 2}}},
		{"enhanced hvc1 coded frames", []byte{0xa1, 'h', 'v', 'c', '1', 0, 0, 40, 0xcc},
			VideoTag{Codec: av.CodecH265, PacketType: Coded, CTS: 40, Data: []byte{0xcc}}},
		{"enhanced hvc1 coded frames X", []byte{0x93, 'h', 'v', 'c', '1', 0xcc},
			VideoTag{Codec: av.CodecH265, Key: true, PacketType: Coded, Data: []byte{0xcc}}},
		{"enhanced avc1 coded frames", []byte{0x91, 'a', 'v', 'c', '1', 0xff, 0xff, 0xff, 0xcc},
			VideoTag{Codec: av.CodecH264, Key: true, PacketType: Coded, CTS: -1, Data: []byte{0xcc}}},
		{"enhanced av01 coded frames (no cts)", []byte{0x91, 'a', 'v', '0', '1', 0x12, 0},
			VideoTag{Codec: av.CodecAV1, Key: true, PacketType: Coded, Data: []byte{0x12, 0}}},
		{"enhanced av01 seq end", []byte{0x92, 'a', 'v', '0', '1'},
			VideoTag{Codec: av.CodecAV1, Key: true, PacketType: EndOfSequence, Data: []byte{}}},
		{"enhanced metadata", []byte{0x94, 'h', 'v', 'c', '1', 2, 0, 9},
			VideoTag{Codec: av.CodecH265, Key: true, PacketType: Metadata, Data: []byte{2, 0, 9}}},
		{"enhanced command", []byte{0xd1, 0},
			VideoTag{PacketType: Command, Data: []byte{0}}},
		{"enhanced generated key frame", []byte{0xc3, 'a', 'v', '0', '1', 7},
			VideoTag{Codec: av.CodecAV1, Key: true, PacketType: Coded, Data: []byte{7}}},
		// ModEx TimestampOffsetNano (3 data bytes), then CodedFrames.
		{"enhanced modex", []byte{0x97, 2, 0, 0x10, 0, 0x01, 'h', 'v', 'c', '1', 0, 0, 40, 0xcc},
			VideoTag{Codec: av.CodecH265, Key: true, PacketType: Coded, CTS: 40, Data: []byte{0xcc}}},
		// Two chained ModEx, the second with a UI16 size (0xff -> UI16+1 = 257).
		{"enhanced modex chain", append(append([]byte{0x97, 0, 0, 0x07, 0xff, 0x01, 0x00}, make([]byte, 257)...), 0x03, 'a', 'v', '0', '1', 9),
			VideoTag{Codec: av.CodecAV1, Key: true, PacketType: Coded, Data: []byte{9}}},
		// Multitrack OneTrack, track 0, CodedFrames.
		{"multitrack one track", []byte{0x96, 0x01, 'h', 'v', 'c', '1', 0, 0, 0, 40, 0xcc},
			VideoTag{Codec: av.CodecH265, Key: true, PacketType: Coded, CTS: 40, Data: []byte{0xcc}}},
		// ManyTracks: track 1 then track 0; track 0 wins.
		{"multitrack many tracks", []byte{0x96, 0x13, 'a', 'v', '0', '1', 1, 0, 0, 1, 0xaa, 0, 0, 0, 2, 0xbb, 0xbb},
			VideoTag{Codec: av.CodecAV1, Key: true, PacketType: Coded, Data: []byte{0xbb, 0xbb}}},
		// ManyTracksManyCodecs: only track 2 (hvc1) present.
		{"multitrack many codecs", []byte{0x96, 0x21, 'h', 'v', 'c', '1', 2, 0, 0, 4, 0, 0, 1, 0xdd},
			VideoTag{Codec: av.CodecH265, Key: true, PacketType: Coded, CTS: 1, Data: []byte{0xdd}, TrackID: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVideo(tc.body)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseVideoErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		is   error
	}{
		{"empty", nil, ErrTruncated},
		{"legacy short", []byte{0x17, 1, 0}, ErrTruncated},
		{"legacy vp6", []byte{0x14, 0, 0}, ErrUnsupportedCodec},
		{"legacy bad avc packet type", []byte{0x17, 3, 0, 0, 0}, ErrUnsupportedPacketType},
		{"enhanced vp09", []byte{0x91, 'v', 'p', '0', '9', 0}, ErrUnsupportedCodec},
		{"enhanced audio fourcc", []byte{0x91, 'O', 'p', 'u', 's', 0}, ErrUnsupportedCodec},
		{"enhanced short fourcc", []byte{0x91, 'h', 'v'}, ErrTruncated},
		{"enhanced short cts", []byte{0x91, 'h', 'v', 'c', '1', 0}, ErrTruncated},
		{"enhanced mpeg2ts seq start", []byte{0x95, 'a', 'v', '0', '1', 0}, ErrUnsupportedPacketType},
		{"enhanced reserved packet type", []byte{0x98, 'a', 'v', '0', '1'}, ErrUnsupportedPacketType},
		{"modex truncated", []byte{0x97, 5, 0}, ErrTruncated},
		{"modex ui16 truncated", []byte{0x97, 0xff, 0}, ErrTruncated},
		{"command truncated", []byte{0xd1}, ErrTruncated},
		{"multitrack truncated", []byte{0x96}, ErrTruncated},
		{"multitrack bad type", []byte{0x96, 0x31, 'a', 'v', '0', '1'}, ErrUnsupportedPacketType},
		{"multitrack track overflows", []byte{0x96, 0x11, 'a', 'v', '0', '1', 0, 0, 0, 9, 1}, ErrTruncated},
		{"multitrack no tracks", []byte{0x96, 0x11, 'a', 'v', '0', '1'}, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseVideo(tc.body)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, "flv: ")
		})
	}
}

func TestAppendVideoLayouts(t *testing.T) {
	data := []byte{0, 0, 0, 1, 0x65}
	require.Equal(t, append([]byte{0x17, 1, 0, 0, 40}, data...),
		AppendVideo(nil, VideoTag{Codec: av.CodecH264, Key: true, PacketType: Coded, CTS: 40, Data: data}))
	require.Equal(t, []byte{0x17, 0, 0, 0, 0, 1},
		AppendVideo(nil, VideoTag{Codec: av.CodecH264, PacketType: SequenceHeader, CTS: 5, Data: []byte{1}}))
	require.Equal(t, []byte{0x17, 2, 0, 0, 0},
		AppendVideo(nil, VideoTag{Codec: av.CodecH264, PacketType: EndOfSequence}))
	require.Equal(t, []byte{0x57, 1},
		AppendVideo(nil, VideoTag{Codec: av.CodecH264, PacketType: Command, Data: []byte{1}}))
	require.Equal(t, []byte{0xa1, 'h', 'v', 'c', '1', 0xff, 0xff, 0xd8, 9},
		AppendVideo(nil, VideoTag{Codec: av.CodecH265, PacketType: Coded, CTS: -40, Data: []byte{9}}))
	require.Equal(t, []byte{0x93, 'h', 'v', 'c', '1', 9},
		AppendVideo(nil, VideoTag{Codec: av.CodecH265, Key: true, PacketType: Coded, Data: []byte{9}}))
	require.Equal(t, []byte{0x91, 'a', 'v', '0', '1', 9},
		AppendVideo(nil, VideoTag{Codec: av.CodecAV1, Key: true, PacketType: Coded, CTS: 40, Data: []byte{9}}))
	require.Equal(t, []byte{0x90, 'a', 'v', '0', '1', 0x81},
		AppendVideo(nil, VideoTag{Codec: av.CodecAV1, PacketType: SequenceHeader, Data: []byte{0x81}}))
	require.Equal(t, []byte{0x92, 'h', 'v', 'c', '1'},
		AppendVideo(nil, VideoTag{Codec: av.CodecH265, PacketType: EndOfSequence}))
	require.Equal(t, []byte{0x94, 'a', 'v', 'c', '1', 2},
		AppendVideo(nil, VideoTag{Codec: av.CodecH264, PacketType: Metadata, Data: []byte{2}}))
	require.Equal(t, []byte("x"), AppendVideo([]byte("x"), VideoTag{Codec: av.CodecAAC, PacketType: Coded}))
}

func TestVideoRoundTrip(t *testing.T) {
	for _, codec := range []av.Codec{av.CodecH264, av.CodecH265, av.CodecAV1} {
		for _, pt := range []PacketType{SequenceHeader, Coded, EndOfSequence, Metadata, Command} {
			for _, key := range []bool{false, true} {
				for _, cts := range []int32{0, 40, -33, 1<<23 - 1} {
					in := VideoTag{Codec: codec, Key: key, PacketType: pt, CTS: cts, Data: []byte{1, 2, 3}}
					want := in
					switch pt {
					case SequenceHeader, EndOfSequence, Metadata:
						want.Key, want.CTS = true, 0
					case Command:
						want = VideoTag{Codec: codec, PacketType: Command, Data: []byte{1}}
						if codec != av.CodecH264 {
							want.Codec = av.CodecUnknown
						}
					}
					if pt == EndOfSequence {
						want.Data = []byte{}
						in.Data = nil
					}
					if codec == av.CodecAV1 {
						want.CTS = 0
					}
					got, err := ParseVideo(AppendVideo(nil, in))
					require.NoError(t, err, "%s %s", codec, pt)
					require.Equal(t, want, got, "%s %s key=%v cts=%d", codec, pt, key, cts)
				}
			}
		}
	}
}
