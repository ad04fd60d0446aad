package testutil

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// build is one cached build of cmd/sluice.
type build struct {
	once sync.Once
	bin  string
	err  error
}

var (
	raceBuild   build // what every test runs: the race detector watches the server too
	noRaceBuild build // for load tests: the race detector multiplies CPU and memory
)

func (b *build) get(t testing.TB, race bool) string {
	t.Helper()
	b.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := sharedTempDir("sluice-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(dir, "sluice")
		args := []string{"build", "-o", b.bin, "./cmd/sluice"}
		if race {
			args = []string{"build", "-race", "-o", b.bin, "./cmd/sluice"}
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

// BuildSluice builds cmd/sluice with the race detector once per test
// binary and returns its path.
func BuildSluice(t testing.TB) string { return raceBuild.get(t, true) }

// Sluice is a running sluice binary with the addresses it bound.
type Sluice struct {
	Cmd       *exec.Cmd
	RTMPAddr  string
	RTMPSAddr string
	HTTPAddr  string
	HTTPSAddr string
	SRTAddr   string // UDP

	mu    sync.Mutex
	logs  []map[string]any
	races int // race detector reports seen on stderr
	done  chan struct{}
	err   error
}

// StartSluice runs the binary with loopback ephemeral ports and JSON logs,
// plus env (KEY=VALUE, overriding those defaults) and args, and waits until
// its listeners are up. It is stopped when the test ends.
func StartSluice(t testing.TB, env []string, args ...string) *Sluice {
	t.Helper()
	return startSluice(t, BuildSluice(t), env, args...)
}

// StartSluiceNoRace is StartSluice with a build without the race detector,
// for tests that measure the server's CPU and memory.
func StartSluiceNoRace(t testing.TB, env []string, args ...string) *Sluice {
	t.Helper()
	return startSluice(t, noRaceBuild.get(t, false), env, args...)
}

func startSluice(t testing.TB, bin string, env []string, args ...string) *Sluice {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"SLUICE_RTMP_LISTEN=127.0.0.1:0",
		"SLUICE_RTMPS_LISTEN=127.0.0.1:0",
		"SLUICE_HTTP_LISTEN=127.0.0.1:0",
		"SLUICE_HTTPS_LISTEN=127.0.0.1:0",
		"SLUICE_WEBRTC_LISTEN=127.0.0.1:0",
		"SLUICE_SRT_LISTEN=127.0.0.1:0",
		"SLUICE_LOG_FORMAT=json",
		"SLUICE_LOG_LEVEL=debug",
	)
	cmd.Env = RaceEnv(append(cmd.Env, env...))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice: %v", err)
	}
	s := &Sluice{Cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go s.readLogs(stderr, ready)
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if n := s.Races(); n > 0 {
			// The race detector watches the server: its reports fail the
			// test that started it.
			t.Errorf("sluice reported %d data race(s); its logs follow", n)
		}
		if t.Failed() {
			t.Logf("sluice logs:\n%s", s.LogText())
		}
	})
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("sluice exited before listening: %v\n%s", s.err, s.LogText())
	case <-time.After(30 * time.Second):
		t.Fatalf("sluice did not start listening within 30s\n%s", s.LogText())
	}
	return s
}

func (s *Sluice) readLogs(r interface{ Read([]byte) (int, error) }, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		rec := map[string]any{}
		if json.Unmarshal([]byte(line), &rec) != nil {
			rec = map[string]any{"msg": line}
		}
		s.mu.Lock()
		s.logs = append(s.logs, rec)
		if strings.Contains(line, raceReport) {
			s.races++
		}
		if msg, _ := rec["msg"].(string); strings.HasSuffix(msg, "listening") {
			addr, _ := rec["addr"].(string)
			switch rec["proto"] {
			case "rtmp":
				s.RTMPAddr = addr
			case "rtmps":
				s.RTMPSAddr = addr
			case "http":
				s.HTTPAddr = addr
			case "https":
				s.HTTPSAddr = addr
			case "srt":
				s.SRTAddr = addr
			}
		}
		if msg, _ := rec["msg"].(string); msg == "sluice started" && !signalled {
			signalled = true
			close(ready)
		}
		s.mu.Unlock()
	}
}

// Races returns how many data races the server's race detector has
// reported so far.
func (s *Sluice) Races() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.races
}

// Logs returns the log records so far whose msg contains substr.
func (s *Sluice) Logs(substr string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, r := range s.logs {
		if msg, _ := r["msg"].(string); strings.Contains(msg, substr) {
			out = append(out, r)
		}
	}
	return out
}

// LogText returns all logs as text.
func (s *Sluice) LogText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, r := range s.logs {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// Signal sends sig to the process.
func (s *Sluice) Signal(sig os.Signal) error { return s.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit within timeout and returns its error.
func (s *Sluice) Wait(timeout time.Duration) error {
	select {
	case <-s.done:
		return s.err
	case <-time.After(timeout):
		return fmt.Errorf("sluice did not exit within %s", timeout)
	}
}
