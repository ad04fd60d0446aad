package flv

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

func TestParseAudioVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want AudioTag
	}{
		{"legacy aac config", []byte{0xaf, 0, 0x11, 0x90},
			AudioTag{Codec: av.CodecAAC, PacketType: SequenceHeader, Data: []byte{0x11, 0x90}}},
		{"legacy aac raw, mono flags", []byte{0xae, 1, 0x21},
			AudioTag{Codec: av.CodecAAC, PacketType: Coded, Data: []byte{0x21}}},
		{"enhanced opus seq start", []byte{0x90, 'O', 'p', 'u', 's', 'O'},
			AudioTag{Codec: av.CodecOpus, PacketType: SequenceHeader, Data: []byte{'O'}}},
		{"enhanced opus coded", []byte{0x91, 'O', 'p', 'u', 's', 0xfc, 0xff},
			AudioTag{Codec: av.CodecOpus, PacketType: Coded, Data: []byte{0xfc, 0xff}}},
		{"enhanced mp4a coded", []byte{0x91, 'm', 'p', '4', 'a', 0x21},
			AudioTag{Codec: av.CodecAAC, PacketType: Coded, Data: []byte{0x21}}},
		{"enhanced opus seq end", []byte{0x92, 'O', 'p', 'u', 's'},
			AudioTag{Codec: av.CodecOpus, PacketType: EndOfSequence, Data: []byte{}}},
		{"enhanced multichannel config", []byte{0x94, 'O', 'p', 'u', 's', 1, 2},
			AudioTag{Codec: av.CodecOpus, PacketType: Metadata, Data: []byte{1, 2}}},
		{"enhanced modex", []byte{0x97, 2, 0, 0, 1, 0x01, 'O', 'p', 'u', 's', 0xfc},
			AudioTag{Codec: av.CodecOpus, PacketType: Coded, Data: []byte{0xfc}}},
		{"multitrack one track", []byte{0x95, 0x01, 'O', 'p', 'u', 's', 0, 0xfc},
			AudioTag{Codec: av.CodecOpus, PacketType: Coded, Data: []byte{0xfc}}},
		{"multitrack many codecs", []byte{0x95, 0x21, 'O', 'p', 'u', 's', 1, 0, 0, 1, 0xfc, 'm', 'p', '4', 'a', 0, 0, 0, 1, 0x21},
			AudioTag{Codec: av.CodecAAC, PacketType: Coded, Data: []byte{0x21}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAudio(tc.body)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseAudioErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		is   error
	}{
		{"empty", nil, ErrTruncated},
		{"aac no packet type", []byte{0xaf}, ErrTruncated},
		{"aac bad packet type", []byte{0xaf, 2}, ErrUnsupportedPacketType},
		{"mp3", []byte{0x2f, 0}, ErrUnsupportedCodec},
		{"enhanced flac", []byte{0x91, 'f', 'L', 'a', 'C'}, ErrUnsupportedCodec},
		{"enhanced video fourcc", []byte{0x91, 'a', 'v', '0', '1'}, ErrUnsupportedCodec},
		{"enhanced reserved packet type", []byte{0x93, 'O', 'p', 'u', 's'}, ErrUnsupportedPacketType},
		{"enhanced short", []byte{0x91, 'O'}, ErrTruncated},
		{"modex truncated", []byte{0x97, 9}, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAudio(tc.body)
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, "flv: ")
		})
	}
}

func TestAppendAudioLayouts(t *testing.T) {
	require.Equal(t, []byte{0xaf, 0, 0x11, 0x90},
		AppendAudio(nil, AudioTag{Codec: av.CodecAAC, PacketType: SequenceHeader, Data: []byte{0x11, 0x90}}))
	require.Equal(t, []byte{0xaf, 1, 0x21},
		AppendAudio(nil, AudioTag{Codec: av.CodecAAC, PacketType: Coded, Data: []byte{0x21}}))
	require.Equal(t, []byte{0x92, 'm', 'p', '4', 'a'},
		AppendAudio(nil, AudioTag{Codec: av.CodecAAC, PacketType: EndOfSequence}))
	require.Equal(t, []byte{0x91, 'O', 'p', 'u', 's', 0xfc},
		AppendAudio(nil, AudioTag{Codec: av.CodecOpus, PacketType: Coded, Data: []byte{0xfc}}))
	require.Equal(t, []byte("x"), AppendAudio([]byte("x"), AudioTag{Codec: av.CodecH264, PacketType: Coded}))
	require.Equal(t, []byte("x"), AppendAudio([]byte("x"), AudioTag{Codec: av.CodecOpus, PacketType: Command}))
}

func TestAudioRoundTrip(t *testing.T) {
	for _, codec := range []av.Codec{av.CodecAAC, av.CodecOpus} {
		for _, pt := range []PacketType{SequenceHeader, Coded, EndOfSequence, Metadata} {
			in := AudioTag{Codec: codec, PacketType: pt, Data: []byte{1, 2, 3}}
			want := in
			if pt == EndOfSequence {
				want.Data = []byte{}
			}
			got, err := ParseAudio(AppendAudio(nil, in))
			require.NoError(t, err, "%s %s", codec, pt)
			require.Equal(t, want, got)
		}
	}
}
