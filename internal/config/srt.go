package config

import (
	"time"
)

// SRTConfig is the "srt" section: SRT (Secure Reliable Transport) publish
// and play of MPEG-TS over UDP.
type SRTConfig struct {
	// Listen is the UDP host:port for SRT publish and play
	// (srt://HOST:8890?streamid=publish:APP/NAME). Default ":8890"; ""
	// turns SRT off.
	Listen string `yaml:"listen"`
	// Latency is the SRT latency (TSBPD delay, the receiver's buffer for
	// retransmissions) the server asks for in both directions; the larger
	// of it and the peer's own applies. 20ms..10s. Default 120ms, libsrt's
	// and ffmpeg's default.
	Latency Duration `yaml:"latency"`
	// HandshakeTimeout drops a connection whose first media (a publisher's
	// program tables and tracks) has not arrived this long after the
	// handshake. Default 10s.
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// IdleTimeout drops a publisher that sends no media for this long
	// (SRT keepalives alone do not count). Default 30s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections caps concurrent SRT connections, publishers and
	// readers together, handshakes under way included; further callers
	// are rejected at handshake with a log line. Default 1000.
	MaxConnections int `yaml:"max_connections"`
	// MaxPESSize bounds one access unit of a publisher's stream, in bytes;
	// a bigger one drops the publisher. Default 8388608 (8 MiB).
	MaxPESSize int `yaml:"max_pes_size"`
}

// SRT passphrase bounds (libsrt's SRTO_PASSPHRASE: 10 to 79 characters).
const (
	MinSRTPassphrase = 10
	MaxSRTPassphrase = 79
)

// validateSRT checks the srt section.
func (v *validator) srt(c SRTConfig) {
	if c.Listen != "" {
		v.listen("srt.listen", c.Listen)
	}
	if c.Latency.Duration < 20*time.Millisecond || c.Latency.Duration > 10*time.Second {
		v.fail("srt.latency", "must be in 20ms..10s, got %s", c.Latency)
	}
	v.positiveDuration("srt.handshake_timeout", c.HandshakeTimeout)
	v.positiveDuration("srt.idle_timeout", c.IdleTimeout)
	v.between("srt.max_connections", c.MaxConnections, 1, 1<<20)
	v.between("srt.max_pes_size", c.MaxPESSize, 64<<10, 1<<30)
}

// srtPassphrase checks a path's srt_passphrase.
func (v *validator) srtPassphrase(prefix, p string) {
	if p != "" && (len(p) < MinSRTPassphrase || len(p) > MaxSRTPassphrase) {
		v.fail(prefix+".srt_passphrase", "must be %d..%d characters, got %d", MinSRTPassphrase, MaxSRTPassphrase, len(p))
	}
}
