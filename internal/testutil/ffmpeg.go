// Package testutil holds what tests share: ffmpeg and ffprobe drivers, clip
// generators, temporary certificates and a runner for the sluice binary.
// Every process it starts is killed when the test ends.
package testutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireTool fails the test when a program the test needs is missing: the
// README's test command installs them, so a missing tool is a set-up error,
// never a reason to pass silently.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: install it (make deps / .ci/run does apt-get install ffmpeg)", name)
	}
	return p
}

// Process is a child process whose output is kept for failure messages.
type Process struct {
	Cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// Start runs name with args; the process is killed when the test ends.
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	RequireTool(t, name)
	p := &Process{Cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.Cmd.Stderr = &lockedWriter{p: p}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.Kill() })
	return p
}

type lockedWriter struct{ p *Process }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if w.p.stderr.Len() < 1<<20 {
		w.p.stderr.Write(b)
	}
	return len(b), nil
}

// Stderr returns what the process printed on stderr so far (first MiB).
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Kill stops the process and waits for it.
func (p *Process) Kill() {
	if p.Cmd.Process != nil {
		_ = p.Cmd.Process.Kill()
	}
	<-p.done
}

// Done is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit within timeout.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("process did not exit within %s", timeout)
	}
}

// Pattern is the test pattern every test uses: testsrc2 video encoded as
// constant-bitrate H.264 (no B-frames) and a sine tone as stereo AAC.
type Pattern struct {
	Size     string        // default 320x240
	Rate     int           // frames per second, default 25
	GOP      int           // frames per GOP, default 2*Rate
	Bitrate  string        // video bitrate, default 500k
	Duration time.Duration // 0: endless when publishing
}

func (p Pattern) withDefaults() Pattern {
	if p.Size == "" {
		p.Size = "320x240"
	}
	if p.Rate == 0 {
		p.Rate = 25
	}
	if p.GOP == 0 {
		p.GOP = 2 * p.Rate
	}
	if p.Bitrate == "" {
		p.Bitrate = "500k"
	}
	return p
}

// args returns ffmpeg's input and encoding arguments for p (defaults set).
func (p Pattern) args() []string {
	args := []string{
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", p.Size, p.Rate),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
	}
	if p.Duration > 0 {
		args = append(args, "-t", strconv.FormatFloat(p.Duration.Seconds(), 'f', 3, 64))
	}
	return append(args,
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-b:v", p.Bitrate, "-minrate", p.Bitrate, "-maxrate", p.Bitrate, "-bufsize", p.Bitrate,
		"-x264-params", "nal-hrd=cbr",
		"-g", strconv.Itoa(p.GOP), "-keyint_min", strconv.Itoa(p.GOP), "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k", "-ar", "44100", "-ac", "2",
	)
}

// PublishOptions shape a test-pattern publish.
type PublishOptions struct {
	Pattern
	// Extra output options placed before the URL (e.g. "-tls_verify", "0").
	Extra []string
}

// PublishTestPattern runs ffmpeg publishing the Pattern in real time to url
// ("rtmp://..." or "rtmps://..."), until the test ends or Duration passes.
func PublishTestPattern(t testing.TB, url string, o PublishOptions) *Process {
	t.Helper()
	args := append([]string{"-hide_banner", "-loglevel", "error", "-re"}, o.Pattern.withDefaults().args()...)
	args = append(args, o.Extra...)
	args = append(args, "-f", "flv", url)
	return Start(t, "ffmpeg", args...)
}

// ProbeStream is one stream as ffprobe reports it.
type ProbeStream struct {
	CodecType  string `json:"codec_type"`
	CodecName  string `json:"codec_name"`
	Profile    string `json:"profile"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	SampleRate string `json:"sample_rate"`
	Channels   int    `json:"channels"`
}

// Probe runs ffprobe on url and returns its streams.
func Probe(t testing.TB, url string, timeout time.Duration, extra ...string) ([]ProbeStream, error) {
	t.Helper()
	RequireTool(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"-hide_banner", "-v", "error", "-print_format", "json", "-show_streams"}, extra...)
	args = append(args, url)
	cmd := exec.CommandContext(ctx, "ffprobe", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe %s: %v: %s", url, err, stderr.String())
	}
	var res struct {
		Streams []ProbeStream `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("ffprobe output: %v", err)
	}
	return res.Streams, nil
}

// DecodeResult is what a decode run reports.
type DecodeResult struct {
	VideoFrames int
	// Errors holds every line ffmpeg logged at level error or above.
	Errors []string
}

// Decode runs `ffmpeg -i url -t seconds -f null -` and counts decoded video
// frames; ffmpeg's error lines are returned, not judged.
func Decode(t testing.TB, url string, d time.Duration, extra ...string) (DecodeResult, error) {
	t.Helper()
	RequireTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), d+20*time.Second)
	defer cancel()
	args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-progress", "pipe:1"}, extra...)
	args = append(args, "-i", url, "-t", strconv.FormatFloat(d.Seconds(), 'f', 3, 64), "-f", "null", "-")
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	res := DecodeResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok {
			res.VideoFrames, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" {
			res.Errors = append(res.Errors, line)
		}
	}
	if err != nil {
		return res, fmt.Errorf("ffmpeg decode %s: %v: %s", url, err, stderr.String())
	}
	return res, nil
}

// CountFrames decodes a raw video file of ffmpeg input format (e.g.
// "h264", "hevc", "obu") with ffprobe and returns the number of decoded
// frames; a file ffprobe cannot read fails the test.
func CountFrames(t testing.TB, file, format string) int {
	t.Helper()
	RequireTool(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-f", format, "-count_frames",
		"-select_streams", "v:0", "-show_entries", "stream=nb_read_frames,codec_name,width,height",
		"-of", "default=noprint_wrappers=1", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", file, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "nb_read_frames="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("ffprobe %s: frame count %q: %s", file, v, out)
			}
			return n
		}
	}
	t.Fatalf("ffprobe printed no frame count for %s: %s", file, out)
	return 0
}

// GapWatch records the longest gap between the frames viewers receive,
// counted from Start (e.g. the moment another viewer stalls). It is safe
// for concurrent use by many viewers, each keeping its own last time.
type GapWatch struct {
	mu    sync.Mutex
	since time.Time
	max   time.Duration
}

// Frame records a frame a viewer received now; last is that viewer's
// previous frame time, updated.
func (g *GapWatch) Frame(last *time.Time) {
	now := time.Now()
	g.mu.Lock()
	if !g.since.IsZero() && now.After(g.since) && !last.IsZero() && now.Sub(*last) > g.max {
		g.max = now.Sub(*last)
	}
	g.mu.Unlock()
	*last = now
}

// Start begins measuring and returns when.
func (g *GapWatch) Start() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.since = time.Now()
	return g.since
}

// Max returns the longest gap since Start.
func (g *GapWatch) Max() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max
}

// DialSmallWindow connects to addr with a 4 KiB receive buffer, so a
// client that stops reading stalls the server's writes almost at once;
// the connection is closed when the test ends.
func DialSmallWindow(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}
