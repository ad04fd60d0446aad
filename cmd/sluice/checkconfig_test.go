package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/certs"
)

// writeFile writes body to name in a temp dir and returns its path.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// A valid file passes without the server starting (runMain fails the test
// if it starts) and without binding its ports: the RTMP port the file
// names is held by the test, which startup would refuse.
func TestCheckConfigOK(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	certFile, keyFile, err := certs.GenerateSelfSigned(t.TempDir())
	require.NoError(t, err)
	good := writeFile(t, "good.yaml", `
rtmp:
  listen: `+busy.Addr().String()+`
hub:
  max_lag: 3s
rtmps:
  cert: `+certFile+`
  key: `+keyFile+`
paths:
  "cams/door":
    source: rtmp://192.0.2.20/live/door
  "live/*":
    forward: ["rtmp://192.0.2.30/live2/{name}"]
`)
	code, out, errOut := runMain(t, []string{"-check-config", good}, nil, nil)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "config "+good+" ok\n", out)
	require.Empty(t, errOut)

	// -config naming the same file is allowed alongside.
	code, out, errOut = runMain(t, []string{"-config", good, "-check-config", good}, nil, nil)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "config "+good+" ok\n", out)
}

// A bad file, or a bad SLUICE_* override of a good one, exits 2 with one
// line on stderr naming the key and what is wrong, and nothing on stdout.
func TestCheckConfigErrors(t *testing.T) {
	good := writeFile(t, "good.yaml", "hub:\n  max_lag: 3s\n")
	badJWKS := writeFile(t, "bad.jwks", `{"keys": 5}`)
	for _, tc := range []struct {
		name    string
		file    string
		environ []string
		want    string
	}{
		{"invalid duration", "hub:\n  max_lag: fast\n", nil,
			`line 2: hub.max_lag: invalid duration "fast" (want a number with a unit, e.g. 250ms, 5s, 1m)`},
		{"unknown source scheme", "paths:\n  \"cams/door\":\n    source: ftp://192.0.2.20/door\n", nil,
			`paths."cams/door".source: scheme "ftp" is not one of rtmp, rtmps, http, https, srt, rtsp, rtsps`},
		{"unknown key", "hls:\n  segment_duratoin: 2s\n", nil, `unknown key "hls.segment_duratoin"`},
		{"invalid value", "hls:\n  window: 1\n", nil, "hls.window: must be in 3..100, got 1"},
		{"environment applies", "", []string{"SLUICE_HLS_VARIANT=dash"}, "hls.variant: must be one of"},
		{"missing certificate", "https:\n  cert: /nonexistent/cert.pem\n  key: /nonexistent/key.pem\n", nil,
			"https.cert, https.key: load certificate /nonexistent/cert.pem / key /nonexistent/key.pem: open /nonexistent/cert.pem: no such file or directory"},
		{"unusable JWK Set", "paths:\n  \"live/*\":\n    jwt:\n      jwks_file: " + badJWKS + "\n", nil,
			`paths."live/*".jwt.jwks_file ` + badJWKS + `: not a usable JWK Set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := good
			if tc.file != "" {
				file = writeFile(t, "c.yaml", tc.file)
			}
			code, out, errOut := runMain(t, []string{"-check-config", file}, tc.environ, nil)
			require.Equal(t, 2, code, "stderr: %s", errOut)
			require.Empty(t, out)
			require.True(t, strings.HasPrefix(errOut, "sluice: config: "), errOut)
			require.Contains(t, errOut, tc.want)
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}

	code, out, errOut := runMain(t, []string{"-check-config", filepath.Join(t.TempDir(), "none.yaml")}, nil, nil)
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "sluice: config: open ")

	code, _, errOut = runMain(t, []string{"-config", good, "-check-config", good + ".other"}, nil, nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "name different files")
}

// The real binary: exit status and output of the process itself.
func TestCheckConfigProcess(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "paths:\n  \"cams/door\":\n    source: ftp://192.0.2.20/door\n")
	cmd := exec.Command(os.Args[0], "-check-config", bad)
	cmd.Env = append(filterEnv(os.Environ()), childEnv+"=real")
	out, err := cmd.CombinedOutput()
	require.Equal(t, 2, exitCode(t, err), "%s", out)
	require.Equal(t, `sluice: config: paths."cams/door".source: scheme "ftp" is not one of rtmp, rtmps, http, https, srt, rtsp, rtsps`+"\n", string(out))
}
