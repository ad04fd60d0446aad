package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
)

func newTestWriter(t *testing.T) (*Writer, *hub.Publisher, *hub.Reader, *relay.Stats) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet})
	t.Cleanup(h.Close)
	pub, err := h.Publish("live/w", hub.ClientInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	pub.Announce(false, true)
	rd, err := h.Subscribe(context.Background(), "live/w", hub.ClientInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.Close)
	stats := &relay.Stats{}
	return NewWriter(pub, stats, quiet), pub, rd, stats
}

func drain(rd *hub.Reader) []*av.Packet {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Read returns what is there before it looks at ctx
	var out []*av.Packet
	for {
		p, err := rd.Read(ctx, make([]*av.Packet, 0, 64))
		out = append(out, p...)
		if err != nil || len(p) == 0 {
			return out
		}
	}
}

// Several AAC frames in one PES/RTP packet: frame i at i × 1024 samples
// (at the core rate), an empty one dropped without moving the others (the hub
// rebases the first to 0).
func TestAACFrameTimes(t *testing.T) {
	w, _, rd, stats := newTestWriter(t)
	track, err := av.NewTrack(av.CodecAAC, []byte{0x12, 0x10}) // LC, 44100 Hz, stereo
	if err != nil {
		t.Fatal(err)
	}
	w.AAC(track, 1024, [][]byte{{1}, {2}, {}, {3}}, time.Second)
	got := drain(rd)
	if len(got) != 3 {
		t.Fatalf("%d packets, want 3 (the empty frame dropped)", len(got))
	}
	for i, slot := range []int64{0, 1, 3} {
		p := got[i]
		if want := got[0].DTS + Duration(slot*1024, 44100); p.DTS != want || p.PTS != p.DTS || !p.Key {
			t.Errorf("frame %d: DTS %v PTS %v key %v, want DTS=PTS=%v, key", i, p.DTS, p.PTS, p.Key, want)
		}
	}
	if !stats.IsConnected() {
		t.Error("Connected not called after the first packet")
	}
}

// Opus packets of 20 ms and 10 ms: each after the previous one's duration.
func TestOpusPacketTimes(t *testing.T) {
	w, _, rd, _ := newTestWriter(t)
	track, _ := av.NewTrack(av.CodecOpus, nil)
	// TOC config 9 (SILK WB 20 ms) and 8 (SILK WB 10 ms), one frame each
	// (RFC 6716 §3.1 Table 2).
	w.Opus(track, [][]byte{{9 << 3, 0}, {8 << 3, 0}, {9 << 3, 0}}, 0, opus.PacketDuration2)
	got := drain(rd)
	if len(got) != 3 {
		t.Fatalf("%d packets, want 3", len(got))
	}
	if d1, d2 := got[1].DTS-got[0].DTS, got[2].DTS-got[1].DTS; d1 != 20*time.Millisecond || d2 != 10*time.Millisecond {
		t.Errorf("steps %v, %v; want 20ms, 10ms", d1, d2)
	}
}

// A run of malformed units fails the writer; one good unit in between
// resets the count.
func TestBadUnitsFail(t *testing.T) {
	w, _, _, _ := newTestWriter(t)
	track, _ := av.NewTrack(av.CodecOpus, nil)
	for range maxBadUnits - 1 {
		w.Bad(errors.New("broken"))
	}
	w.Opus(track, [][]byte{{11 << 3}}, 0, opus.PacketDuration2)
	for range maxBadUnits - 1 {
		w.Bad(errors.New("broken"))
	}
	select {
	case <-w.Failed():
		t.Fatalf("failed after %d bad units in a row: %v", maxBadUnits-1, w.Err())
	default:
	}
	w.Bad(errors.New("broken"))
	select {
	case <-w.Failed():
	default:
		t.Fatalf("not failed after %d bad units in a row", maxBadUnits)
	}
}

// A closed publisher fails the writer (the pull then ends).
func TestClosedPublisherFails(t *testing.T) {
	w, pub, _, _ := newTestWriter(t)
	pub.Close("test")
	track, _ := av.NewTrack(av.CodecOpus, nil)
	w.Opus(track, [][]byte{{11 << 3}}, 0, opus.PacketDuration2)
	if !errors.Is(w.Err(), hub.ErrEnded) {
		t.Fatalf("Err() = %v, want hub.ErrEnded", w.Err())
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		ts   int64
		rate int
		want time.Duration
	}{{90000, 90000, time.Second}, {45, 90000, 500 * time.Microsecond}, {90000 * 3600 * 24 * 365, 90000, 365 * 24 * time.Hour}, {5, 0, 0}} {
		if got := Duration(c.ts, c.rate); got != c.want {
			t.Errorf("Duration(%d, %d) = %v, want %v", c.ts, c.rate, got, c.want)
		}
	}
}
