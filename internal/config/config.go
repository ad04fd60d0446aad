// Package config is Sluice's typed configuration: embedded defaults
// (defaults.yaml), an optional YAML file overlaid strictly on them, then
// SLUICE_* environment variables overlaid key by key, and Validate.
//
// It is a leaf package: it imports only the standard library and YAML.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// defaultsYAML is the built-in configuration, documented key by key.
//
//go:embed defaults.yaml
var defaultsYAML []byte

// DefaultsYAML returns the embedded, commented default configuration.
func DefaultsYAML() []byte {
	return append([]byte(nil), defaultsYAML...)
}

// Config is Sluice's whole configuration. Every field's default lives in
// defaults.yaml; Load returns a Config with all of them filled in.
type Config struct {
	// Log configures logging to stderr.
	Log LogConfig `yaml:"log"`
	// RTMP configures the RTMP listener and protocol limits.
	RTMP RTMPConfig `yaml:"rtmp"`
	// RTMPS configures RTMP over TLS, enabled when Cert and Key are set.
	RTMPS RTMPSConfig `yaml:"rtmps"`
	// HTTP configures the plain HTTP listener.
	HTTP HTTPConfig `yaml:"http"`
	// HTTPS configures HTTP over TLS, enabled when Cert and Key are set.
	HTTPS HTTPSConfig `yaml:"https"`
	// WebRTC configures the WebRTC media port.
	WebRTC WebRTCConfig `yaml:"webrtc"`
	// HLS configures HLS packaging.
	HLS HLSConfig `yaml:"hls"`
	// SRT configures the SRT listener (srt.go).
	SRT SRTConfig `yaml:"srt"`
	// Hub configures stream buffering and viewer lag policy.
	Hub HubConfig `yaml:"hub"`
	// Thumbnail configures GET /APP/NAME.jpg (thumbnail.go).
	Thumbnail ThumbnailConfig `yaml:"thumbnail"`
	// API configures access to the REST API under /api/v1.
	API APIConfig `yaml:"api"`
	// Debug configures diagnostics for operators.
	Debug DebugConfig `yaml:"debug"`
	// Hooks configures the HTTP callbacks asked before every publish and
	// play and told when a publisher or viewer leaves (SRS/nginx-rtmp
	// style). A path pattern may override them (PathConfig.Hooks).
	Hooks HooksConfig `yaml:"hooks"`
	// Record configures recording to fMP4 files (record.go).
	Record RecordConfig `yaml:"record"`
	// Cluster configures several nodes sharing stream ownership in Redis.
	Cluster ClusterConfig `yaml:"cluster"`
	// Storage configures object storage for HLS/DASH uploads.
	Storage StorageConfig `yaml:"storage"`
	// Paths maps glob patterns of stream paths (path.Match syntax) to
	// per-path settings; see PathSettings for which pattern applies.
	// Default empty. Not overridable by environment variables.
	Paths map[string]PathConfig `yaml:"paths"`
}

// LogConfig is the "log" section.
type LogConfig struct {
	// Level is the lowest level logged: debug, info, warn or error.
	// Default "info".
	Level string `yaml:"level"`
	// Format is the line format: text (key=value) or json. Default "text".
	Format string `yaml:"format"`
}

// RTMPConfig is the "rtmp" section.
type RTMPConfig struct {
	// Listen is the TCP host:port for RTMP publish and play.
	// Default ":1935".
	Listen string `yaml:"listen"`
	// ChunkSize is the outgoing chunk size in bytes, 128..16777215.
	// Default 4096.
	ChunkSize int `yaml:"chunk_size"`
	// HandshakeTimeout bounds the RTMP handshake. Default 10s.
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default 30s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxMessageSize is the largest message a peer may send, in bytes.
	// Default 8388608 (8 MiB).
	MaxMessageSize int `yaml:"max_message_size"`
	// MaxChunkSize is the largest chunk size a peer may announce, in bytes.
	// Default 16777216 (16 MiB).
	MaxChunkSize int `yaml:"max_chunk_size"`
	// MaxChunkStreams is the most chunk stream IDs a peer may use on one
	// connection. Default 64.
	MaxChunkStreams int `yaml:"max_chunk_streams"`
	// MaxConnections caps concurrent RTMP and RTMPS connections.
	// Default 4096.
	MaxConnections int `yaml:"max_connections"`
	// MaxUnfinishedBytes bounds the partially received messages of one
	// connection (all chunk streams together), in bytes; at least
	// MaxMessageSize. Before a publish is authorized a connection may hold
	// only 64 KiB and send messages of at most 16 KiB. Default 16777216
	// (16 MiB).
	MaxUnfinishedBytes int `yaml:"max_unfinished_bytes"`
	// UnfinishedBudget bounds the partially received messages of all RTMP
	// and RTMPS connections together, in bytes; at least
	// MaxUnfinishedBytes. Default 268435456 (256 MiB).
	UnfinishedBudget int `yaml:"unfinished_budget"`
	// MessageTimeout closes a connection whose message stays partially
	// received for this long. Default 30s.
	MessageTimeout Duration `yaml:"message_timeout"`
}

// RTMPSConfig is the "rtmps" section. RTMPS is enabled when both Cert and
// Key are set.
type RTMPSConfig struct {
	// Listen is the TCP host:port for RTMPS. Default ":1936".
	Listen string `yaml:"listen"`
	// Cert is the PEM certificate chain file. Default "" (RTMPS off).
	Cert string `yaml:"cert"`
	// Key is the PEM private key file. Default "" (RTMPS off).
	Key string `yaml:"key"`
}

// Enabled reports whether RTMPS is configured (Cert and Key both set).
func (c RTMPSConfig) Enabled() bool { return c.Cert != "" && c.Key != "" }

// HTTPConfig is the "http" section.
type HTTPConfig struct {
	// Listen is the TCP host:port for HLS, DASH, FLV, WHIP/WHEP, API,
	// metrics and web pages. Default ":8080".
	Listen string `yaml:"listen"`
	// The limits below apply to the HTTP and HTTPS listeners alike.

	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers (and, over HTTPS, the TLS handshake). Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive connection that carries no request
	// for this long. Default 60s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// WriteTimeout closes a connection whose socket accepts no response
	// bytes for this long (between write_timeout/2 and write_timeout): a
	// client that stops reading a segment, part, playlist or MPD. It
	// bounds each write, not the response: blocking playlist reloads and
	// live HTTP-FLV/WS-FLV responses wait as long as they need (HTTP-FLV
	// and WS-FLV apply hub.max_lag instead). Default 10s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// MaxConnections caps concurrent HTTP + HTTPS connections; a further
	// connection is closed as soon as it is accepted. Default 16384.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps concurrent HTTP + HTTPS connections from
	// one client IP address, loopback clients (a local reverse proxy)
	// excepted; 0 turns the per-address cap off. Default 256.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// ShutdownDrain is how long, on SIGINT/SIGTERM, the HTTP listeners
	// keep answering after every stream has ended, so that polling HLS and
	// DASH players fetch a playlist with #EXT-X-ENDLIST (an MPD with
	// mediaPresentationDuration, no minimumUpdatePeriod); skipped when no
	// playlist or MPD was requested in the last 30 s. 0s..3s (the whole
	// stop stays within 5 s). Default 2500ms.
	ShutdownDrain Duration `yaml:"shutdown_drain"`
	// AllowedOrigins lists the web page origins (scheme://host[:port])
	// allowed to use the stream URLs from a browser: their CORS answers
	// (Access-Control-Allow-Origin) and WebSocket-FLV upgrades (RFC 6455
	// §10.2; others get 403). "*" allows every origin. The server's own
	// pages (same host) and clients that send no Origin are always
	// allowed. Applies to HTTPS too. Default ["*"]. Set in a config file
	// only; no environment variable sets it.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// HTTPSConfig is the "https" section. HTTPS is enabled when both Cert and
// Key are set.
type HTTPSConfig struct {
	// Listen is the TCP host:port for the HTTP surface over TLS.
	// Default ":8443".
	Listen string `yaml:"listen"`
	// Cert is the PEM certificate chain file. Default "" (HTTPS off).
	Cert string `yaml:"cert"`
	// Key is the PEM private key file. Default "" (HTTPS off).
	Key string `yaml:"key"`
}

// Enabled reports whether HTTPS is configured (Cert and Key both set).
func (c HTTPSConfig) Enabled() bool { return c.Cert != "" && c.Key != "" }

// WebRTCConfig is the "webrtc" section.
type WebRTCConfig struct {
	// Listen is the host:port of the single UDP and TCP socket carrying all
	// WebRTC media (ICE mux). Default ":8189".
	Listen string `yaml:"listen"`
	// IPs are the public addresses announced in ICE host candidates instead
	// of the local interface addresses (NAT 1:1, e.g. a cloud VM's public
	// IP). Default empty: announce the local addresses. Set in a config
	// file only; no environment variable sets it.
	IPs []string `yaml:"ips"`
	// MaxSessions caps concurrent WebRTC sessions, WHEP and WHIP together;
	// further requests get 503. Default 1000.
	MaxSessions int `yaml:"max_sessions"`
	// ICEServers are STUN and TURN servers the server gathers extra ICE
	// candidates from (server-reflexive, relayed), for a server behind a NAT
	// that webrtc.ips cannot describe. Default none. Set in a config file
	// only.
	ICEServers []ICEServer `yaml:"ice_servers"`
	// MaxSessionsPerIP caps concurrent WebRTC sessions (WHEP and WHIP)
	// from one client IP address; further requests get 429. Default 100.
	MaxSessionsPerIP int `yaml:"max_sessions_per_ip"`
	// SessionTimeout closes a session whose peer has not connected (ICE and
	// DTLS) within this time of the offer. Default 15s.
	SessionTimeout Duration `yaml:"session_timeout"`
}

// ICEServer is one STUN or TURN server (RFC 7064/7065 URLs).
type ICEServer struct {
	// URLs are stun:, stuns:, turn: or turns: URLs of one server.
	URLs []string `yaml:"urls"`
	// Username and Credential authenticate to a TURN server.
	Username   string `yaml:"username"`
	Credential string `yaml:"credential"`
}

// HLS variants accepted by HLSConfig.Variant.
const (
	// HLSLowLatency is fMP4/CMAF with LL-HLS parts, blocking playlist
	// reload and preload hints.
	HLSLowLatency = "lowlatency"
	// HLSFMP4 is fMP4/CMAF segments without parts.
	HLSFMP4 = "fmp4"
	// HLSMPEGTS is MPEG-TS segments.
	HLSMPEGTS = "mpegts"
)

// HLSConfig is the "hls" section.
type HLSConfig struct {
	// Variant is the HLS flavour: lowlatency, fmp4 or mpegts.
	// Default "lowlatency".
	Variant string `yaml:"variant"`
	// SegmentDuration is the shortest HLS/DASH segment: a segment is cut at
	// the first keyframe this long after its start (so segments last this
	// long or one GOP, whichever is larger). ABR ladders force keyframes
	// on this grid. Default 2s; 500ms..30s.
	SegmentDuration Duration `yaml:"segment_duration"`
	// PartDuration is the LL-HLS part duration and the LL-DASH chunk
	// duration: parts hold the whole frames that fit (PART-TARGET is this
	// plus 1 ms, the timestamp resolution). Default 200ms;
	// 50ms..segment_duration/2.
	PartDuration Duration `yaml:"part_duration"`
	// Window is how many complete segments playlists and MPDs list.
	// Default 7; 3..100.
	Window int `yaml:"window"`
	// DVRWindow is the live timeshift window: live media playlists and
	// MPDs list the newest segments covering this much media time (at
	// least Window of them), kept in memory, so players can seek back
	// that far; at most 10800 segments. Default 0s: off (Window
	// segments); 0s..24h.
	DVRWindow Duration `yaml:"dvr_window"`
	// DVRMaxBytes bounds the memory of one stream rendition's DVR window,
	// in bytes: beyond it the oldest segments are dropped (the window
	// shortens, logged once per stream rendition), never the newest
	// Window. Default 536870912 (512 MiB); at least 1048576 (1 MiB).
	DVRMaxBytes int `yaml:"dvr_max_bytes"`
	// MPEGTSUserAgents are substrings of the User-Agent header naming
	// players without LL-HLS: a client whose User-Agent contains one gets
	// MPEG-TS media playlists whatever Variant is, each listing at least
	// four target durations (RFC 8216bis §6.3.3 asks for three, VLC needs
	// one more; the first playlist of a stream nobody watched waits for
	// them, at most 10 s). Default ["GStreamer
	// souphttpsrc", "LibVLC"]: GStreamer's classic hlsdemux waits, before
	// it shows an fMP4 live stream, as long as the stream had run before
	// its window (it times segments from the playlist, samples from their
	// tfdt); VLC started a one-segment playlist at its end and rebuffered
	// at every segment. Empty list: off. At most 16 entries of 1..256
	// printable characters; file only (no SLUICE_* variable).
	MPEGTSUserAgents []string `yaml:"mpegts_user_agents"`
}

// HubConfig is the "hub" section.
type HubConfig struct {
	// MaxLag is how far a viewer may fall behind the live edge before it
	// skips to the newest keyframe. Default 5s.
	MaxLag Duration `yaml:"max_lag"`
	// MaxGOPDuration is how old the newest keyframe may be (in media time)
	// and still start new viewers at once (the GOP cache). Past it, a new
	// viewer waits for the next keyframe (WHIP publishers are asked for
	// one), so no viewer starts with more backlog than this. Default 5s.
	MaxGOPDuration Duration `yaml:"max_gop_duration"`
	// RepublishGrace is how long a stream outlives its publisher, waiting
	// for it to reconnect. Default 10s.
	RepublishGrace Duration `yaml:"republish_grace"`
	// MaxBufferBytes bounds the media payload one stream buffers, in bytes.
	// Default 67108864 (64 MiB).
	MaxBufferBytes int `yaml:"max_buffer_bytes"`
	// MaxSkips is how many keyframe skips per minute a viewer may take
	// before it is disconnected. Default 3.
	MaxSkips int `yaml:"max_skips"`
	// WaitTimeout bounds how long a new viewer waits for a stream to
	// announce its tracks. Default 5s.
	WaitTimeout Duration `yaml:"wait_timeout"`
}

// DebugConfig is the "debug" section.
type DebugConfig struct {
	// PprofListen, when set, serves Go's net/http/pprof profiles on this
	// address (e.g. "127.0.0.1:6060"), on a listener of its own so it is
	// never exposed with the public HTTP surface. Default "": off.
	PprofListen string `yaml:"pprof_listen"`
}

// APIConfig is the "api" section: access to the REST API (/api/v1).
type APIConfig struct {
	// Key, when set, is required on every API request as
	// "Authorization: Bearer KEY" or "X-API-Key: KEY"; 16..256 printable
	// ASCII characters without spaces. Default "": no key, and the API
	// answers loopback clients only (403 for any other address).
	Key string `yaml:"key"`
}

// PathConfig is the settings for the stream paths matching one pattern of
// Config.Paths. The zero value means: open publish and play, HLS on demand,
// no transcoding.
type PathConfig struct {
	// PublishKeys are the keys a publisher must present (RTMP ?key=K;
	// HTTP "Authorization: Bearer K" or ?key=K). Default empty: anyone may
	// publish.
	PublishKeys []string `yaml:"publish_keys,omitempty"`
	// PlayKeys are the keys a viewer must present, the same ways. Default
	// empty: anyone may play.
	PlayKeys []string `yaml:"play_keys,omitempty"`
	// JWT accepts signed JSON Web Tokens (RFC 7519) as credentials, as an
	// alternative to the keys. Default: off.
	JWT JWTConfig `yaml:"jwt,omitempty"`
	// Hooks overrides, key by key, the global hooks section for these
	// paths. Default: nil (the global hooks apply).
	Hooks *PathHooksConfig `yaml:"hooks,omitempty"`
	// HLS holds per-path HLS settings.
	HLS PathHLSConfig `yaml:"hls,omitempty"`
	// Transcode holds the ABR ladder.
	Transcode TranscodeConfig `yaml:"transcode,omitempty"`
	// SRTPassphrase, when set, is the passphrase SRT publishers and
	// readers of these paths must encrypt with (AES, libsrt's
	// SRTO_PASSPHRASE; 10..79 characters); callers without it, or with
	// another, are rejected at handshake. Default "": no encryption
	// (an encrypting caller is rejected too).
	SRTPassphrase string `yaml:"srt_passphrase,omitempty"`
	// Record writes the publisher's stream to files under record.dir
	// (renditions of a ladder are not recorded). Default false.
	Record bool `yaml:"record,omitempty"`
	// PathRelayConfig holds source, source_on_demand… and forward
	// (relay.go).
	PathRelayConfig `yaml:",inline"`
}

// JWT actions: the values of the action claim and of JWTConfig.Actions.
const (
	// JWTActionPublish allows publishing.
	JWTActionPublish = "publish"
	// JWTActionPlay allows playing.
	JWTActionPlay = "play"
)

// JWTConfig is the "jwt" block of a PathConfig: tokens signed with Secret
// (HMAC) or by a key of a JWK Set (JWKSFile, JWKSURL). A token is
// accepted when its signature verifies with an allowed algorithm, its exp
// and nbf (when present) hold, its path claim matches the stream path and
// its action claim names the action.
type JWTConfig struct {
	// Secret is the shared HMAC secret for HS256/HS384/HS512 tokens, at
	// least 32 bytes (RFC 7518 §3.2). Default "": no HMAC tokens. Prefer
	// setting it from a file readable only by Sluice.
	Secret string `yaml:"secret,omitempty"`
	// JWKSFile is a JSON file holding a JWK Set (RFC 7517 §5) of public
	// keys for RS256/ES256... tokens, read at startup. Default "".
	JWKSFile string `yaml:"jwks_file,omitempty"`
	// JWKSURL is an http(s) URL serving a JWK Set, fetched at startup and
	// refreshed hourly and on an unknown "kid". Default "".
	JWKSURL string `yaml:"jwks_url,omitempty"`
	// Algorithms are the accepted "alg" values: HS256, HS384, HS512,
	// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512,
	// EdDSA. Default: HS256 when Secret is set, plus RS256 and ES256 when
	// a JWK Set is configured.
	Algorithms []string `yaml:"algorithms,omitempty"`
	// Actions are the actions for which a token is accepted as
	// credentials: publish, play. An action left out is governed by the
	// keys alone. Default [publish, play].
	Actions []string `yaml:"actions,omitempty"`
	// Claims names the claims checked against the request.
	Claims JWTClaimsConfig `yaml:"claims,omitempty"`
	// Issuer, when set, must equal the token's "iss". Default "": any.
	Issuer string `yaml:"issuer,omitempty"`
	// Audience, when set, must be one of the token's "aud". Default "":
	// any.
	Audience string `yaml:"audience,omitempty"`
}

// Enabled reports whether JWTs are configured (a secret or a JWK Set).
func (j JWTConfig) Enabled() bool {
	return j.Secret != "" || j.JWKSFile != "" || j.JWKSURL != ""
}

// JWTClaimsConfig names the claims a token is checked with.
type JWTClaimsConfig struct {
	// Path is the claim holding a glob pattern (path.Match syntax; "*"
	// alone matches every path), or a list of them, that the stream path
	// must match. Default "path".
	Path string `yaml:"path,omitempty"`
	// Action is the claim holding "publish", "play" or a list of them.
	// Default "action".
	Action string `yaml:"action,omitempty"`
}

// HooksConfig is the "hooks" section: HTTP callbacks. Each URL receives a
// POST with a JSON body {"action", "path", "app", "name", "protocol",
// "remote", "token", "query"}. For on_publish and on_play a 2xx answer
// allows; any other answer, an error or a timeout denies (unless
// FailOpen). on_unpublish and on_stop are notifications whose answer is
// ignored.
type HooksConfig struct {
	// OnPublish is asked before every publish. Default "": not asked.
	OnPublish string `yaml:"on_publish"`
	// OnUnpublish is told when a publisher leaves. Default "".
	OnUnpublish string `yaml:"on_unpublish"`
	// OnPlay is asked before every play. Default "": not asked.
	OnPlay string `yaml:"on_play"`
	// OnStop is told when a viewer leaves. Default "".
	OnStop string `yaml:"on_stop"`
	// OnRecordSegment is told (action "record_segment", with file, start
	// and duration) when a recording file is closed. Default "".
	OnRecordSegment string `yaml:"on_record_segment"`
	// Timeout bounds each call. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// FailOpen allows the client when on_publish or on_play cannot be
	// reached or times out (an answer that is not 2xx still denies).
	// Default false: deny.
	FailOpen bool `yaml:"fail_open"`
	// Cache is how long an allowing answer is reused for the same action,
	// path, token and client IP; 0 asks every time. Default 5s.
	Cache Duration `yaml:"cache"`
}

// PathHooksConfig is the "hooks" block of a PathConfig: every key it sets
// replaces the global one for these paths; keys left out (empty, 0) keep
// the global value.
type PathHooksConfig struct {
	// OnPublish overrides hooks.on_publish.
	OnPublish string `yaml:"on_publish,omitempty"`
	// OnUnpublish overrides hooks.on_unpublish.
	OnUnpublish string `yaml:"on_unpublish,omitempty"`
	// OnPlay overrides hooks.on_play.
	OnPlay string `yaml:"on_play,omitempty"`
	// OnStop overrides hooks.on_stop.
	OnStop string `yaml:"on_stop,omitempty"`
	// OnRecordSegment overrides hooks.on_record_segment.
	OnRecordSegment string `yaml:"on_record_segment,omitempty"`
	// Timeout overrides hooks.timeout.
	Timeout Duration `yaml:"timeout,omitempty"`
	// FailOpen overrides hooks.fail_open.
	FailOpen *bool `yaml:"fail_open,omitempty"`
	// Cache overrides hooks.cache.
	Cache Duration `yaml:"cache,omitempty"`
}

// Apply returns global with the keys h sets replaced. A nil h returns
// global unchanged.
func (h *PathHooksConfig) Apply(global HooksConfig) HooksConfig {
	if h == nil {
		return global
	}
	out := global
	for _, f := range []struct {
		dst *string
		src string
	}{{&out.OnPublish, h.OnPublish}, {&out.OnUnpublish, h.OnUnpublish}, {&out.OnPlay, h.OnPlay}, {&out.OnStop, h.OnStop}, {&out.OnRecordSegment, h.OnRecordSegment}} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if h.Timeout.Duration != 0 {
		out.Timeout = h.Timeout
	}
	if h.Cache.Duration != 0 {
		out.Cache = h.Cache
	}
	if h.FailOpen != nil {
		out.FailOpen = *h.FailOpen
	}
	return out
}

// PathHLSConfig is the "hls" block of a PathConfig.
type PathHLSConfig struct {
	// AlwaysOn packages HLS/DASH from the moment a stream is published
	// instead of when the first HLS/DASH viewer asks. Default false.
	AlwaysOn bool `yaml:"always_on"`
	// Upload mirrors the stream's HLS (and DASH) segments, init sections
	// and playlists to storage.s3 as they are produced, for a CDN to serve.
	// Default false.
	Upload bool `yaml:"upload,omitempty"`
}

// TranscodeConfig is the "transcode" block of a PathConfig.
type TranscodeConfig struct {
	// Passthrough keeps the source as the top rendition of the ladder.
	// Default false.
	Passthrough bool `yaml:"passthrough"`
	// Ladder lists the renditions; each becomes the stream APP/NAME_<Name>.
	// Default empty: no transcoding.
	Ladder []Rendition `yaml:"ladder,omitempty"`
}

// Rendition is one rung of a transcoding ladder.
type Rendition struct {
	// Name is the rung name, appended to the stream name ("480p" makes
	// live/cam1_480p): 1..64 characters of [A-Za-z0-9_.-]. Required.
	Name string `yaml:"name"`
	// Width is the output width in pixels; 0 keeps the aspect ratio.
	// Default 0.
	Width int `yaml:"width"`
	// Height is the output height in pixels. Required.
	Height int `yaml:"height"`
	// VideoBitrate is the video bitrate in bits per second with an
	// optional k or M suffix ("1200k", "2.5M"). Required.
	VideoBitrate string `yaml:"video_bitrate"`
	// AudioBitrate is the audio bitrate, same syntax ("96k"). Default ""
	// (the transcoder's default: the source audio copied as is, or AAC at
	// 128k for an MP3 source).
	AudioBitrate string `yaml:"audio_bitrate,omitempty"`
	// MaxFPS caps the frame rate, in frames per second. Default 0 (keep
	// the source rate).
	MaxFPS int `yaml:"max_fps,omitempty"`
	// Preset is the encoder speed preset (x264 names such as "veryfast").
	// Default "" (the transcoder's default).
	Preset string `yaml:"preset,omitempty"`
}

// Duration is a time.Duration written in YAML and environment variables as
// a Go duration string with a unit ("250ms", "5s", "1m30s").
type Duration struct {
	time.Duration
}

// D returns d as a Duration.
func D(d time.Duration) Duration { return Duration{d} }

// ParseDuration parses a duration string such as "5s" or "250ms". A bare
// number without a unit is refused, so "5" is never silently 5 ns.
func ParseDuration(s string) (Duration, error) {
	if d, ok := parseDays(s); ok { // "7d" (record.delete_after)
		return Duration{d}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Duration{}, fmt.Errorf("invalid duration %q (want a number with a unit, e.g. 250ms, 5s, 1m)", truncate(s))
	}
	return Duration{d}, nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a duration string such as 5s")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes d as a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// truncate shortens s for quoting in an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
