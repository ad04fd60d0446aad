package config

import (
	"errors"
	"go.yaml.in/yaml/v3"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestDefaultsLoadAndValidate(t *testing.T) {
	c, err := Load("", nil)
	require.NoError(t, err)
	require.NoError(t, c.Validate())

	require.Equal(t, "info", c.Log.Level)
	require.Equal(t, "text", c.Log.Format)
	require.Equal(t, RTMPConfig{
		Listen:           ":1935",
		ChunkSize:        4096,
		HandshakeTimeout: D(10 * time.Second),
		IdleTimeout:      D(30 * time.Second),
		MaxMessageSize:   8 << 20,
		MaxChunkSize:     16 << 20,
		MaxChunkStreams:  64,
		MaxConnections:   4096,

		MaxUnfinishedBytes: 16 << 20,
		UnfinishedBudget:   256 << 20,
		MessageTimeout:     D(30 * time.Second),
	}, c.RTMP)
	require.Equal(t, RTMPSConfig{Listen: ":1936"}, c.RTMPS)
	require.False(t, c.RTMPS.Enabled())
	require.Equal(t, HTTPConfig{
		Listen:              ":8080",
		ReadHeaderTimeout:   D(10 * time.Second),
		IdleTimeout:         D(60 * time.Second),
		WriteTimeout:        D(10 * time.Second),
		MaxConnections:      16384,
		MaxConnectionsPerIP: 256,
		ShutdownDrain:       D(2500 * time.Millisecond),
		AllowedOrigins:      []string{"*"},
	}, c.HTTP)
	require.Equal(t, HTTPSConfig{Listen: ":8443"}, c.HTTPS)
	require.False(t, c.HTTPS.Enabled())
	require.Equal(t, ":8189", c.WebRTC.Listen)
	require.Equal(t, HLSLowLatency, c.HLS.Variant)
	require.Zero(t, c.HLS.DVRWindow.Duration)
	require.Equal(t, 512<<20, c.HLS.DVRMaxBytes)
	require.Equal(t, HubConfig{
		MaxLag:         D(5 * time.Second),
		MaxGOPDuration: D(5 * time.Second),
		RepublishGrace: D(10 * time.Second),
		MaxBufferBytes: 64 << 20,
		MaxSkips:       3,
		WaitTimeout:    D(5 * time.Second),
	}, c.Hub)
	require.Empty(t, c.Paths)
}

// Every leaf key in the embedded defaults carries a comment, and every
// key of Config appears in the defaults.
func TestDefaultsYAMLDocumentsEveryKey(t *testing.T) {
	lines := strings.Split(string(DefaultsYAML()), "\n")
	for _, v := range EnvVars() {
		parts := strings.Split(v.Key, ".")
		leaf := parts[len(parts)-1] + ":"
		section := parts[0] + ":"
		inSection := false
		found := false
		for i, l := range lines {
			if strings.HasPrefix(l, section) {
				inSection = true
				continue
			}
			if inSection && strings.TrimSpace(l) == "" {
				continue
			}
			if inSection && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "#") {
				break
			}
			if inSection && strings.HasPrefix(strings.TrimSpace(l), leaf) {
				found = true
				require.Greater(t, i, 0)
				require.True(t, strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#"),
					"key %s has no comment above it in defaults.yaml", v.Key)
			}
		}
		require.True(t, found, "key %s missing from defaults.yaml", v.Key)
	}
}

func TestFileOverlay(t *testing.T) {
	p := writeFile(t, `
rtmp:
  listen: "127.0.0.1:19350"
  chunk_size: 60000
hub:
  max_lag: 250ms
hls:
  variant: mpegts
paths:
  "live/*":
    publish_keys: ["s3cret"]
    hls: { always_on: true }
    transcode:
      passthrough: true
      ladder:
        - { name: 480p, width: 854, height: 480, video_bitrate: 1200k, audio_bitrate: 96k, max_fps: 30, preset: veryfast }
        - { name: 360p, width: 640, height: 360, video_bitrate: 700k }
`)
	c, err := Load(p, nil)
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:19350", c.RTMP.Listen)
	require.Equal(t, 60000, c.RTMP.ChunkSize)
	require.Equal(t, 250*time.Millisecond, c.Hub.MaxLag.Duration)
	require.Equal(t, HLSMPEGTS, c.HLS.Variant)
	// Keys the file leaves out keep their defaults, also within a section.
	require.Equal(t, 10*time.Second, c.RTMP.HandshakeTimeout.Duration)
	require.Equal(t, 10*time.Second, c.Hub.RepublishGrace.Duration)
	require.Equal(t, ":8080", c.HTTP.Listen)

	pc := c.Paths["live/*"]
	require.Equal(t, []string{"s3cret"}, pc.PublishKeys)
	require.True(t, pc.HLS.AlwaysOn)
	require.True(t, pc.Transcode.Passthrough)
	require.Equal(t, []Rendition{
		{Name: "480p", Width: 854, Height: 480, VideoBitrate: "1200k", AudioBitrate: "96k", MaxFPS: 30, Preset: "veryfast"},
		{Name: "360p", Width: 640, Height: 360, VideoBitrate: "700k"},
	}, pc.Transcode.Ladder)
}

func TestFileEmptyAndNullSections(t *testing.T) {
	for _, body := range []string{"", "# only a comment\n", "rtmp:\nhub:\n"} {
		c, err := Load(writeFile(t, body), nil)
		require.NoError(t, err, "body %q", body)
		require.NoError(t, c.Validate())
		require.Equal(t, ":1935", c.RTMP.Listen)
		require.Equal(t, 5*time.Second, c.Hub.MaxLag.Duration)
	}
}

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"unknown top key", "rtmpp:\n  listen: :1\n", []string{`line 1: unknown key "rtmpp"`}},
		{"unknown nested key", "rtmp:\n  chunk_sise: 4096\n", []string{`line 2: unknown key "rtmp.chunk_sise"`}},
		{"unknown path key", "paths:\n  \"live/*\":\n    hls: { always: true }\n",
			[]string{`unknown key "paths.\"live/*\".hls.always"`}},
		{"unknown rung key", "paths:\n  a/b:\n    transcode:\n      ladder:\n        - { name: x, bitrate: 1k }\n",
			[]string{`unknown key "paths.\"a/b\".transcode.ladder[0].bitrate"`}},
		{"bad duration", "hub:\n  max_lag: forever\n", []string{"line 2: hub.max_lag:", `invalid duration "forever"`}},
		{"duration without unit", "hub:\n  max_lag: 5\n", []string{"hub.max_lag:", `invalid duration "5"`}},
		{"bad int", "rtmp:\n  chunk_size: abc\n", []string{`line 2: rtmp.chunk_size: want an integer, got "abc"`}},
		{"float for int", "rtmp:\n  chunk_size: 1.5\n", []string{`rtmp.chunk_size: want an integer, got "1.5"`}},
		{"int overflow", "rtmp:\n  chunk_size: 99999999999999999999999\n", []string{"rtmp.chunk_size:"}},
		{"list for string", "log:\n  level: [a]\n", []string{"line 2: log.level:"}},
		{"scalar for list", "paths:\n  a/b:\n    publish_keys: k\n", []string{`paths."a/b".publish_keys: want a list`}},
		{"top level list", "- a\n", []string{"top level: want a mapping"}},
		{"section not a mapping", "rtmp: 5\n", []string{"rtmp: want a mapping"}},
		{"syntax", "rtmp: [\n", []string{"sluice.yaml"}},
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n", []string{"one YAML document"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tc.body), nil)
			require.Error(t, err)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "config: "), msg)
			require.NotContains(t, msg, "\n")
			for _, w := range tc.want {
				require.Contains(t, msg, w)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, err.Error(), "nope.yaml")
}

func TestEnvOverride(t *testing.T) {
	p := writeFile(t, "rtmp:\n  listen: \":1111\"\n  chunk_size: 8192\n")
	c, err := Load(p, []string{
		"PATH=/usr/bin", // not ours: ignored
		"SLUICE_RTMP_LISTEN=:19350",
		"SLUICE_HTTP_LISTEN=127.0.0.1:18080",
		"SLUICE_HLS_VARIANT=fmp4",
		"SLUICE_HUB_MAX_LAG=2s",
		"SLUICE_RTMP_MAX_MESSAGE_SIZE=1048576",
		"SLUICE_HUB_REPUBLISH_GRACE=1m30s",
		"SLUICE_RTMPS_CERT=/tmp/c=d.pem", // "=" inside a value
		"SLUICE_RTMPS_KEY=/tmp/k.pem",
		"SLUICE_LOG_LEVEL=debug",
	})
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, ":19350", c.RTMP.Listen) // env beats file
	require.Equal(t, 8192, c.RTMP.ChunkSize)  // file beats default
	require.Equal(t, 30*time.Second, c.RTMP.IdleTimeout.Duration)
	require.Equal(t, "127.0.0.1:18080", c.HTTP.Listen)
	require.Equal(t, HLSFMP4, c.HLS.Variant)
	require.Equal(t, 2*time.Second, c.Hub.MaxLag.Duration)
	require.Equal(t, 1<<20, c.RTMP.MaxMessageSize)
	require.Equal(t, 90*time.Second, c.Hub.RepublishGrace.Duration)
	require.Equal(t, "/tmp/c=d.pem", c.RTMPS.Cert)
	require.True(t, c.RTMPS.Enabled())
	require.Equal(t, "debug", c.Log.Level)
}

func TestEnvVarNames(t *testing.T) {
	vars := EnvVars()
	names := map[string]string{}
	for _, v := range vars {
		_, dup := names[v.Name]
		require.False(t, dup, "duplicate env name %s", v.Name)
		names[v.Name] = v.Key
		require.NotContains(t, v.Name, "PATHS")
	}
	require.Equal(t, "rtmp.max_message_size", names["SLUICE_RTMP_MAX_MESSAGE_SIZE"])
	require.Equal(t, "rtmp.max_chunk_streams", names["SLUICE_RTMP_MAX_CHUNK_STREAMS"])
	require.Equal(t, "hub.max_lag", names["SLUICE_HUB_MAX_LAG"])
	require.Equal(t, "webrtc.listen", names["SLUICE_WEBRTC_LISTEN"])
	require.Equal(t, "https.key", names["SLUICE_HTTPS_KEY"])
	require.Equal(t, "api.key", names["SLUICE_API_KEY"])
	// Every scalar key of the embedded defaults has its variable, and every
	// variable names a key there.
	var tree map[string]any
	require.NoError(t, yaml.Unmarshal(DefaultsYAML(), &tree))
	scalars := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch v.(type) {
			case map[string]any:
				walk(prefix+k+".", v.(map[string]any))
			case []any:
			default:
				scalars[prefix+k] = true
			}
		}
	}
	delete(tree, "paths")
	walk("", tree)
	keys := map[string]bool{}
	for _, v := range vars {
		keys[v.Key] = true
	}
	for k := range scalars {
		require.True(t, keys[k], "default key %s has no SLUICE_ variable", k)
	}
}

func TestEnvBadValue(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"SLUICE_RTMP_CHUNK_SIZE=abc", `SLUICE_RTMP_CHUNK_SIZE (rtmp.chunk_size): want an integer, got "abc"`},
		{"SLUICE_HUB_MAX_LAG=forever", `SLUICE_HUB_MAX_LAG (hub.max_lag): invalid duration "forever"`},
		{"SLUICE_HUB_MAX_LAG=5", `SLUICE_HUB_MAX_LAG (hub.max_lag): invalid duration "5"`},
		{"SLUICE_RTMP_MAX_CONNECTIONS=99999999999999999999", "SLUICE_RTMP_MAX_CONNECTIONS (rtmp.max_connections)"},
	} {
		_, err := Load("", []string{tc.env})
		require.Error(t, err, tc.env)
		require.Equal(t, "config: "+tc.want, err.Error()[:len("config: ")+len(tc.want)])
	}
}

func TestEnvUnknownVariable(t *testing.T) {
	_, err := Load("", []string{"SLUICE_RTMP_LISTN=:1"})
	require.ErrorContains(t, err, "SLUICE_RTMP_LISTN: unknown environment variable")
	require.ErrorContains(t, err, "did you mean SLUICE_RTMP_LISTEN?")

	_, err = Load("", []string{"SLUICE_PATHS_LIVE=x"})
	require.ErrorContains(t, err, "SLUICE_PATHS_LIVE: paths cannot be set from the environment")

	// A section is not a key.
	_, err = Load("", []string{"SLUICE_RTMP=x"})
	require.ErrorContains(t, err, "SLUICE_RTMP: unknown environment variable")

	// All problems are reported at once, on one line.
	_, err = Load("", []string{"SLUICE_NOPE=1", "SLUICE_HUB_MAX_SKIPS=x"})
	require.ErrorContains(t, err, "SLUICE_NOPE")
	require.ErrorContains(t, err, "SLUICE_HUB_MAX_SKIPS (hub.max_skips)")
	require.NotContains(t, err.Error(), "\n")
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(c *Config)
		want string
	}{
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, `log.level: must be one of debug, info, warn, error, got "verbose"`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format:"},
		{"listen no port", func(c *Config) { c.RTMP.Listen = "localhost" }, `rtmp.listen: want host:port or :port, got "localhost"`},
		{"listen bad port", func(c *Config) { c.HTTP.Listen = ":http" }, "http.listen: port must be a number"},
		{"listen port range", func(c *Config) { c.WebRTC.Listen = ":70000" }, "webrtc.listen: port must be a number in 0..65535"},
		{"https listen", func(c *Config) { c.HTTPS.Listen = "" }, "https.listen:"},
		{"rtmps listen", func(c *Config) { c.RTMPS.Listen = "::1" }, "rtmps.listen:"},
		{"chunk too small", func(c *Config) { c.RTMP.ChunkSize = 127 }, "rtmp.chunk_size: must be in 128..16777215, got 127"},
		{"chunk too big", func(c *Config) { c.RTMP.ChunkSize = 1 << 24 }, "rtmp.chunk_size: must be in 128..16777215"},
		{"zero timeout", func(c *Config) { c.RTMP.HandshakeTimeout = D(0) }, "rtmp.handshake_timeout: must be a positive duration"},
		{"negative lag", func(c *Config) { c.Hub.MaxLag = D(-time.Second) }, "hub.max_lag: must be a positive duration such as 5s, got -1s"},
		{"grace", func(c *Config) { c.Hub.RepublishGrace = D(0) }, "hub.republish_grace:"},
		{"gop", func(c *Config) { c.Hub.MaxGOPDuration = D(0) }, "hub.max_gop_duration:"},
		{"wait", func(c *Config) { c.Hub.WaitTimeout = D(0) }, "hub.wait_timeout:"},
		{"idle", func(c *Config) { c.RTMP.IdleTimeout = D(0) }, "rtmp.idle_timeout:"},
		{"message size", func(c *Config) { c.RTMP.MaxMessageSize = 0 }, "rtmp.max_message_size:"},
		{"max chunk size", func(c *Config) { c.RTMP.MaxChunkSize = -1 }, "rtmp.max_chunk_size:"},
		{"chunk streams", func(c *Config) { c.RTMP.MaxChunkStreams = 0 }, "rtmp.max_chunk_streams:"},
		{"unfinished below message size", func(c *Config) { c.RTMP.MaxUnfinishedBytes = c.RTMP.MaxMessageSize - 1 }, "rtmp.max_unfinished_bytes:"},
		{"budget below unfinished", func(c *Config) { c.RTMP.UnfinishedBudget = c.RTMP.MaxUnfinishedBytes - 1 }, "rtmp.unfinished_budget:"},
		{"message timeout", func(c *Config) { c.RTMP.MessageTimeout = D(0) }, "rtmp.message_timeout:"},
		{"connections", func(c *Config) { c.RTMP.MaxConnections = 0 }, "rtmp.max_connections:"},
		{"buffer", func(c *Config) { c.Hub.MaxBufferBytes = 0 }, "hub.max_buffer_bytes:"},
		{"skips", func(c *Config) { c.Hub.MaxSkips = 0 }, "hub.max_skips:"},
		{"dvr window", func(c *Config) { c.HLS.DVRWindow = D(-time.Second) }, "hls.dvr_window: want 0s (off)..24h, got -1s"},
		{"dvr window long", func(c *Config) { c.HLS.DVRWindow = D(25 * time.Hour) }, "hls.dvr_window:"},
		{"dvr bytes", func(c *Config) { c.HLS.DVRMaxBytes = 1000 }, "hls.dvr_max_bytes:"},
		{"variant", func(c *Config) { c.HLS.Variant = "ts" }, `hls.variant: must be one of lowlatency, fmp4, mpegts, got "ts"`},
		{"empty user agent", func(c *Config) { c.HLS.MPEGTSUserAgents = []string{"LibVLC", ""} }, `hls.mpegts_user_agents[1]: want 1..256 printable ASCII characters, got ""`},
		{"user agent control", func(c *Config) { c.HLS.MPEGTSUserAgents = []string{"a\nb"} }, `hls.mpegts_user_agents[0]:`},
		{"user agents", func(c *Config) { c.HLS.MPEGTSUserAgents = make([]string, 17) }, `hls.mpegts_user_agents: want at most 16 entries, got 17`},
		{"ice url", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{URLs: []string{"http://x"}}} }, `webrtc.ice_servers[0].urls[0]: want a stun:, stuns:, turn: or turns: URL, got "http://x"`},
		{"turn creds", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{URLs: []string{"turn:x:3478"}}} }, `webrtc.ice_servers[0]: a TURN server needs username and credential`},
		{"ice no urls", func(c *Config) { c.WebRTC.ICEServers = []ICEServer{{}} }, `webrtc.ice_servers[0].urls: want at least one`},
		{"per ip", func(c *Config) { c.WebRTC.MaxSessionsPerIP = 0 }, "webrtc.max_sessions_per_ip:"},
		{"http idle", func(c *Config) { c.HTTP.IdleTimeout = D(0) }, "http.idle_timeout: must be a positive duration"},
		{"http header", func(c *Config) { c.HTTP.ReadHeaderTimeout = D(-time.Second) }, "http.read_header_timeout:"},
		{"http write", func(c *Config) { c.HTTP.WriteTimeout = D(0) }, "http.write_timeout:"},
		{"http conns", func(c *Config) { c.HTTP.MaxConnections = 0 }, "http.max_connections: must be in 1..2147483647, got 0"},
		{"http per ip", func(c *Config) { c.HTTP.MaxConnectionsPerIP = -1 }, "http.max_connections_per_ip: must be in 0..2147483647, got -1"},
		{"http drain", func(c *Config) { c.HTTP.ShutdownDrain = D(4 * time.Second) }, "http.shutdown_drain: want 0s..3s"},
		{"rtmps cert only", func(c *Config) { c.RTMPS.Cert = "c.pem" }, "rtmps.key: must be set when rtmps.cert is set"},
		{"https key only", func(c *Config) { c.HTTPS.Key = "k.pem" }, "https.cert: must be set when https.key is set"},
		{"bad pattern", func(c *Config) { c.Paths = map[string]PathConfig{"live/[": {}} }, `paths."live/[": invalid glob pattern`},
		{"empty pattern", func(c *Config) { c.Paths = map[string]PathConfig{"": {}} }, `paths."": empty pattern`},
		{"empty key", func(c *Config) { c.Paths = map[string]PathConfig{"a/b": {PlayKeys: []string{""}}} }, `paths."a/b".play_keys[0]: must not be empty`},
		{"rung name", func(c *Config) { c.Paths = ladder(Rendition{Name: "a b", Height: 480, VideoBitrate: "1M"}) }, `paths."live/*".transcode.ladder[0].name:`},
		{"rung height", func(c *Config) { c.Paths = ladder(Rendition{Name: "x", Height: 0, VideoBitrate: "1M"}) }, `ladder[0].height:`},
		{"rung odd width", func(c *Config) { c.Paths = ladder(Rendition{Name: "x", Width: 853, Height: 480, VideoBitrate: "1M"}) }, `ladder[0].width:`},
		{"rung bitrate", func(c *Config) { c.Paths = ladder(Rendition{Name: "x", Height: 480, VideoBitrate: "fast"}) }, `ladder[0].video_bitrate: want a bitrate such as 1200k or 2.5M, got "fast"`},
		{"rung no bitrate", func(c *Config) { c.Paths = ladder(Rendition{Name: "x", Height: 480}) }, `ladder[0].video_bitrate:`},
		{"rung audio", func(c *Config) {
			c.Paths = ladder(Rendition{Name: "x", Height: 480, VideoBitrate: "1M", AudioBitrate: "-3k"})
		}, `ladder[0].audio_bitrate:`},
		{"rung fps", func(c *Config) { c.Paths = ladder(Rendition{Name: "x", Height: 480, VideoBitrate: "1M", MaxFPS: -1}) }, `ladder[0].max_fps:`},
		{"rung dup", func(c *Config) {
			c.Paths = ladder(Rendition{Name: "x", Height: 480, VideoBitrate: "1M"}, Rendition{Name: "x", Height: 360, VideoBitrate: "1M"})
		}, `ladder[1].name: duplicate rendition name "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Defaults()
			require.NoError(t, err)
			tc.mod(c)
			err = c.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "config: "), err.Error())
		})
	}
}

func ladder(rs ...Rendition) map[string]PathConfig {
	return map[string]PathConfig{"live/*": {Transcode: TranscodeConfig{Ladder: rs}}}
}

func TestValidateReportsAllErrors(t *testing.T) {
	c, err := Defaults()
	require.NoError(t, err)
	c.Log.Level = "loud"
	c.RTMP.ChunkSize = 1
	err = c.Validate()
	require.ErrorContains(t, err, "log.level")
	require.ErrorContains(t, err, "rtmp.chunk_size")
	var j interface{ Unwrap() []error }
	require.True(t, errors.As(err, &j))
	require.Len(t, j.Unwrap(), 2)
}

func TestYAMLRoundTrip(t *testing.T) {
	c, err := Load(writeFile(t, `
hub: { max_lag: 1500ms }
paths:
  "live/*":
    publish_keys: [k]
    transcode: { ladder: [ { name: 480p, height: 480, video_bitrate: 1200k } ] }
`), nil)
	require.NoError(t, err)
	b, err := c.YAML()
	require.NoError(t, err)
	require.Contains(t, string(b), "max_lag: 1.5s")
	require.Contains(t, string(b), "handshake_timeout: 10s")

	c2, err := Load(writeFile(t, string(b)), nil)
	require.NoError(t, err)
	require.Equal(t, c, c2)
}

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]int64{"1200k": 1_200_000, "96K": 96_000, "2.5M": 2_500_000, "800000": 800_000} {
		got, err := ParseBitrate(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "k", "1.2.3k", "-1k", "0", "1G", "1m", " 1k", "1e6"} {
		_, err := ParseBitrate(in)
		require.Error(t, err, in)
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	require.NoError(t, d.UnmarshalText([]byte("250ms")))
	require.Equal(t, 250*time.Millisecond, d.Duration)
	b, err := d.MarshalText()
	require.NoError(t, err)
	require.Equal(t, "250ms", string(b))
	require.Error(t, d.UnmarshalText([]byte("soon")))
}

func TestPathSettingsSpecificity(t *testing.T) {
	keys := func(k string) PathConfig { return PathConfig{PublishKeys: []string{k}} }
	c := &Config{Paths: map[string]PathConfig{
		"*":          keys("star"),
		"*/*":        keys("star-star"),
		"live/*":     keys("live"),
		"live/cam*":  keys("live-cam"),
		"live/cam?":  keys("live-cam-q"),
		"live/cam1":  keys("exact"),
		"live/[ab]*": keys("class"),
		"vod/x":      keys("vod-x"),
	}}
	for path, want := range map[string]string{
		"live/cam1":   "exact",      // exact beats every glob
		"live/cam2":   "live-cam-q", // same literals as live/cam*, fewer stars
		"live/cam22":  "live-cam",   // more literals than live/*
		"live/other":  "live",       // live/* beats */*
		"live/abc":    "class",      // a class is no literal, but "live/" is
		"vod/y":       "star-star",  // */* beats *
		"single":      "star",       // only the catch-all matches
		"a/b/c":       "star",       // "*" alone matches every path
		"vod/x":       "vod-x",
		"live/cam1_x": "live-cam",
	} {
		got := c.PathSettings(path).PublishKeys
		require.Equal(t, []string{want}, got, "path %s", path)
	}

	require.Equal(t, PathConfig{}, (&Config{}).PathSettings("live/cam1"))
	require.Equal(t, PathConfig{}, (&Config{Paths: map[string]PathConfig{"live/[": keys("bad")}}).PathSettings("live/["))
	require.Equal(t, PathConfig{}, (&Config{Paths: map[string]PathConfig{"live/*": keys("x")}}).PathSettings("other/cam"))
}

func TestPathSettingsTieIsDeterministic(t *testing.T) {
	c := &Config{Paths: map[string]PathConfig{
		"live/?x": {PlayKeys: []string{"a"}},
		"live/x?": {PlayKeys: []string{"b"}},
	}}
	for range 20 {
		require.Equal(t, []string{"a"}, c.PathSettings("live/xx").PlayKeys)
	}
}

func TestAllowedOrigins(t *testing.T) {
	c, err := Defaults()
	require.NoError(t, err)
	require.Equal(t, []string{"*"}, c.HTTP.AllowedOrigins, "default: every origin, as before the key")
	c.HTTP.AllowedOrigins = []string{"https://a.example", "http://localhost:3000", "*"}
	require.NoError(t, c.Validate())
	for _, bad := range []string{"a.example", "https://a.example/", "https://a.example/x", "https://a.example?q", "https://u@a.example", ""} {
		c.HTTP.AllowedOrigins = []string{"*", bad}
		err := c.Validate()
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "http.allowed_origins[1]", bad)
	}
}
