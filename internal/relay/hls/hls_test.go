package hls_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/relay/hls"
	"github.com/sluicemedia/sluice/internal/relay/pulltest"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// pullFor is how long each live pull runs: long enough that the source's
// 5-segment window (1 s segments, deleted as they leave it) turns over
// several times under the client.
const pullFor = 18 * time.Second

// liveHLS is testutil.StartLiveHLS of H.264 (B-frames) + AAC.
func liveHLS(t testing.TB, extra ...string) (string, *http.Server) {
	return testutil.StartLiveHLS(t, testutil.LiveHLSH264AAC, extra...)
}

// want is what a pull must deliver.
type want struct {
	video, audio av.Codec
	audioPerSec  int // audio frames per second
}

// pullAndCheck pulls src for pullFor and checks what the hub got: H.264
// and AAC, timestamps monotonic and at wall-clock rate, keyframes every
// second, no timestamp jump seen by the hub, and a file ffmpeg decodes.
func pullAndCheck(t *testing.T, src string) *pulltest.Session {
	return pullAndCheckFor(t, src, pullFor, want{av.CodecH264, av.CodecAAC, 46})
}

// pullAndCheckFor is pullAndCheck for other codecs and durations.
func pullAndCheckFor(t *testing.T, src string, pullFor time.Duration, w want) *pulltest.Session {
	s := pulltest.Start(t, hls.Puller{}, src)
	s.WaitFor(t, 20*time.Second, "first video and audio packets", func(p []pulltest.Received) bool {
		v, _ := pulltest.Count(p, av.KindVideo)
		a, _ := pulltest.Count(p, av.KindAudio)
		return v > 0 && a > 0
	})
	if !s.Stats.IsConnected() {
		t.Error("Stats.Connected was not called although media flows")
	}
	start := time.Now()
	s.WaitFor(t, pullFor+10*time.Second, "the pull duration", func([]pulltest.Received) bool {
		return time.Since(start) >= pullFor
	})
	if err, ended := s.PullErr(0); ended {
		t.Fatalf("Pull ended early: %v\n%s", err, s.Logs.String())
	}
	pkts := s.Packets()
	s.Stop()

	v, vc := pulltest.Count(pkts, av.KindVideo)
	a, ac := pulltest.Count(pkts, av.KindAudio)
	if vc != w.video || ac != w.audio {
		t.Errorf("codecs: video %s, audio %s; want %s, %s", vc, ac, w.video, w.audio)
	}
	// 25 fps and the audio frame rate over at least pullFor, less what
	// the start took.
	if min := int(pullFor.Seconds()-3) * 25; v < min {
		t.Errorf("video packets: %d, want ≥ %d", v, min)
	}
	if min := int(pullFor.Seconds()-3) * w.audioPerSec; a < min {
		t.Errorf("audio packets: %d, want ≥ %d", a, min)
	}
	pulltest.CheckTimeline(t, pkts, 200*time.Millisecond, 4*time.Second)
	pulltest.CheckKeyframes(t, pkts, 1100*time.Millisecond)
	reordered := 0
	for _, p := range pkts {
		if p.Kind() == av.KindVideo && p.PTS > p.DTS {
			reordered++
		}
	}
	if reordered == 0 {
		t.Error("no video packet has PTS > DTS although the source has B-frames")
	}
	if logs := s.Logs.String(); strings.Contains(logs, "timestamp jump") || strings.Contains(logs, "off the stream timeline") {
		t.Errorf("hub saw timestamp errors:\n%s", logs)
	}
	if s.Stats.Bytes.Load() == 0 {
		t.Error("Stats.Bytes stayed 0")
	}
	file := pulltest.WriteTS(t, t.TempDir(), pkts)
	if w.video == av.CodecH264 { // Debian's ffmpeg 5.1 reads no Enhanced FLV (H.265, Opus)
		file = pulltest.WriteFLV(t, t.TempDir(), pkts)
	}
	frames := pulltest.DecodeFile(t, file)
	if frames < v*9/10 {
		t.Errorf("ffmpeg decoded %d of %d pulled video frames", frames, v)
	}
	t.Logf("pulled %d video, %d audio packets; ffmpeg decoded %d frames; %d bytes", v, a, frames, s.Stats.Bytes.Load())
	return s
}

func TestPullMPEGTS(t *testing.T) {
	testutil.CheckGoroutines(t)
	src, srv := liveHLS(t)
	pullAndCheck(t, src)

	// The source going away ends a new Pull with an error (the Manager
	// reconnects).
	s := pulltest.Start(t, hls.Puller{}, src)
	s.WaitFor(t, 20*time.Second, "media before the source goes away", func(p []pulltest.Received) bool { return len(p) > 0 })
	srv.Close()
	err, ended := s.PullErr(30 * time.Second)
	if !ended {
		t.Fatal("Pull still running 30 s after the HLS server closed")
	}
	if err == nil {
		t.Fatal("Pull returned nil after the source went away, want an error")
	}
	t.Logf("after the source went away: %v", err)
}

func TestPullFMP4(t *testing.T) {
	testutil.CheckGoroutines(t)
	src, _ := liveHLS(t, "-hls_segment_type", "fmp4")
	pullAndCheck(t, src)
}

// TestPullFMP4HEVCOpus is the fMP4 variant with the codecs MPEG-TS
// segments cannot bring through gohlslib: H.265 (with B-frames) and Opus.
func TestPullFMP4HEVCOpus(t *testing.T) {
	testutil.CheckGoroutines(t)
	src, _ := testutil.StartLiveHLS(t, testutil.LiveHLSH265Opus, "-hls_segment_type", "fmp4")
	pullAndCheckFor(t, src, 10*time.Second, want{av.CodecH265, av.CodecOpus, 48})
}

func TestPullRefusesOtherSchemes(t *testing.T) {
	s := pulltest.Start(t, hls.Puller{}, "rtsp://127.0.0.1:1/x.m3u8")
	err, ended := s.PullErr(5 * time.Second)
	if !ended || err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("Pull of an rtsp:// URL: ended %v, err %v; want an unsupported-scheme error", ended, err)
	}
}

// BenchmarkPullCPU measures the CPU one HLS pull costs (MPEG-TS and fMP4
// sources of 400 kb/s H.264 + 64 kb/s AAC) over 30 s:
//
//	nice -n 10 go test -run '^$' -bench BenchmarkPullCPU -benchtime 1x ./internal/relay/hls/
func BenchmarkPullCPU(b *testing.B) {
	for _, variant := range []struct {
		name  string
		extra []string
	}{{"mpegts", nil}, {"fmp4", []string{"-hls_segment_type", "fmp4"}}} {
		b.Run(variant.name, func(b *testing.B) {
			src, _ := liveHLS(b, variant.extra...)
			pulltest.MeasureCPU(b, hls.Puller{}, src, 30*time.Second)
		})
	}
}
