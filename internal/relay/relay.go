// Package relay moves streams between Sluice and other servers: it pulls a
// source into the hub (paths.<path>.source, cluster edge pulls) and pushes
// a hub stream out to other servers (paths.*.forward).
//
// The protocol clients live in sub-packages (rtmp/FLV here, srt, hls, rtsp
// beside it); each registers a Puller and/or a Pusher for its URL schemes,
// and the Manager (supervision: on-demand start, idle stop, reconnect with
// back-off, state for the API) never knows a protocol.
package relay

import (
	"context"
	"log/slog"
	"net/url"
	"sync/atomic"

	"github.com/sluicemedia/sluice/internal/hub"
)

// Puller pulls one source into the hub. Pull publishes what it reads with
// pub until ctx ends (it then returns ctx.Err()) or the source fails (it
// returns why). It must not retry: the Manager reconnects with back-off,
// and a new Pull after a failure continues the same hub stream, which the
// hub marks as a discontinuity. Pull calls stats.Connected once media
// flows and adds every byte it reads to stats.Bytes.
type Puller interface {
	Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *Stats, log *slog.Logger) error
}

// Pusher pushes one hub stream to one target. Push writes what rd yields
// until ctx ends (it returns ctx.Err()), the stream ends (nil) or the
// target fails (it returns why). It must never slow the publisher: rd is a
// hub reader, whose lag policy drops a target that cannot keep up. It must
// not retry; the Manager does.
type Pusher interface {
	Push(ctx context.Context, dst *url.URL, rd *hub.Reader, stats *Stats, log *slog.Logger) error
}

// Stats is what one pull or push reports while it runs, for the API and
// metrics. Its fields are updated atomically by the Puller/Pusher.
type Stats struct {
	// Bytes counts payload bytes read from a source or written to a target.
	Bytes atomic.Uint64
	// connected is set by Connected and cleared by the Manager between
	// attempts.
	connected atomic.Bool
}

// Connected marks the attempt as established (media flows).
func (s *Stats) Connected() { s.connected.Store(true) }

// IsConnected reports whether the current attempt has established.
func (s *Stats) IsConnected() bool { return s.connected.Load() }

// Reset clears the per-attempt state before a new attempt.
func (s *Stats) Reset() { s.connected.Store(false) }
