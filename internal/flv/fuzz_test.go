package flv

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzParseVideo(f *testing.F) {
	for _, s := range [][]byte{
		{0x17, 0, 0, 0, 0, 1, 0x64}, {0x27, 1, 0xff, 0xff, 0xd8, 0xaa}, {0x1c, 1, 0, 0, 40, 0xbb},
		{0x57, 1}, {0x90, 'h', 'v', 'c', '1', 1}, {0xa1, 'h', 'v', 'c', '1', 0, 0, 40, 0xcc},
		{0x93, 'h', 'v', 'c', '1', 0xcc}, {0x91, 'a', 'v', '0', '1', 0x12, 0}, {0xd1, 0},
		{0x97, 2, 0, 0x10, 0, 0x01, 'h', 'v', 'c', '1', 0, 0, 40, 0xcc},
		{0x96, 0x13, 'a', 'v', '0', '1', 1, 0, 0, 1, 0xaa, 0, 0, 0, 2, 0xbb, 0xbb},
		{0x96, 0x21, 'h', 'v', 'c', '1', 2, 0, 0, 4, 0, 0, 1, 0xdd},
		append([]byte{0x17, 0, 0, 0, 0}, avcConfig...),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := ParseVideo(body)
		if err != nil {
			require.Contains(t, err.Error(), "flv: ")
			return
		}
		if v.PacketType == Command {
			return
		}
		// What parses re-encodes and parses to the same tag (modulo the
		// normalizations AppendVideo makes).
		v.TrackID = 0
		again, err := ParseVideo(AppendVideo(nil, v))
		require.NoError(t, err)
		require.Equal(t, v.Codec, again.Codec)
		require.Equal(t, v.PacketType, again.PacketType)
		if v.PacketType == Coded {
			require.Equal(t, v.Data, again.Data)
			require.Equal(t, v.Key, again.Key)
		}

		var d Demuxer
		_, _ = d.Video(0, body)
		_, _ = d.Video(0, body)
	})
}

func FuzzParseAudio(f *testing.F) {
	for _, s := range [][]byte{
		{0xaf, 0, 0x11, 0x90}, {0xaf, 1, 0x21}, {0x90, 'O', 'p', 'u', 's', 'O'},
		{0x91, 'O', 'p', 'u', 's', 0xfc}, {0x91, 'm', 'p', '4', 'a', 0x21},
		{0x97, 2, 0, 0, 1, 0x01, 'O', 'p', 'u', 's', 0xfc},
		{0x95, 0x21, 'O', 'p', 'u', 's', 1, 0, 0, 1, 0xfc, 'm', 'p', '4', 'a', 0, 0, 0, 1, 0x21},
		{0x2f, 0xff, 0xfb, 0x90, 0x64, 0xaa}, {0xe2, 0xff, 0xe3, 0x88, 0x04}, {0x2f, 0, 1},
		{0x91, '.', 'm', 'p', '3', 0xff, 0xfb, 0x90, 0x64}, {0x90, '.', 'm', 'p', '3'},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseAudio(body)
		if err != nil {
			require.Contains(t, err.Error(), "flv: ")
			return
		}
		a.TrackID = 0
		again, err := ParseAudio(AppendAudio(nil, a))
		require.NoError(t, err)
		require.Equal(t, a.Codec, again.Codec)
		require.Equal(t, a.PacketType, again.PacketType)

		var d Demuxer
		_, _ = d.Audio(0, body)
		_, _ = d.Audio(0, body)
	})
}

func FuzzReader(f *testing.F) {
	stream := AppendHeader(nil, true, true)
	stream = AppendTag(stream, TagVideo, 0, append([]byte{0x17, 0, 0, 0, 0}, avcConfig...))
	stream = AppendTag(stream, TagAudio, 0, []byte{0xaf, 0, 0x11, 0x90})
	stream = AppendTag(stream, TagVideo, 40, []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65})
	f.Add(stream, uint32(0))
	f.Add(stream[:20], uint32(10))
	f.Fuzz(func(t *testing.T, b []byte, max uint32) {
		r := NewReader(bytes.NewReader(b), max)
		if _, _, err := r.ReadHeader(); err != nil {
			return
		}
		var d Demuxer
		for i := 0; ; i++ {
			tag, err := r.ReadTag()
			if err != nil {
				require.True(t, i > 0 || err != nil)
				if !errors.Is(err, io.EOF) {
					require.Contains(t, err.Error(), "flv: ")
				}
				return
			}
			require.LessOrEqual(t, len(tag.Body), len(b))
			switch tag.Type {
			case TagVideo:
				_, _ = d.Video(int64(tag.Timestamp), tag.Body)
			case TagAudio:
				_, _ = d.Audio(int64(tag.Timestamp), tag.Body)
			}
		}
	})
}
