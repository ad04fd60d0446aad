package testutil

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rtspServerPython is Debian's interpreter, which has python3-gi (a pyenv
// python3 earlier on PATH would not).
const rtspServerPython = "/usr/bin/python3"

// RTSPCamera is a real RTSP server (GStreamer's gst-rtsp-server, through
// testdata/rtsp_server.py) fed by ffmpeg, standing in for an IP camera.
type RTSPCamera struct {
	// URL is rtsp://127.0.0.1:PORT/cam.
	URL    string
	script string
	tsPort int
	codecs CameraCodecs

	mu     sync.Mutex
	server *exec.Cmd
	exited chan struct{}
	stderr *SyncBuffer
}

// Camera codec sets (1 s GOPs at 25 fps, 2 B-frames): the name the server
// script packetizes for and ffmpeg's encoder arguments.
var (
	CameraH264AAC = CameraCodecs{Name: "h264-aac", Encoder: []string{"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-b:v", "400k",
		"-x264-params", "repeat-headers=1", "-c:a", "aac", "-b:a", "64k"}}
	CameraH265Opus = CameraCodecs{Name: "h265-opus", Encoder: []string{"-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "log-level=none:bframes=2:repeat-headers=1", "-b:v", "300k", "-c:a", "libopus", "-b:a", "64k"}}
)

// CameraCodecs is one codec set of StartRTSPCamera.
type CameraCodecs struct {
	Name    string
	Encoder []string
}

// StartRTSPCamera starts the RTSP server (on an ephemeral port) and the
// ffmpeg that feeds it a 320x240 test pattern and a sine tone; both are
// killed when the test ends.
func StartRTSPCamera(t testing.TB, codecs CameraCodecs) *RTSPCamera {
	t.Helper()
	if _, err := os.Stat(rtspServerPython); err != nil {
		t.Fatalf("%s missing: scripts/deps.sh installs python3-gi and gir1.2-gst-rtsp-server-1.0", rtspServerPython)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "rtsp_server.py")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tsPort := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()

	cam := &RTSPCamera{script: script, tsPort: tsPort, codecs: codecs}
	t.Cleanup(cam.Kill)
	cam.startServer(t, "0")

	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	args = append(args, codecs.Encoder...)
	args = append(args, "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-ac", "2",
		"-f", "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", tsPort))
	Start(t, "ffmpeg", args...)
	return cam
}

// startServer starts the RTSP server on rtspPort ("0": ephemeral) and
// sets URL once it is bound.
func (c *RTSPCamera) startServer(t testing.TB, rtspPort string) {
	t.Helper()
	cmd := exec.Command(rtspServerPython, c.script, fmt.Sprint(c.tsPort), c.codecs.Name, rtspPort)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr := &SyncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start RTSP server: %v", err)
	}
	exited := make(chan struct{})
	c.mu.Lock()
	c.server, c.exited, c.stderr = cmd, exited, stderr
	c.mu.Unlock()
	ports := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "PORT "); ok {
				ports <- p
			}
		}
	}()
	go func() { cmd.Wait(); close(exited) }()
	select {
	case p := <-ports:
		c.URL = "rtsp://127.0.0.1:" + p + "/cam"
	case <-exited:
		t.Fatalf("RTSP server exited: %s", stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("RTSP server did not report its port within 20 s: %s", stderr.String())
	}
}

// Kill stops the RTSP server (the camera goes away); ffmpeg keeps
// sending, so Restart brings the camera back.
func (c *RTSPCamera) Kill() {
	c.mu.Lock()
	cmd, exited := c.server, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
	<-exited
}

// Restart starts the RTSP server again on the same port (after Kill),
// like a camera that rebooted.
func (c *RTSPCamera) Restart(t testing.TB) {
	t.Helper()
	c.Kill()
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.startServer(t, u.Port())
}
