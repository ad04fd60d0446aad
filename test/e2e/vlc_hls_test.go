//go:build unix

package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// vlcRun is what one cvlc run reported: when its input first finished
// buffering, how often it went back to buffering after that (rebuffers),
// and its statistics at the end.
type vlcRun struct {
	started   time.Duration // first "Stream buffering done", since launch; -1: never
	rebuffers int           // "Buffering 0%" after started
	displayed int           // "frames displayed" of the stats command
	lost      int           // "frames lost"
	statsAt   time.Duration // when the stats were asked for
	log       []string      // a bounded excerpt, for failure messages
}

var vlcStat = regexp.MustCompile(`^\|\s*(frames displayed|frames lost)\s*:\s*(\d+)`)

// playVLC plays url with VLC 3 (cvlc: the adaptive demux's HLS, the
// decoders, dummy video and audio outputs) for d and asks its remote
// control interface for the playback statistics. VLC refuses to run as
// root, so as root it runs as nobody (uid/gid 65534) with a temporary
// HOME it may write.
func playVLC(t *testing.T, url string, d time.Duration) vlcRun {
	t.Helper()
	testutil.RequireTool(t, "cvlc")
	home := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(home), 0o755)) // nobody may reach it
	require.NoError(t, os.Chmod(home, 0o777))
	ctx, cancel := context.WithTimeout(context.Background(), d+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "cvlc", "-vv", "-I", "oldrc", "--rc-fake-tty",
		"--vout=dummy", "--aout=dummy", "--no-video-title-show", url)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 3 * time.Second
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	require.NoError(t, cmd.Start())

	run := vlcRun{started: -1}
	var mu sync.Mutex
	gotStats := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		closed := false
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			switch {
			case strings.Contains(line, "Stream buffering done") && run.started < 0:
				run.started = time.Since(start)
			case strings.Contains(line, "Buffering 0%") && run.started >= 0:
				run.rebuffers++
				run.log = append(run.log, time.Since(start).Round(time.Millisecond).String()+" "+line)
			}
			if m := vlcStat.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[2])
				if m[1] == "frames displayed" {
					run.displayed = n
				} else {
					run.lost = n
					if !closed {
						close(gotStats)
						closed = true
					}
				}
			}
			if len(run.log) < 60 && (strings.Contains(line, "Retrieving") || strings.Contains(line, " error")) {
				run.log = append(run.log, time.Since(start).Round(time.Millisecond).String()+" "+line)
			}
			mu.Unlock()
		}
	}()
	select {
	case <-time.After(d):
	case <-readDone:
	}
	mu.Lock()
	run.statsAt = time.Since(start)
	mu.Unlock()
	_, _ = io.WriteString(stdin, "stats\n")
	select {
	case <-gotStats:
	case <-readDone:
	case <-time.After(10 * time.Second):
	}
	_, _ = io.WriteString(stdin, "quit\n")
	_ = stdin.Close()
	_ = cmd.Wait()
	<-readDone
	mu.Lock()
	defer mu.Unlock()
	return run
}

// TestVLCPlaysDefaultHLS plays the default playlist URL with VLC 3 as the
// stream's first HLS viewer (the packager starts with its request): after
// start-up it must play 20 s without going back to buffering and show the
// stream's 30 frames a second. Before, the first playlist of a new
// packager listed one segment; VLC started at its end and rebuffered at
// every segment (10 "Buffering 0%" in 20 s).
func TestVLCPlaysDefaultHLS(t *testing.T) {
	t.Parallel() // mostly waits: 0.11 cores, its bounds held at a load of 10 (see main_test.go)
	s := testutil.StartSluice(t, nil)
	const path = "live/vlc"
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/"+path, testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360", Rate: 30, GOP: 60, Bitrate: "800k"}})
	waitForStream(t, s, path)
	url := "http://" + s.HTTPAddr + "/" + path + ".m3u8"

	const watch = 20 * time.Second
	const startup = 14 * time.Second // first playlist (4 segments: 8 s) and VLC's buffering: 8 s measured
	run := playVLC(t, url, startup+watch)
	require.GreaterOrEqual(t, run.started, time.Duration(0), "VLC never finished buffering %s; its log:\n%s", url, strings.Join(run.log, "\n"))
	playing := run.statsAt - run.started
	t.Logf("VLC on %s: playing after %.1f s, then %d rebuffers and %d frames displayed (%d lost) in %.1f s (%.1f fps)",
		url, run.started.Seconds(), run.rebuffers, run.displayed, run.lost, playing.Seconds(), float64(run.displayed)/playing.Seconds())
	assert.LessOrEqual(t, run.started, startup, "VLC's start-up")
	assert.GreaterOrEqual(t, playing, watch-time.Second, "VLC played for %s", watch)
	assert.Zero(t, run.rebuffers, "times VLC went back to buffering (\"Buffering 0%%\") after start-up")
	// VLC counts the frames it displayed since the start: at 30 fps,
	// with a second of slack for the first frame and a loaded box.
	assert.GreaterOrEqual(t, run.displayed, int(30*(playing.Seconds()-1)*0.9), "frames VLC displayed")
	if t.Failed() {
		t.Logf("VLC log excerpt:\n%s", strings.Join(run.log, "\n"))
	}
}
