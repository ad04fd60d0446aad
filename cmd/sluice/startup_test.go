package main

import (
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/certs"
)

// startedLogs starts the real server with env and returns its log once the
// "sluice started" line is there, then stops it.
func startedLogs(t *testing.T, env ...string) string {
	t.Helper()
	cmd, logs, done := startChild(t, "real", env...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), `msg="sluice started`) {
		if time.Now().After(deadline) {
			t.Fatalf("no \"sluice started\" line within 20s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	// The URLs the log gives must work: the dashboard and the player page.
	for _, key := range []string{"dashboard", "player"} {
		m := regexp.MustCompile(`msg="http listening" proto=http .*` + key + `=(http://\S+)`).FindStringSubmatch(out)
		require.NotNil(t, m, "http listening line with %s=URL, got:\n%s", key, out)
		resp, err := http.Get(m[1])
		require.NoError(t, err, key)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s", key, m[1])
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
	return out
}

// lineOf returns the log line with message msg (and proto, when set).
func lineOf(t *testing.T, logs, msg, proto string) string {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) && (proto == "" || strings.Contains(l, " proto="+proto+" ")) {
			return l
		}
	}
	t.Fatalf("no %q line (proto %q) in:\n%s", msg, proto, logs)
	return ""
}

// The startup log tells a newcomer where to publish and where to watch,
// one line per listener, and why a TLS listener is off.
func TestStartupLogSaysWhereToPublishAndWatch(t *testing.T) {
	logs := startedLogs(t)
	url := `127\.0\.0\.1:\d+`
	for _, c := range []struct{ msg, proto, want string }{
		{"rtmp listening", "rtmp", `publish=rtmp://` + url + `/live/cam1 obs="server rtmp://` + url + `/live key cam1"`},
		{"rtmps off", "rtmps", `reason="rtmps.cert and rtmps.key are not set`},
		{"http listening", "http", `dashboard=http://` + url + `/ player=http://` + url + `/live/cam1 whip=http://` + url + `/live/cam1/whip`},
		{"https off", "https", `reason="https.cert and https.key are not set`},
		{"webrtc listening", "webrtc", `addr=127\.0\.0\.1:\d+ transport=udp\+tcp`},
		{"sluice started", "", `publish=rtmp://` + url + `/live/cam1 watch=http://` + url + `/live/cam1`},
	} {
		require.Regexp(t, c.want, lineOf(t, logs, c.msg, c.proto), c.msg)
	}
}

// With certificates, RTMPS and HTTPS say their URLs instead of why they
// are off.
func TestStartupLogTLSListeners(t *testing.T) {
	certFile, keyFile, err := certs.GenerateSelfSigned(t.TempDir())
	require.NoError(t, err)
	logs := startedLogs(t, "SLUICE_RTMPS_CERT="+certFile, "SLUICE_RTMPS_KEY="+keyFile,
		"SLUICE_HTTPS_CERT="+certFile, "SLUICE_HTTPS_KEY="+keyFile)
	require.NotContains(t, logs, `msg="rtmps off"`)
	require.NotContains(t, logs, `msg="https off"`)
	require.Regexp(t, `publish=rtmps://127\.0\.0\.1:\d+/live/cam1`, lineOf(t, logs, "rtmp listening", "rtmps"))
	require.Regexp(t, `player=https://127\.0\.0\.1:\d+/live/cam1`, lineOf(t, logs, "http listening", "https"))
}
