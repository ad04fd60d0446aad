// Package pulltest is the test harness of the pull clients (relay/hls,
// relay/rtsp) without the relay Manager: a hub, a publisher for one path,
// Pull running in a goroutine, and a hub reader collecting what arrives,
// with checks on codecs, timestamps and playability (the packets written
// as FLV and decoded by ffmpeg). Only tests import it.
package pulltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
)

// Path is the hub path the harness publishes.
const Path = "live/pulled"

// Received is one packet as the reader got it.
type Received struct {
	*av.Packet
	// At is when the reader received it.
	At time.Time
}

// Session is one Pull into a fresh hub.
type Session struct {
	Hub   *hub.Hub
	Stats *relay.Stats
	Logs  *LogBuffer

	cancel  context.CancelFunc
	pullErr chan error

	mu      sync.Mutex
	packets []Received
	readErr error
	done    chan struct{}
}

// LogBuffer keeps what the puller logged.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

// String returns the log so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start publishes Path in a new hub, runs p.Pull(src) in a goroutine and
// starts a reader once the stream has announced its tracks. Everything
// stops at Stop or when the test ends.
func Start(t testing.TB, p relay.Puller, src string) *Session {
	t.Helper()
	u, err := url.Parse(src)
	if err != nil {
		t.Fatalf("source URL %q: %v", src, err)
	}
	logs := &LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hub.New(hub.Options{Logger: log, WaitTimeout: 2 * time.Second})
	pub, err := h.Publish(Path, hub.ClientInfo{Protocol: "pull", Remote: u.Host})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{Hub: h, Stats: &relay.Stats{}, Logs: logs, cancel: cancel,
		pullErr: make(chan error, 1), done: make(chan struct{})}
	go func() {
		err := p.Pull(ctx, u, pub, s.Stats, log.With("path", Path, "remote", u.Host))
		pub.Close("pull ended")
		s.pullErr <- err
	}()
	go s.read(ctx)
	t.Cleanup(func() { s.Stop(); h.Close() })
	return s
}

// read subscribes (retrying until the stream is ready) and collects.
func (s *Session) read(ctx context.Context) {
	defer close(s.done)
	var rd *hub.Reader
	for {
		var err error
		rd, err = s.Hub.Subscribe(ctx, Path, hub.ClientInfo{Protocol: "test", Remote: "harness"})
		if err == nil {
			break
		}
		if ctx.Err() != nil || !(errors.Is(err, hub.ErrNotReady) || errors.Is(err, hub.ErrNotFound)) {
			s.setReadErr(err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer rd.Close()
	buf := make([]*av.Packet, 0, 256)
	for {
		pkts, err := rd.Read(ctx, buf[:0])
		now := time.Now()
		s.mu.Lock()
		for _, p := range pkts {
			s.packets = append(s.packets, Received{Packet: p, At: now})
		}
		s.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				s.setReadErr(err)
			}
			return
		}
	}
}

func (s *Session) setReadErr(err error) {
	s.mu.Lock()
	s.readErr = err
	s.mu.Unlock()
}

// Packets returns a copy of what was received so far.
func (s *Session) Packets() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.packets...)
}

// WaitFor waits until cond holds on the received packets, the pull ends,
// or timeout passes; it fails the test in the last two cases.
func (s *Session) WaitFor(t testing.TB, timeout time.Duration, what string, cond func([]Received) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond(s.Packets()) {
			return
		}
		select {
		case err := <-s.pullErr:
			s.pullErr <- err
			t.Fatalf("waiting for %s: Pull ended: %v\nlogs:\n%s", what, err, s.Logs.String())
		default:
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			n, rerr := len(s.packets), s.readErr
			s.mu.Unlock()
			t.Fatalf("waiting for %s: not within %s (%d packets, reader error %v)\nlogs:\n%s",
				what, timeout, n, rerr, s.Logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PullErr returns the Pull's result if it ended within wait, else nil, false.
func (s *Session) PullErr(wait time.Duration) (error, bool) {
	select {
	case err := <-s.pullErr:
		s.pullErr <- err
		return err, true
	case <-time.After(wait):
		return nil, false
	}
}

// Stop cancels the pull and the reader and waits for both.
func (s *Session) Stop() {
	s.cancel()
	<-s.done
	select {
	case err := <-s.pullErr:
		s.pullErr <- err
	case <-time.After(10 * time.Second):
	}
}

// Count returns how many packets of kind k are in pkts, and their codec.
func Count(pkts []Received, k av.Kind) (n int, codec av.Codec) {
	for _, p := range pkts {
		if p.Kind() == k {
			n++
			codec = p.Track.Codec
		}
	}
	return n, codec
}

// CheckTimeline fails the test unless, per track kind: DTS strictly
// increases, PTS >= DTS, no DTS step exceeds maxGap, and the media time
// covered keeps pace with the wall-clock time the packets took to arrive
// (within slack: a live pull neither stalls nor bursts ahead for long).
func CheckTimeline(t testing.TB, pkts []Received, maxGap, slack time.Duration) {
	t.Helper()
	for _, k := range []av.Kind{av.KindVideo, av.KindAudio} {
		var first, prev *Received
		for i := range pkts {
			p := &pkts[i]
			if p.Kind() != k {
				continue
			}
			if p.PTS < p.DTS {
				t.Errorf("%s packet %d: PTS %v < DTS %v", k, i, p.PTS, p.DTS)
			}
			if prev != nil {
				if p.DTS <= prev.DTS {
					t.Errorf("%s packet %d: DTS %v not after previous %v", k, i, p.DTS, prev.DTS)
				}
				if p.DTS-prev.DTS > maxGap {
					t.Errorf("%s packet %d: DTS gap %v > %v (from %v to %v)", k, i, p.DTS-prev.DTS, maxGap, prev.DTS, p.DTS)
				}
			} else {
				first = p
			}
			prev = p
		}
		if first == nil || prev == first {
			continue
		}
		media := prev.DTS - first.DTS
		wall := prev.At.Sub(first.At)
		if d := media - wall; d > slack || d < -slack {
			t.Errorf("%s: %v of media arrived in %v of wall-clock time (want within %v)", k, media, wall, slack)
		}
	}
}

// CheckKeyframes fails the test unless the first video packet is a
// keyframe and keyframes recur at least every maxGOP of media time.
func CheckKeyframes(t testing.TB, pkts []Received, maxGOP time.Duration) {
	t.Helper()
	var lastKey time.Duration
	seen := false
	for i, p := range pkts {
		if p.Kind() != av.KindVideo {
			continue
		}
		if !seen {
			if !p.Key {
				t.Errorf("first video packet (%d) is not a keyframe", i)
			}
			seen = true
			lastKey = p.DTS
			continue
		}
		if p.Key {
			lastKey = p.DTS
		} else if p.DTS-lastKey > maxGOP {
			t.Errorf("video packet %d at %v: no keyframe for %v (want ≤ %v)", i, p.DTS, p.DTS-lastKey, maxGOP)
			return
		}
	}
}

// WriteFLV writes pkts as an FLV file in dir (sequence headers before the
// first packet and at every track change) and returns its name.
func WriteFLV(t testing.TB, dir string, pkts []Received) string {
	t.Helper()
	hasVideo, hasAudio := false, false
	for _, p := range pkts {
		hasVideo = hasVideo || p.Kind() == av.KindVideo
		hasAudio = hasAudio || p.Kind() == av.KindAudio
	}
	b := flv.AppendHeader(nil, hasVideo, hasAudio)
	var vt, at *av.Track
	for _, p := range pkts {
		typ := uint8(flv.TagAudio)
		cur := &at
		if p.Kind() == av.KindVideo {
			typ, cur = flv.TagVideo, &vt
		}
		if *cur != p.Track {
			*cur = p.Track
			if flv.HasSequenceHeader(p.Track) {
				b = flv.AppendTag(b, typ, flv.TimestampMS(p.DTS), flv.AppendSequenceHeaderBody(nil, p.Track))
			}
		}
		b = flv.AppendTag(b, typ, flv.TimestampMS(p.DTS), flv.AppendPacketBody(nil, p.Packet))
	}
	name := filepath.Join(dir, "pulled.flv")
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// DecodeFile decodes every stream of file with ffmpeg and fails the test on
// any error ffmpeg reports (-xerror, error-level log lines); it returns the
// number of decoded video frames.
func DecodeFile(t testing.TB, file string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-xerror",
		"-i", file, "-map", "0", "-f", "null", "-progress", "pipe:1", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(stderr.String()) != "" {
		if d := os.Getenv("PULLTEST_KEEP"); d != "" {
			b, _ := os.ReadFile(file)
			os.WriteFile(filepath.Join(d, filepath.Base(file)), b, 0o644)
		}
		t.Fatalf("ffmpeg decoding %s: %v\n%s", file, err, stderr.String())
	}
	frames := 0
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "frame="); ok {
			fmt.Sscan(v, &frames)
		}
	}
	return frames
}

var _ io.Writer = (*LogBuffer)(nil)

// CPU returns the process's user+system CPU time so far (getrusage, the
// same counters as /proc/self/stat's utime and stime).
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MeasureCPU pulls src with p for d and reports the CPU the test process
// spent per second of pulling (the puller, the hub and the harness's one
// reader; the source's processes are not counted) as "cpu-ms/s" and "%cpu"
// metrics of b. It ignores b.N: one pull is the measurement.
func MeasureCPU(b *testing.B, p relay.Puller, src string, d time.Duration) {
	s := Start(b, p, src)
	s.WaitFor(b, 30*time.Second, "first packets", func(p []Received) bool { return len(p) > 0 })
	b.ResetTimer()
	cpu0, wall0 := CPU(), time.Now()
	s.WaitFor(b, d+10*time.Second, "the measured pull", func([]Received) bool { return time.Since(wall0) >= d })
	cpu, wall := CPU()-cpu0, time.Since(wall0)
	b.StopTimer()
	n := len(s.Packets())
	s.Stop()
	perSec := float64(cpu.Milliseconds()) / wall.Seconds()
	b.ReportMetric(perSec, "cpu-ms/s")
	b.ReportMetric(perSec/10, "%cpu")
	b.ReportMetric(float64(n)/wall.Seconds(), "packets/s")
	b.ReportMetric(float64(s.Stats.Bytes.Load())/wall.Seconds()/1000, "kB/s")
}
