package flv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

func TestHeaderAndTagRoundTrip(t *testing.T) {
	b := AppendHeader(nil, true, true)
	require.Equal(t, []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}, b)
	require.Equal(t, byte(1), AppendHeader(nil, true, false)[4])
	require.Equal(t, byte(4), AppendHeader(nil, false, true)[4])

	b = AppendTag(b, TagVideo, 0x12345678, []byte{0xaa, 0xbb})
	require.Equal(t, []byte{9, 0, 0, 2, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 13}, b[13:])
	b = AppendTag(b, TagScript, 5, nil)

	r := NewReader(bytes.NewReader(b), 0)
	hasVideo, hasAudio, err := r.ReadHeader()
	require.NoError(t, err)
	require.True(t, hasVideo)
	require.True(t, hasAudio)
	tag, err := r.ReadTag()
	require.NoError(t, err)
	require.Equal(t, Tag{Type: TagVideo, Timestamp: 0x12345678, Body: []byte{0xaa, 0xbb}}, tag)
	tag, err = r.ReadTag()
	require.NoError(t, err)
	require.Equal(t, Tag{Type: TagScript, Timestamp: 5, Body: []byte{}}, tag)
	_, err = r.ReadTag()
	require.Equal(t, io.EOF, err)
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	require.NoError(t, w.WriteHeader(false, true))
	require.NoError(t, w.WriteTag(Tag{Type: TagAudio, Timestamp: 40, Body: []byte{0xaf, 1, 2}}))
	want := AppendTag(AppendHeader(nil, false, true), TagAudio, 40, []byte{0xaf, 1, 2})
	require.Equal(t, want, buf.Bytes())
	require.ErrorIs(t, w.WriteTag(Tag{Type: TagVideo, Body: make([]byte, MaxTagBodySize+1)}), ErrTagTooLarge)
}

func TestReaderErrors(t *testing.T) {
	_, _, err := NewReader(bytes.NewReader([]byte("FLX\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00")), 0).ReadHeader()
	require.ErrorContains(t, err, "flv: header: bad signature")
	_, _, err = NewReader(bytes.NewReader([]byte("FLV\x01")), 0).ReadHeader()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, _, err = NewReader(bytes.NewReader([]byte("FLV\x01\x05\x00\x00\x00\x05\x00\x00\x00\x00")), 0).ReadHeader()
	require.ErrorContains(t, err, "DataOffset 5")

	// DataOffset larger than 9: padding is skipped.
	padded := append([]byte("FLV\x01\x01\x00\x00\x00\x0c\xee\xee\xee\x00\x00\x00\x00"), AppendTag(nil, TagVideo, 1, []byte{1})...)
	r := NewReader(bytes.NewReader(padded), 0)
	_, _, err = r.ReadHeader()
	require.NoError(t, err)
	tag, err := r.ReadTag()
	require.NoError(t, err)
	require.Equal(t, []byte{1}, tag.Body)

	// Too large for the configured maximum.
	big := AppendTag(nil, TagVideo, 0, make([]byte, 100))
	_, err = NewReader(bytes.NewReader(big), 99).ReadTag()
	require.ErrorIs(t, err, ErrTagTooLarge)
	_, err = NewReader(bytes.NewReader(big), 100).ReadTag()
	require.NoError(t, err)

	// Truncated inside a header or body: unexpected EOF, not io.EOF.
	_, err = NewReader(bytes.NewReader(big[:5]), 0).ReadTag()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = NewReader(bytes.NewReader(big[:50]), 0).ReadTag()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	// Missing final PreviousTagSize and a wrong one are tolerated.
	r = NewReader(bytes.NewReader(big[:len(big)-4]), 0)
	_, err = r.ReadTag()
	require.NoError(t, err)
	_, err = r.ReadTag()
	require.Equal(t, io.EOF, err)
	bad := bytes.Clone(big)
	bad[len(bad)-1] ^= 0xff
	_, err = NewReader(bytes.NewReader(bad), 0).ReadTag()
	require.NoError(t, err)

	// A lying 16 MiB size on a short stream fails without a 16 MiB body.
	lie := []byte{TagVideo, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}
	_, err = NewReader(bytes.NewReader(lie), 0).ReadTag()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	// Encrypted tags are refused.
	enc := AppendTag(nil, TagVideo, 0, []byte{1})
	enc[0] |= 0x20
	_, err = NewReader(bytes.NewReader(enc), 0).ReadTag()
	require.ErrorContains(t, err, "encrypted")
}

func TestTimestampMS(t *testing.T) {
	require.Equal(t, uint32(0), TimestampMS(0))
	require.Equal(t, uint32(1), TimestampMS(1999*time.Microsecond))
	require.Equal(t, uint32(1<<32-1), TimestampMS(-time.Microsecond)) // floor, then wrap
	require.Equal(t, uint32(5), TimestampMS((1<<32+5)*time.Millisecond))
}

// realFLV encodes a short H.264 + AAC FLV with ffmpeg, or skips.
func realFLV(t *testing.T) []byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	path := filepath.Join(t.TempDir(), "clip.flv")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "1", "-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "10",
		"-c:a", "aac", "-ac", "2", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestRealFLV reads an ffmpeg FLV, demuxes it and re-muxes every packet and
// sequence header: the bodies must come out byte-identical.
func TestRealFLV(t *testing.T) {
	r := NewReader(bytes.NewReader(realFLV(t)), 1<<20)
	hasVideo, hasAudio, err := r.ReadHeader()
	require.NoError(t, err)
	require.True(t, hasVideo)
	require.True(t, hasAudio)

	var d Demuxer
	var videos, audios, keys, withCTS int
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var p *av.Packet
		switch tag.Type {
		case TagVideo:
			p, err = d.Video(int64(tag.Timestamp), tag.Body)
		case TagAudio:
			p, err = d.Audio(int64(tag.Timestamp), tag.Body)
		default:
			continue
		}
		require.NoError(t, err)
		if p == nil {
			if tag.Type == TagVideo {
				v, err := ParseVideo(tag.Body)
				require.NoError(t, err)
				if v.PacketType == EndOfSequence {
					require.Equal(t, tag.Body, AppendVideo(nil, v))
					continue
				}
			}
			var track *av.Track
			if tag.Type == TagVideo {
				track = d.VideoTrack()
			} else {
				track = d.AudioTrack()
			}
			require.Equal(t, tag.Body, AppendSequenceHeaderBody(nil, track))
			continue
		}
		require.Equal(t, tag.Body, AppendPacketBody(nil, p))
		require.Equal(t, tag.Timestamp, TimestampMS(p.DTS))
		if p.Kind() == av.KindVideo {
			videos++
			if p.Key {
				keys++
				require.True(t, av.IsH264Keyframe(p.Data))
			}
			if p.CTS() != 0 {
				withCTS++
			}
		} else {
			audios++
		}
	}
	require.Equal(t, 25, videos)
	require.GreaterOrEqual(t, audios, 45)
	require.Equal(t, 3, keys)
	require.Positive(t, withCTS)

	vt, at := d.VideoTrack(), d.AudioTrack()
	require.Equal(t, "avc1.64000d", vt.CodecString)
	require.Equal(t, 320, vt.Width)
	require.Equal(t, 240, vt.Height)
	require.Equal(t, "mp4a.40.2", at.CodecString)
	require.Equal(t, 48000, at.SampleRate)
	require.Equal(t, 2, at.Channels)
}
