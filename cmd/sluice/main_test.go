package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
)

// childEnv makes the test binary act as sluice itself (see TestMain). Its
// name must not start with SLUICE_, which config would refuse.
const childEnv = "BE_SLUICE_MAIN"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "real":
		main()
	case "hang": // a server whose shutdown never finishes
		os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr,
			func(ctx context.Context, _ *config.Config, log *slog.Logger) error {
				log.Info("fake listening")
				<-ctx.Done()
				log.Info("fake stopping")
				select {}
			}))
	}
}

// runMain runs run with a fake server and returns exit code, stdout and
// stderr.
func runMain(t *testing.T, args, environ []string, runApp runFunc) (int, string, string) {
	t.Helper()
	if runApp == nil {
		runApp = func(context.Context, *config.Config, *slog.Logger) error {
			t.Error("server must not start")
			return nil
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(args, environ, &stdout, &stderr, runApp)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runMain(t, []string{"-version"}, nil, nil)
	require.Equal(t, 0, code)
	require.Equal(t, "sluice dev\n", out)
}

func TestPrintConfig(t *testing.T) {
	code, out, errOut := runMain(t, []string{"-print-config"}, []string{"SLUICE_HLS_VARIANT=mpegts"}, nil)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "variant: mpegts")
	require.Contains(t, out, "listen: :1935")

	// The printed config loads back as a file.
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(out), 0o600))
	c, err := config.Load(p, nil)
	require.NoError(t, err)
	require.Equal(t, "mpegts", c.HLS.Variant)
}

func TestConfigErrorsExit2(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("rtmp:\n  chunk_sise: 1\n"), 0o600))
	for _, tc := range []struct {
		name    string
		args    []string
		environ []string
		want    string
	}{
		{"bad env value", nil, []string{"SLUICE_RTMP_CHUNK_SIZE=abc"}, "sluice: config: SLUICE_RTMP_CHUNK_SIZE (rtmp.chunk_size): want an integer"},
		{"unknown env", nil, []string{"SLUICE_RTMP_LISTN=:1"}, "sluice: config: SLUICE_RTMP_LISTN: unknown environment variable"},
		{"invalid value", nil, []string{"SLUICE_HLS_VARIANT=dash"}, `sluice: config: hls.variant: must be one of`},
		{"unknown file key", []string{"-config", bad}, nil, `unknown key "rtmp.chunk_sise"`},
		{"missing file", []string{"-config", filepath.Join(t.TempDir(), "none.yaml")}, nil, "sluice: config: open "},
		{"print invalid", []string{"-print-config"}, []string{"SLUICE_LOG_LEVEL=loud"}, "sluice: config: log.level:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMain(t, tc.args, tc.environ, nil)
			require.Equal(t, 2, code)
			require.Empty(t, out)
			require.True(t, strings.HasPrefix(errOut, "sluice: config: "), errOut)
			require.Contains(t, errOut, tc.want)
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	code, _, errOut := runMain(t, []string{"-nope"}, nil, nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "flag provided but not defined: -nope")

	code, _, errOut = runMain(t, []string{"extra"}, nil, nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unexpected argument "extra"`)

	code, _, errOut = runMain(t, []string{"-h"}, nil, nil)
	require.Equal(t, 0, code)
	require.Contains(t, errOut, "-print-config")
}

func TestRunPassesConfigAndLogger(t *testing.T) {
	var got *config.Config
	code, _, errOut := runMain(t, nil, []string{"SLUICE_RTMP_LISTEN=127.0.0.1:1", "SLUICE_LOG_FORMAT=json"},
		func(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
			got = cfg
			log.Info("hello")
			return nil
		})
	require.Equal(t, 0, code)
	require.Equal(t, "127.0.0.1:1", got.RTMP.Listen)
	require.Contains(t, errOut, `"msg":"hello"`)
}

func TestRunErrorExit1(t *testing.T) {
	code, _, errOut := runMain(t, nil, nil, func(context.Context, *config.Config, *slog.Logger) error {
		return errors.Join(errors.New("rtmp.listen \":1935\": address in use"), errors.New("second"))
	})
	require.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Equal(t, `sluice: rtmp.listen ":1935": address in use; second`, lines[len(lines)-1])
}

// startChild runs the test binary as sluice (mode "real" or "hang") on
// loopback ephemeral ports, with env added, and waits for its "listening"
// log line.
func startChild(t *testing.T, mode string, env ...string) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(filterEnv(os.Environ()), childEnv+"="+mode,
		"SLUICE_RTMP_LISTEN=127.0.0.1:0", "SLUICE_RTMPS_LISTEN=127.0.0.1:0",
		"SLUICE_HTTP_LISTEN=127.0.0.1:0", "SLUICE_HTTPS_LISTEN=127.0.0.1:0",
		"SLUICE_WEBRTC_LISTEN=127.0.0.1:0", "SLUICE_SRT_LISTEN=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	logs := &syncBuffer{}
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pipe)
		once := false
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "listening") {
				once = true
				close(ready)
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		<-scanned // Wait must not run before the pipe is drained
		done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("sluice exited early: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("sluice did not start\n%s", logs.String())
	}
	return cmd, logs, done
}

// syncBuffer is a goroutine-safe log buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// filterEnv drops SLUICE_* variables of the test's own environment.
func filterEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	return ee.ExitCode()
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	cmd, logs, done := startChild(t, "real")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.Equal(t, 0, exitCode(t, err), logs.String())
	case <-time.After(5 * time.Second):
		t.Fatalf("no exit within 5 s after SIGTERM\n%s", logs.String())
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	cmd, logs, done := startChild(t, "hang")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	deadline := time.After(5 * time.Second)
	for !strings.Contains(logs.String(), "fake stopping") {
		select {
		case err := <-done:
			t.Fatalf("exited after one signal: %v\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("shutdown did not begin\n%s", logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-done:
		require.Equal(t, 1, exitCode(t, err))
		require.Contains(t, logs.String(), "sluice: second interrupt during shutdown, exiting now")
	case <-time.After(5 * time.Second):
		t.Fatalf("no exit after the second signal\n%s", logs.String())
	}
}
