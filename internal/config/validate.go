package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// RTMP protocol bounds (RTMP 1.0 spec).
const (
	// MinChunkSize is the smallest chunk size (§5.4.1 default).
	MinChunkSize = 128
	// MaxChunkSizeLimit is the largest chunk size any message can need: a
	// message length is a 24-bit field (§5.3.1.2.1).
	MaxChunkSizeLimit = 1<<24 - 1
	// maxSetChunkSize is the largest value Set Chunk Size can carry (31
	// bits, §5.4.1).
	maxSetChunkSize = 1<<31 - 1
)

// Validate checks every value of c and reports every problem in one error,
// each naming its key, e.g.
// "config: rtmp.chunk_size: must be in 128..16777215, got 64".
func (c *Config) Validate() error {
	var v validator

	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")

	v.listen("rtmp.listen", c.RTMP.Listen)
	v.between("rtmp.chunk_size", c.RTMP.ChunkSize, MinChunkSize, MaxChunkSizeLimit)
	v.positiveDuration("rtmp.handshake_timeout", c.RTMP.HandshakeTimeout)
	v.positiveDuration("rtmp.idle_timeout", c.RTMP.IdleTimeout)
	v.between("rtmp.max_message_size", c.RTMP.MaxMessageSize, 1, MaxChunkSizeLimit)
	v.between("rtmp.max_chunk_size", c.RTMP.MaxChunkSize, MinChunkSize, maxSetChunkSize)
	v.between("rtmp.max_chunk_streams", c.RTMP.MaxChunkStreams, 1, 65599)
	v.between("rtmp.max_connections", c.RTMP.MaxConnections, 1, math.MaxInt32)

	v.listen("rtmps.listen", c.RTMPS.Listen)
	v.certPair("rtmps", c.RTMPS.Cert, c.RTMPS.Key)
	v.listen("http.listen", c.HTTP.Listen)
	v.listen("https.listen", c.HTTPS.Listen)
	v.certPair("https", c.HTTPS.Cert, c.HTTPS.Key)
	v.listen("webrtc.listen", c.WebRTC.Listen)
	if c.Debug.PprofListen != "" {
		v.listen("debug.pprof_listen", c.Debug.PprofListen)
	}

	v.oneOf("hls.variant", c.HLS.Variant, HLSLowLatency, HLSFMP4, HLSMPEGTS)

	v.positiveDuration("hub.max_lag", c.Hub.MaxLag)
	v.positiveDuration("hub.republish_grace", c.Hub.RepublishGrace)
	v.between("hub.max_buffer_bytes", c.Hub.MaxBufferBytes, 1, math.MaxInt)
	v.between("hub.max_skips", c.Hub.MaxSkips, 1, math.MaxInt32)
	v.positiveDuration("hub.wait_timeout", c.Hub.WaitTimeout)

	v.apiKey("api.key", c.API.Key)

	patterns := make([]string, 0, len(c.Paths))
	for p := range c.Paths {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, p := range patterns {
		v.pathConfig(p, c.Paths[p])
	}
	return joinErrors(v.errs)
}

type validator struct{ errs []error }

func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.fail(key, "must be one of %s, got %q", strings.Join(allowed, ", "), truncate(val))
}

func (v *validator) between(key string, val, lo, hi int) {
	if val < lo || val > hi {
		v.fail(key, "must be in %d..%d, got %d", lo, hi, val)
	}
}

func (v *validator) positiveDuration(key string, d Duration) {
	if d.Duration <= 0 {
		v.fail(key, "must be a positive duration such as 5s, got %s", d)
	}
}

func (v *validator) listen(key, addr string) {
	if err := checkListen(addr); err != nil {
		v.fail(key, "%v", err)
	}
}

// checkListen accepts "host:port" and ":port" with a numeric port 0..65535.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port or :port, got %q", truncate(addr))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number in 0..65535, got %q", truncate(port))
	}
	return nil
}

func (v *validator) certPair(section, cert, key string) {
	switch {
	case cert != "" && key == "":
		v.fail(section+".key", "must be set when %s.cert is set", section)
	case cert == "" && key != "":
		v.fail(section+".cert", "must be set when %s.key is set", section)
	}
}

// apiKey accepts "" (no key) or 16..256 printable ASCII characters without
// spaces, so the key fits an HTTP header unchanged and is not trivially
// guessable.
func (v *validator) apiKey(key, val string) {
	if val == "" {
		return
	}
	if len(val) < 16 || len(val) > 256 {
		v.fail(key, "must be empty (loopback-only API) or 16..256 characters, got %d characters", len(val))
		return
	}
	for i := 0; i < len(val); i++ {
		if c := val[i]; c <= ' ' || c > '~' {
			v.fail(key, "must be printable ASCII without spaces (it is sent in an HTTP header)")
			return
		}
	}
}

// renditionNameRE is the rung name syntax: it becomes part of a stream
// path segment (APP/NAME_RUNG).
var renditionNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func (v *validator) pathConfig(pattern string, pc PathConfig) {
	prefix := fmt.Sprintf("paths.%q", truncate(pattern))
	if err := checkPattern(pattern); err != nil {
		v.fail(prefix, "%v", err)
	}
	for i, k := range pc.PublishKeys {
		if k == "" {
			v.fail(fmt.Sprintf("%s.publish_keys[%d]", prefix, i), "must not be empty")
		}
	}
	for i, k := range pc.PlayKeys {
		if k == "" {
			v.fail(fmt.Sprintf("%s.play_keys[%d]", prefix, i), "must not be empty")
		}
	}
	seen := map[string]bool{}
	for i, r := range pc.Transcode.Ladder {
		key := fmt.Sprintf("%s.transcode.ladder[%d]", prefix, i)
		switch {
		case !renditionNameRE.MatchString(r.Name):
			v.fail(key+".name", "must be 1..64 characters of [A-Za-z0-9_.-], got %q", truncate(r.Name))
		case seen[r.Name]:
			v.fail(key+".name", "duplicate rendition name %q", r.Name)
		}
		seen[r.Name] = true
		if r.Width < 0 || r.Width%2 != 0 || r.Width > 16384 {
			v.fail(key+".width", "must be 0 (keep aspect ratio) or an even number of pixels up to 16384, got %d", r.Width)
		}
		if r.Height <= 0 || r.Height%2 != 0 || r.Height > 16384 {
			v.fail(key+".height", "must be an even number of pixels in 2..16384, got %d", r.Height)
		}
		if _, err := ParseBitrate(r.VideoBitrate); err != nil {
			v.fail(key+".video_bitrate", "%v", err)
		}
		if r.AudioBitrate != "" {
			if _, err := ParseBitrate(r.AudioBitrate); err != nil {
				v.fail(key+".audio_bitrate", "%v", err)
			}
		}
		if r.MaxFPS < 0 || r.MaxFPS > 1000 {
			v.fail(key+".max_fps", "must be in 0..1000 (0 keeps the source rate), got %d", r.MaxFPS)
		}
		if strings.ContainsAny(r.Preset, " \t\r\n") || len(r.Preset) > 64 {
			v.fail(key+".preset", "must be an encoder preset name such as veryfast, got %q", truncate(r.Preset))
		}
	}
}

// checkPattern reports whether p is a usable path pattern.
func checkPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("invalid glob pattern (path.Match syntax): %w", err)
	}
	return nil
}

// bitrateRE is "<number>[k|K|M]".
var bitrateRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kKM]?)$`)

// ParseBitrate parses a bitrate such as "1200k", "2.5M" or "96000" into
// bits per second. k (or K) is 1000, M is 1000000. The result is in
// 1..100000000000 (100 Gbit/s).
func ParseBitrate(s string) (int64, error) {
	m := bitrateRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("want a bitrate such as 1200k or 2.5M, got %q", truncate(s))
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("want a bitrate such as 1200k or 2.5M, got %q", truncate(s))
	}
	switch m[2] {
	case "k", "K":
		f *= 1e3
	case "M":
		f *= 1e6
	}
	if f < 1 || f > 1e11 {
		return 0, fmt.Errorf("bitrate %q out of range 1..100G bit/s", truncate(s))
	}
	return int64(math.Round(f)), nil
}
