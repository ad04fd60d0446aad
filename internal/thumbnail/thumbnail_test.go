package thumbnail

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// source is a Source with a func field.
type source struct {
	latest func(path string) (*av.Packet, bool)
}

func (s source) LatestKeyframe(path string) (*av.Packet, bool) { return s.latest(path) }

// fixed serves key for "live/cam1" and nothing else.
func fixed(key *av.Packet) source {
	return source{latest: func(path string) (*av.Packet, bool) {
		if path != "live/cam1" {
			return nil, false
		}
		return key, true
	}}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// h264Keyframe is the first keyframe of an ffmpeg-encoded FLV clip of size.
func h264Keyframe(t *testing.T, size string) *av.Packet {
	t.Helper()
	clip := testutil.MakeClip(t, testutil.ClipOptions{Size: size, Duration: time.Second})
	f, err := os.Open(clip)
	require.NoError(t, err)
	defer f.Close()
	r := flv.NewReader(f, 0)
	_, _, err = r.ReadHeader()
	require.NoError(t, err)
	var d flv.Demuxer
	for {
		tag, err := r.ReadTag()
		require.NoError(t, err, "clip ended before a video keyframe")
		if tag.Type != flv.TagVideo {
			continue
		}
		p, err := d.Video(int64(tag.Timestamp), tag.Body)
		require.NoError(t, err)
		if p != nil && p.Key {
			return p
		}
	}
}

// h265Keyframe encodes one frame of size with libx265 and returns it as
// the hub carries it (HEVCDecoderConfigurationRecord + AVCC frame).
func h265Keyframe(t *testing.T, size string) *av.Packet {
	t.Helper()
	testutil.RequireTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "one.hevc")
	b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=25",
		"-frames:v", "1", "-c:v", "libx265", "-x265-params", "log-level=error", "-f", "hevc", out).CombinedOutput()
	require.NoError(t, err, "%s", b)
	annexB, err := os.ReadFile(out)
	require.NoError(t, err)
	avcc, err := av.AnnexBToAVCC(nil, annexB)
	require.NoError(t, err)
	var vps, sps, pps, frame []byte
	for rest := avcc; len(rest) >= 4; {
		n := int(binary.BigEndian.Uint32(rest))
		nalu := rest[4 : 4+n]
		switch nalu[0] >> 1 & 0x3f {
		case 32:
			vps = nalu
		case 33:
			sps = nalu
		case 34:
			pps = nalu
		default:
			frame = append(frame, rest[:4+n]...)
		}
		rest = rest[4+n:]
	}
	config, err := av.HEVCConfigRecord(vps, sps, pps)
	require.NoError(t, err)
	track, err := av.NewTrack(av.CodecH265, config)
	require.NoError(t, err)
	return &av.Packet{Track: track, Key: true, Data: frame}
}

// av1Keyframe encodes one frame of size with libaom and returns it as
// the hub carries it (av1C with the sequence header; the temporal unit
// without its temporal delimiter, with the sequence header in band).
func av1Keyframe(t *testing.T, size string) *av.Packet {
	t.Helper()
	testutil.RequireTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "one.obu")
	b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=25",
		"-frames:v", "1", "-c:v", "libaom-av1", "-cpu-used", "8", "-f", "obu", out).CombinedOutput()
	require.NoError(t, err, "%s", b)
	tu, err := os.ReadFile(out)
	require.NoError(t, err)
	var data, seq []byte
	require.NoError(t, av.ForEachOBU(tu, func(typ byte, header, payload []byte) bool {
		// The OBU's bytes: from its header to the end of its payload.
		obu := tu[cap(tu)-cap(header) : cap(tu)-cap(payload)+len(payload)]
		switch typ {
		case av.OBUTemporalDelimiter:
		case av.OBUSequenceHeader:
			seq = obu
			data = append(data, obu...)
		default:
			data = append(data, obu...)
		}
		return true
	}))
	require.NotEmpty(t, seq, "no sequence header")
	track, err := av.NewTrack(av.CodecAV1, append([]byte{0x81, 0, 0, 0}, seq...))
	require.NoError(t, err)
	return &av.Packet{Track: track, Key: true, Data: data}
}

// requireJPEG decodes b and checks its size.
func requireJPEG(t *testing.T, b []byte, w, h int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	require.NoError(t, err, "not a JPEG")
	got := img.Bounds().Size()
	require.Equal(t, [2]int{w, h}, [2]int{got.X, got.Y}, "JPEG size (width, height)")
}

func TestThumbnailOfH264H265AndAV1Keyframes(t *testing.T) {
	for _, c := range []struct {
		name string
		key  func(*testing.T, string) *av.Packet
	}{{"h264", h264Keyframe}, {"h265", h265Keyframe}, {"av1", av1Keyframe}} {
		t.Run(c.name, func(t *testing.T) {
			key := c.key(t, "352x288")
			require.Equal(t, 352, key.Track.Width)
			m := New(Options{Source: fixed(key), Logger: quiet()})
			b, err := m.Get(context.Background(), "live/cam1")
			require.NoError(t, err)
			requireJPEG(t, b, 352, 288)
			require.Equal(t, Stats{Made: 1}, m.Stats())
		})
	}
}

func TestThumbnailConcurrentRequestsShareOneRun(t *testing.T) {
	key := h264Keyframe(t, "320x240")
	m := New(Options{Source: fixed(key), Logger: quiet()})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := m.Get(context.Background(), "live/cam1")
			if err == nil && len(b) == 0 {
				err = errors.New("empty thumbnail")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, Stats{Made: 1, Cached: n - 1}, m.Stats(), "one ffmpeg run for %d concurrent requests", n)
}

func TestThumbnailCacheFollowsTheNewestKeyframe(t *testing.T) {
	first := h264Keyframe(t, "320x240")
	second := &av.Packet{Track: first.Track, Key: true, Data: first.Data} // another keyframe
	var mu sync.Mutex
	cur := first
	m := New(Options{Source: source{latest: func(string) (*av.Packet, bool) {
		mu.Lock()
		defer mu.Unlock()
		return cur, true
	}}, CacheFor: time.Hour, Logger: quiet()})
	_, err := m.Get(context.Background(), "live/cam1")
	require.NoError(t, err)
	mu.Lock()
	cur = second
	mu.Unlock()
	// Younger than CacheFor: served from the cache though the keyframe
	// changed.
	_, err = m.Get(context.Background(), "live/cam1")
	require.NoError(t, err)
	require.Equal(t, Stats{Made: 1, Cached: 1}, m.Stats())

	// Past CacheFor: a new keyframe is decoded; the same keyframe never
	// is again.
	m.opts.CacheFor = time.Nanosecond
	_, err = m.Get(context.Background(), "live/cam1")
	require.NoError(t, err)
	_, err = m.Get(context.Background(), "live/cam1")
	require.NoError(t, err)
	require.Equal(t, Stats{Made: 2, Cached: 2}, m.Stats())
}

func TestThumbnailErrors(t *testing.T) {
	key := h264Keyframe(t, "320x240")
	m := New(Options{Source: fixed(key), Logger: quiet()})
	_, err := m.Get(context.Background(), "live/other")
	require.ErrorIs(t, err, ErrNoStream)

	noKey := New(Options{Source: source{latest: func(string) (*av.Packet, bool) { return nil, true }}, Logger: quiet()})
	_, err = noKey.Get(context.Background(), "live/cam1")
	require.ErrorIs(t, err, ErrNoKeyframe)

	// A frame that does not decode is a failure, not an image.
	broken := &av.Packet{Track: key.Track, Key: true, Data: []byte{0, 0, 0, 2, 0x65, 0x88}}
	bad := New(Options{Source: fixed(broken), Logger: quiet()})
	_, err = bad.Get(context.Background(), "live/cam1")
	require.Error(t, err)
	require.Equal(t, Stats{Failed: 1}, bad.Stats())

	// A run that cannot finish in Timeout fails with its reason.
	slow := New(Options{Source: fixed(key), FFmpeg: writeScript(t, "sleep 30"), Timeout: 200 * time.Millisecond, Logger: quiet()})
	start := time.Now()
	_, err = slow.Get(context.Background(), "live/cam1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second, "the timeout bounds the run")
}

func TestThumbnailBoundsStreams(t *testing.T) {
	key := h264Keyframe(t, "320x240")
	m := New(Options{Source: source{latest: func(string) (*av.Packet, bool) { return key, true }},
		MaxStreams: 1, CacheFor: time.Hour, Logger: quiet()})
	_, err := m.Get(context.Background(), "live/a")
	require.NoError(t, err)
	_, err = m.Get(context.Background(), "live/b")
	require.ErrorIs(t, err, ErrBusy, "a second stream while the first's thumbnail is fresh")
	m.opts.CacheFor = time.Nanosecond
	_, err = m.Get(context.Background(), "live/b")
	require.NoError(t, err, "the stale entry makes room")
}

// writeScript writes an executable shell script standing in for a
// misbehaving ffmpeg (a hung process), returning its path.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ffmpeg")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\nexec "+body+"\n"), 0o755))
	return p
}
