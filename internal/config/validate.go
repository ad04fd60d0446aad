package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
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

// MaxShutdownDrain is the longest http.shutdown_drain: what remains of the
// 5 s stop (docs/contract.md "Behaviour") is left for in-flight responses
// to finish.
const MaxShutdownDrain = 3 * time.Second

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
	v.between("rtmp.max_unfinished_bytes", c.RTMP.MaxUnfinishedBytes, c.RTMP.MaxMessageSize, math.MaxInt32)
	v.between("rtmp.unfinished_budget", c.RTMP.UnfinishedBudget, c.RTMP.MaxUnfinishedBytes, math.MaxInt)
	v.positiveDuration("rtmp.message_timeout", c.RTMP.MessageTimeout)

	v.srt(c.SRT)
	v.listen("rtmps.listen", c.RTMPS.Listen)
	v.certPair("rtmps", c.RTMPS.Cert, c.RTMPS.Key)
	v.listen("http.listen", c.HTTP.Listen)
	v.positiveDuration("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	v.positiveDuration("http.idle_timeout", c.HTTP.IdleTimeout)
	v.positiveDuration("http.write_timeout", c.HTTP.WriteTimeout)
	v.between("http.max_connections", c.HTTP.MaxConnections, 1, math.MaxInt32)
	v.between("http.max_connections_per_ip", c.HTTP.MaxConnectionsPerIP, 0, math.MaxInt32)
	if d := c.HTTP.ShutdownDrain.Duration; d < 0 || d > MaxShutdownDrain {
		v.fail("http.shutdown_drain", "want 0s..%s (the stop must end within 5 s), got %s", MaxShutdownDrain, d)
	}
	v.origins("http.allowed_origins", c.HTTP.AllowedOrigins)
	v.listen("https.listen", c.HTTPS.Listen)
	v.certPair("https", c.HTTPS.Cert, c.HTTPS.Key)
	v.listen("webrtc.listen", c.WebRTC.Listen)
	v.ips("webrtc.ips", c.WebRTC.IPs)
	v.iceServers("webrtc.ice_servers", c.WebRTC.ICEServers)
	v.between("webrtc.max_sessions", c.WebRTC.MaxSessions, 1, math.MaxInt32)
	v.between("webrtc.max_sessions_per_ip", c.WebRTC.MaxSessionsPerIP, 1, math.MaxInt32)
	v.positiveDuration("webrtc.session_timeout", c.WebRTC.SessionTimeout)
	if c.Debug.PprofListen != "" {
		v.listen("debug.pprof_listen", c.Debug.PprofListen)
	}

	v.oneOf("hls.variant", c.HLS.Variant, HLSLowLatency, HLSFMP4, HLSMPEGTS)
	if d := c.HLS.SegmentDuration.Duration; d < 500*time.Millisecond || d > 30*time.Second {
		v.fail("hls.segment_duration", "want 500ms..30s, got %s", d)
	}
	if d := c.HLS.PartDuration.Duration; d < 50*time.Millisecond || d > c.HLS.SegmentDuration.Duration/2 {
		v.fail("hls.part_duration", "want 50ms..segment_duration/2 (%s), got %s", c.HLS.SegmentDuration.Duration/2, d)
	}
	v.between("hls.window", c.HLS.Window, 3, 100)
	if d := c.HLS.DVRWindow.Duration; d < 0 || d > 24*time.Hour {
		v.fail("hls.dvr_window", "want 0s (off)..24h, got %s", d)
	}
	v.between("hls.dvr_max_bytes", c.HLS.DVRMaxBytes, 1<<20, math.MaxInt)
	v.userAgents("hls.mpegts_user_agents", c.HLS.MPEGTSUserAgents)

	v.positiveDuration("hub.max_lag", c.Hub.MaxLag)
	v.positiveDuration("hub.max_gop_duration", c.Hub.MaxGOPDuration)
	v.positiveDuration("hub.republish_grace", c.Hub.RepublishGrace)
	v.between("hub.max_buffer_bytes", c.Hub.MaxBufferBytes, 1, math.MaxInt)
	v.between("hub.max_skips", c.Hub.MaxSkips, 1, math.MaxInt32)
	v.positiveDuration("hub.wait_timeout", c.Hub.WaitTimeout)
	v.thumbnail(c.Thumbnail)
	v.validateCluster(c)

	v.apiKey("api.key", c.API.Key)
	v.hooks("hooks", c.Hooks)
	v.record(c.Record)

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

// origins checks a list of web origins: "*" or scheme://host[:port] with
// nothing after (the same rule internal/cors applies; config is a leaf).
func (v *validator) origins(key string, list []string) {
	for i, o := range list {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Opaque != "" || u.Path != "" ||
			u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(o, "?#") {
			v.fail(fmt.Sprintf("%s[%d]", key, i), "want \"*\" or an origin scheme://host[:port] (e.g. https://example.com), got %q", truncate(o))
		}
	}
}

// ips checks that every entry of a list of announced addresses is an IPv4
// or IPv6 address (no host names, no ports).
func (v *validator) ips(key string, ips []string) {
	for i, ip := range ips {
		if net.ParseIP(ip) == nil {
			v.fail(fmt.Sprintf("%s[%d]", key, i), "want an IPv4 or IPv6 address, got %q", truncate(ip))
		}
	}
}

// userAgents checks a list of User-Agent substrings: at most 16, each
// 1..256 printable ASCII characters (a header value's, RFC 9110 §5.5).
func (v *validator) userAgents(key string, list []string) {
	if len(list) > 16 {
		v.fail(key, "want at most 16 entries, got %d", len(list))
	}
	for i, ua := range list {
		ok := len(ua) >= 1 && len(ua) <= 256
		for j := 0; ok && j < len(ua); j++ {
			ok = ua[j] >= 0x20 && ua[j] < 0x7f
		}
		if !ok {
			v.fail(fmt.Sprintf("%s[%d]", key, i), "want 1..256 printable ASCII characters, got %q", truncate(ua))
		}
	}
}

func (v *validator) iceServers(key string, servers []ICEServer) {
	for i, s := range servers {
		k := fmt.Sprintf("%s[%d]", key, i)
		if len(s.URLs) == 0 {
			v.fail(k+".urls", "want at least one stun: or turn: URL")
		}
		for j, u := range s.URLs {
			scheme, rest, _ := strings.Cut(u, ":")
			switch scheme {
			case "stun", "stuns":
			case "turn", "turns":
				if s.Username == "" || s.Credential == "" {
					v.fail(k, "a TURN server needs username and credential")
				}
			default:
				v.fail(fmt.Sprintf("%s.urls[%d]", k, j), "want a stun:, stuns:, turn: or turns: URL, got %q", truncate(u))
				continue
			}
			if rest == "" {
				v.fail(fmt.Sprintf("%s.urls[%d]", k, j), "no host in %q", truncate(u))
			}
		}
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
	v.srtPassphrase(prefix, pc.SRTPassphrase)
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
	v.jwt(prefix+".jwt", pc.JWT)
	v.pathRelay(prefix, pattern, pc.PathRelayConfig)
	if pc.Hooks != nil {
		v.pathHooks(prefix+".hooks", pc.Hooks)
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

// hmacAlgorithms and publicKeyAlgorithms are the JWT "alg" values
// JWTConfig.Algorithms accepts (RFC 7518 §3.1, RFC 8037 §3.1).
var (
	hmacAlgorithms      = []string{"HS256", "HS384", "HS512"}
	publicKeyAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// minHMACSecret is the shortest HS256 secret: RFC 7518 §3.2 requires a key
// at least as long as the hash output (256 bits).
const minHMACSecret = 32

func (v *validator) jwt(prefix string, j JWTConfig) {
	if !j.Enabled() {
		if len(j.Algorithms) > 0 || len(j.Actions) > 0 || j.Claims != (JWTClaimsConfig{}) || j.Issuer != "" || j.Audience != "" {
			v.fail(prefix, "set secret, jwks_file or jwks_url, or remove the other jwt keys")
		}
		return
	}
	if j.Secret != "" && len(j.Secret) < minHMACSecret {
		v.fail(prefix+".secret", "must be at least %d bytes (RFC 7518 §3.2), got %d", minHMACSecret, len(j.Secret))
	}
	if j.JWKSURL != "" {
		v.httpURL(prefix+".jwks_url", j.JWKSURL)
	}
	for i, alg := range j.Algorithms {
		key := fmt.Sprintf("%s.algorithms[%d]", prefix, i)
		switch {
		case contains(hmacAlgorithms, alg):
			if j.Secret == "" {
				v.fail(key, "%s needs jwt.secret", alg)
			}
		case contains(publicKeyAlgorithms, alg):
			if j.JWKSFile == "" && j.JWKSURL == "" {
				v.fail(key, "%s needs jwt.jwks_file or jwt.jwks_url", alg)
			}
		default:
			v.fail(key, "unknown algorithm %q; want one of %s, %s", truncate(alg),
				strings.Join(hmacAlgorithms, ", "), strings.Join(publicKeyAlgorithms, ", "))
		}
	}
	for i, a := range j.Actions {
		if a != JWTActionPublish && a != JWTActionPlay {
			v.fail(fmt.Sprintf("%s.actions[%d]", prefix, i), "must be publish or play, got %q", truncate(a))
		}
	}
	for _, c := range []struct{ key, val string }{{"path", j.Claims.Path}, {"action", j.Claims.Action}} {
		if strings.ContainsAny(c.val, " \t\r\n") || len(c.val) > 64 {
			v.fail(prefix+".claims."+c.key, "must be a claim name such as %q, got %q", c.key, truncate(c.val))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hooks checks the global hooks section.
func (v *validator) hooks(prefix string, h HooksConfig) {
	v.hookURLs(prefix, h.OnPublish, h.OnUnpublish, h.OnPlay, h.OnStop)
	v.recordHook(prefix, h.OnRecordSegment)
	v.positiveDuration(prefix+".timeout", h.Timeout)
	if h.Cache.Duration < 0 {
		v.fail(prefix+".cache", "must be 0s (off) or a positive duration, got %s", h.Cache)
	}
}

// pathHooks checks a per-path hooks block, where zero values inherit.
func (v *validator) pathHooks(prefix string, h *PathHooksConfig) {
	v.hookURLs(prefix, h.OnPublish, h.OnUnpublish, h.OnPlay, h.OnStop)
	v.recordHook(prefix, h.OnRecordSegment)
	if h.Timeout.Duration < 0 {
		v.fail(prefix+".timeout", "must be a positive duration such as 2s, got %s", h.Timeout)
	}
	if h.Cache.Duration < 0 {
		v.fail(prefix+".cache", "must be a positive duration such as 5s, got %s", h.Cache)
	}
}

func (v *validator) hookURLs(prefix, onPublish, onUnpublish, onPlay, onStop string) {
	for _, u := range []struct{ key, val string }{
		{"on_publish", onPublish}, {"on_unpublish", onUnpublish}, {"on_play", onPlay}, {"on_stop", onStop},
	} {
		if u.val != "" {
			v.httpURL(prefix+"."+u.key, u.val)
		}
	}
}

// httpURL accepts an absolute http or https URL with a host.
func (v *validator) httpURL(key, val string) {
	u, err := url.Parse(val)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(key, "want an absolute http:// or https:// URL, got %q", truncate(val))
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
