package rtsp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/relay/pulltest"
	"github.com/sluicemedia/sluice/internal/relay/rtsp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// startCamera starts a camera sending H.264 (B-frames) + AAC.
func startCamera(t testing.TB) *testutil.RTSPCamera {
	return testutil.StartRTSPCamera(t, testutil.CameraH264AAC)
}

// pullFor is how long each camera pull runs.
const pullFor = 10 * time.Second

// pullCamera pulls src and checks: H.264 and AAC, timestamps monotonic per
// track and at wall-clock rate, keyframes every second, B-frames with
// PTS > DTS, the transport that was asked for, and a file ffmpeg decodes.
func pullCamera(t *testing.T, src, wantTransport string) *pulltest.Session {
	return pullCameraCodecs(t, src, wantTransport, av.CodecH264, av.CodecAAC, 46)
}

// pullCameraCodecs is pullCamera for other codecs (audioPerSec: audio
// frames per second).
func pullCameraCodecs(t *testing.T, src, wantTransport string, wantVideo, wantAudio av.Codec, audioPerSec int) *pulltest.Session {
	s := pulltest.Start(t, rtsp.Puller{}, src)
	s.WaitFor(t, 30*time.Second, "first video and audio packets", func(p []pulltest.Received) bool {
		v, _ := pulltest.Count(p, av.KindVideo)
		a, _ := pulltest.Count(p, av.KindAudio)
		return v > 0 && a > 0
	})
	start := time.Now()
	s.WaitFor(t, pullFor+10*time.Second, "the pull duration", func([]pulltest.Received) bool {
		return time.Since(start) >= pullFor
	})
	pkts := s.Packets()
	logs := s.Logs.String()
	s.Stop()

	if !strings.Contains(logs, "transport="+wantTransport) {
		t.Errorf("want a %s session, logs:\n%s", wantTransport, logs)
	}
	v, vc := pulltest.Count(pkts, av.KindVideo)
	a, ac := pulltest.Count(pkts, av.KindAudio)
	if vc != wantVideo || ac != wantAudio {
		t.Errorf("codecs: video %s, audio %s; want %s, %s", vc, ac, wantVideo, wantAudio)
	}
	if min := int(pullFor.Seconds()-2) * 25; v < min {
		t.Errorf("video packets: %d, want ≥ %d", v, min)
	}
	if min := int(pullFor.Seconds()-2) * audioPerSec; a < min {
		t.Errorf("audio packets: %d, want ≥ %d", a, min)
	}
	pulltest.CheckTimeline(t, pkts, 200*time.Millisecond, 2*time.Second)
	pulltest.CheckKeyframes(t, pkts, 1100*time.Millisecond)
	reordered := 0
	for _, p := range pkts {
		if p.Kind() == av.KindVideo && p.PTS > p.DTS {
			reordered++
		}
	}
	if reordered < v/3 {
		t.Errorf("%d of %d video packets have PTS > DTS; the source has 2 B-frames per 3 frames", reordered, v)
	}
	if strings.Contains(logs, "timestamp jump") || strings.Contains(logs, "malformed") {
		t.Errorf("timestamp or media errors:\n%s", logs)
	}
	if s.Stats.Bytes.Load() < 100_000 || !s.Stats.IsConnected() { // 400 kb/s for 10 s is 500 kB
		t.Errorf("stats: %d bytes, connected %v", s.Stats.Bytes.Load(), s.Stats.IsConnected())
	}
	file := pulltest.WriteTS(t, t.TempDir(), pkts)
	if wantVideo == av.CodecH264 { // Debian's ffmpeg 5.1 reads no Enhanced FLV (H.265, Opus)
		file = pulltest.WriteFLV(t, t.TempDir(), pkts)
	}
	frames := pulltest.DecodeFile(t, file)
	if frames < v*9/10 {
		t.Errorf("ffmpeg decoded %d of %d pulled video frames", frames, v)
	}
	t.Logf("%s: pulled %d video (%d reordered), %d audio packets; ffmpeg decoded %d frames; %d bytes",
		wantTransport, v, reordered, a, frames, s.Stats.Bytes.Load())
	return s
}

func TestPullTCP(t *testing.T) {
	testutil.CheckGoroutines(t)
	cam := startCamera(t)
	pullCamera(t, cam.URL+"?transport=tcp", "TCP")

	// The camera going away ends a Pull with an error.
	s := pulltest.Start(t, rtsp.Puller{Transport: "tcp"}, cam.URL)
	s.WaitFor(t, 30*time.Second, "media before the camera goes away", func(p []pulltest.Received) bool { return len(p) > 0 })
	cam.Kill()
	err, ended := s.PullErr(20 * time.Second)
	if !ended || err == nil {
		t.Fatalf("after the RTSP server was killed: Pull ended %v with %v; want an error within 20 s", ended, err)
	}
	t.Logf("after the camera went away: %v", err)
}

func TestPullUDP(t *testing.T) {
	testutil.CheckGoroutines(t)
	cam := startCamera(t)
	pullCamera(t, cam.URL+"?transport=udp", "UDP")
}

// TestPullHEVCOpus is a camera sending H.265 with B-frames and Opus, over
// gortsplib's automatic transport choice (UDP on loopback).
func TestPullHEVCOpus(t *testing.T) {
	testutil.CheckGoroutines(t)
	cam := testutil.StartRTSPCamera(t, testutil.CameraH265Opus)
	pullCameraCodecs(t, cam.URL, "UDP", av.CodecH265, av.CodecOpus, 48)
}

func TestPullRefusesBadURLs(t *testing.T) {
	for _, src := range []string{"http://127.0.0.1:1/cam", "rtsp://127.0.0.1:1/cam?transport=sctp"} {
		s := pulltest.Start(t, rtsp.Puller{}, src)
		err, ended := s.PullErr(5 * time.Second)
		if !ended || err == nil {
			t.Errorf("Pull(%s): ended %v, err %v; want an error at once", src, ended, err)
		}
	}
}

// BenchmarkPullCPU measures the CPU one camera pull costs (400 kb/s H.264
// + 64 kb/s AAC) over 30 s, per transport:
//
//	nice -n 10 go test -run '^$' -bench BenchmarkPullCPU -benchtime 1x ./internal/relay/rtsp/
func BenchmarkPullCPU(b *testing.B) {
	for _, transport := range []string{"tcp", "udp"} {
		b.Run(transport, func(b *testing.B) {
			cam := startCamera(b)
			pulltest.MeasureCPU(b, rtsp.Puller{}, cam.URL+"?transport="+transport, 30*time.Second)
		})
	}
}
