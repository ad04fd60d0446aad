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
		{"speex", []byte{0xb2, 0}, ErrUnsupportedCodec},
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

// MP3 (SoundFormat 2 and 14) is parsed, demuxed into a track made from the
// frame header and written back as legacy MP3 with flags from the frames.
func TestMP3RoundTrip(t *testing.T) {
	// MPEG-1 Layer III, 128 kb/s, 44.1 kHz, joint stereo; then 48 kHz mono.
	stereo44 := []byte{0xFF, 0xFB, 0x90, 0x64, 1, 2, 3}
	mono48 := []byte{0xFF, 0xFB, 0x94, 0xC4, 4, 5}
	a, err := ParseAudio(append([]byte{0x2F}, stereo44...))
	require.NoError(t, err)
	require.Equal(t, AudioTag{Codec: av.CodecMP3, PacketType: Coded, Data: stereo44}, a)

	var d Demuxer
	p, err := d.Audio(0, append([]byte{0x2F}, stereo44...))
	require.NoError(t, err)
	require.Equal(t, av.CodecMP3, p.Track.Codec)
	require.Equal(t, 44100, p.Track.SampleRate)
	require.Equal(t, 2, p.Track.Channels)
	require.Equal(t, "mp4a.6B", p.Track.CodecString)
	require.Equal(t, stereo44, p.Data)
	first := p.Track

	// Another frame of the same stream (other bitrate, padding): same track.
	p, err = d.Audio(26, append([]byte{0x2F}, 0xFF, 0xFB, 0xA2, 0x64, 9))
	require.NoError(t, err)
	require.Same(t, first, p.Track)
	// A frame without a header continues the track.
	p, err = d.Audio(52, []byte{0x2F, 0, 1, 2, 3})
	require.NoError(t, err)
	require.Same(t, first, p.Track)
	// New parameters: a new track.
	p, err = d.Audio(78, append([]byte{0x2E}, mono48...))
	require.NoError(t, err)
	require.NotSame(t, first, p.Track)
	require.Equal(t, 48000, p.Track.SampleRate)
	require.Equal(t, 1, p.Track.Channels)

	// Written back: SoundFormat 2, 44 kHz flag, 16-bit, stereo / mono.
	require.Equal(t, append([]byte{0x2F}, stereo44...), AppendAudio(nil, AudioTag{Codec: av.CodecMP3, PacketType: Coded, Data: stereo44}))
	require.Equal(t, append([]byte{0x2E}, mono48...), AppendAudio(nil, AudioTag{Codec: av.CodecMP3, PacketType: Coded, Data: mono48}))
	require.Empty(t, AppendSequenceHeaderBody(nil, first), "MP3 has no sequence header")
	// MPEG-2 22.05 kHz: SoundRate 2; MPEG 2.5 8 kHz: SoundFormat 14.
	require.Equal(t, byte(0x2B), AppendAudio(nil, AudioTag{Codec: av.CodecMP3, PacketType: Coded, Data: []byte{0xFF, 0xF3, 0x80, 0x04}})[0])
	require.Equal(t, byte(0xE3), AppendAudio(nil, AudioTag{Codec: av.CodecMP3, PacketType: Coded, Data: []byte{0xFF, 0xE3, 0x88, 0x04}})[0])

	// Enhanced RTMP FourCC ".mp3": coded frames only.
	a, err = ParseAudio(append([]byte{0x91, '.', 'm', 'p', '3'}, stereo44...))
	require.NoError(t, err)
	require.Equal(t, AudioTag{Codec: av.CodecMP3, PacketType: Coded, Data: stereo44}, a)
	_, err = ParseAudio([]byte{0x90, '.', 'm', 'p', '3'})
	require.ErrorIs(t, err, ErrUnsupportedPacketType)

	// Frames before any header are dropped like frames before a sequence header.
	var fresh Demuxer
	_, err = fresh.Audio(0, []byte{0x2F, 0, 1, 2, 3})
	require.ErrorIs(t, err, ErrNoSequenceHeader)
}
