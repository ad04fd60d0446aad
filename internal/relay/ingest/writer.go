// Package ingest is what the pull clients (relay/hls, relay/rtsp) share
// between a protocol library's callbacks and the hub: access units of
// H.264/H.265 (as NAL unit lists), AAC and Opus become av.Packets on one
// hub.Publisher, written from whichever library goroutine delivers them.
package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
)

// maxBadUnits is how many malformed access units in a row a source may
// send before the pull fails (the Manager then reconnects); single broken
// units (a lost RTP packet) are dropped.
const maxBadUnits = 100

// Writer publishes converted access units. Its methods are safe for
// concurrent use: libraries call back from one goroutine per track, and the
// hub wants one writer at a time.
type Writer struct {
	pub   *hub.Publisher
	stats *relay.Stats
	log   *slog.Logger

	mu        sync.Mutex
	err       error
	failed    chan struct{}
	connected bool
	bad       int
	badLogged time.Time
}

// NewWriter returns a Writer publishing on pub.
func NewWriter(pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) *Writer {
	return &Writer{pub: pub, stats: stats, log: log, failed: make(chan struct{})}
}

// Failed is closed once a write failed for good (the publisher was closed,
// or the source sent too many malformed units); Err tells why.
func (w *Writer) Failed() <-chan struct{} { return w.failed }

// Err returns why the Writer failed, or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail records err as the Writer's failure. Caller holds w.mu.
func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
		close(w.failed)
	}
}

// write publishes one packet. Caller holds w.mu.
func (w *Writer) write(p *av.Packet) {
	if w.err != nil {
		return
	}
	if err := w.pub.WritePacket(p); err != nil {
		w.fail(fmt.Errorf("publish: %w", err))
		return
	}
	w.bad = 0
	if !w.connected {
		w.connected = true
		w.stats.Connected()
	}
}

// Bad counts a malformed unit from the source: logged at most once per 10 s,
// and fatal after maxBadUnits in a row.
func (w *Writer) Bad(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bad++
	if now := time.Now(); now.Sub(w.badLogged) >= 10*time.Second {
		w.badLogged = now
		w.log.Warn("pull: dropped malformed media from the source", "error", err, "in_a_row", w.bad)
	}
	if w.bad >= maxBadUnits {
		w.fail(fmt.Errorf("%d malformed access units in a row, last: %w", w.bad, err))
	}
}

// Video converts and publishes one H.264/H.265 access unit with ing (the
// track's converter, used only by this track's callback) at pts/dts.
// Units before the first keyframe with parameter sets are dropped.
func (w *Writer) Video(ing *av.NALUIngest, nalus [][]byte, pts, dts time.Duration) {
	data, key, track, err := ing.Convert(nalus)
	if err != nil {
		w.Bad(err)
		return
	}
	if track == nil || data == nil {
		return
	}
	// pts < dts is a broken source; a negative composition offset is not
	// ours to pass on, so Packet clamps it.
	w.Packet(track, data, key, pts, dts)
}

// Packet publishes one converted video access unit (see Video) whose
// timestamps the caller worked out.
func (w *Writer) Packet(track *av.Track, data []byte, key bool, pts, dts time.Duration) {
	if pts < dts {
		pts = dts
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.write(&av.Packet{Track: track, DTS: dts, PTS: pts, Key: key, Data: data, Arrival: time.Now()})
}

// AAC publishes AAC frames (raw, without ADTS) starting at pts, each one
// frame duration after the previous.
func (w *Writer) AAC(track *av.Track, frameSamples int, aus [][]byte, pts time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for i, au := range aus {
		if len(au) == 0 {
			continue
		}
		t := pts + Duration(int64(i*frameSamples), track.SampleRate)
		w.write(&av.Packet{Track: track, DTS: t, PTS: t, Key: true, Data: au, Arrival: now})
	}
}

// Opus publishes Opus packets starting at pts, each after the previous
// one's duration (RFC 6716 §3.1, from its TOC byte).
func (w *Writer) Opus(track *av.Track, pkts [][]byte, pts time.Duration, duration func([]byte) int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	var at int64
	for _, p := range pkts {
		if len(p) == 0 {
			continue
		}
		t := pts + Duration(at, av.OpusSampleRate)
		at += duration(p)
		w.write(&av.Packet{Track: track, DTS: t, PTS: t, Key: true, Data: p, Arrival: now})
	}
}

// Duration converts ts ticks of a clockRate Hz clock into a time.Duration
// without overflowing for any realistic timestamp.
func Duration(ts int64, clockRate int) time.Duration {
	if clockRate <= 0 {
		return 0
	}
	r := int64(clockRate)
	return time.Duration(ts/r)*time.Second + time.Duration(ts%r)*time.Second/time.Duration(r)
}

// ErrNoTracks is returned when a source has no track Sluice can carry.
var ErrNoTracks = errors.New("source has no supported track (H.264, H.265, AAC, Opus)")
