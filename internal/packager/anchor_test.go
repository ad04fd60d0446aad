package packager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

var wall0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// requireNear fails unless got is within tol of want.
func requireNear(t *testing.T, want, got time.Time, tol time.Duration, msg string, args ...any) {
	t.Helper()
	d := got.Sub(want)
	require.Truef(t, d <= tol && d >= -tol, "%s: want %s ± %s, got %s (off by %s)",
		append([]any{msg}, append(args, want.Format(time.RFC3339Nano), tol, got.Format(time.RFC3339Nano), d)...)...)
}

// TestAnchorFollowsWallClockAfterRepublish: the hub continues the
// timeline 40 ms after the old publisher's last packet however long the
// publisher was away, so after a 3 s outage media time runs 2.96 s behind
// the wall clock. Every segment's date must still be the wall time its
// first packet arrived, and the segments after the republish start a new
// clock epoch while the session origin stays put.
func TestAnchorFollowsWallClockAfterRepublish(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	offset := time.Duration(0) // wall − media of the current publisher
	arrival := func(pkt *av.Packet) time.Time { return wall0.Add(pkt.DTS + offset) }
	f := &feeder{video: video, audio: audio, gop: 50, arrival: arrival}
	f.feed(t, p, 6*time.Second)

	const outage = 3 * time.Second
	f.vn, f.an = 0, 0
	f.start = 6*time.Second + 40*time.Millisecond
	offset = outage - 40*time.Millisecond
	f.disc = true
	f.feed(t, p, 14*time.Second)

	snap := p.Snapshot()
	require.Equal(t, wall0, snap.Origin, "session origin")
	after := false
	for _, s := range snap.Segments {
		after = after || s.Discontinuity
		want, epoch := wall0.Add(s.Start), time.Duration(0)
		if after {
			want, epoch = want.Add(offset), f.start
		}
		requireNear(t, want, s.ProgramDateTime, 100*time.Millisecond, "segment %d (start %s) date", s.MSN, s.Start)
		require.Equal(t, epoch, s.Epoch, "segment %d: epoch (starts at the republish)", s.MSN)
	}
	require.True(t, after, "a discontinuity was listed")
}

// TestAnchorQuickRepublishKeepsClock: a republish whose clock is within
// anchorTolerance of the old one (no real outage, or a packager restart
// re-reading the hub's cache) keeps the old clock and epoch, so DASH does
// not split a Period for nothing.
func TestAnchorQuickRepublishKeepsClock(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	offset := time.Duration(0)
	f := &feeder{video: video, audio: audio, gop: 50, arrival: func(pkt *av.Packet) time.Time { return wall0.Add(pkt.DTS + offset) }}
	f.feed(t, p, 4*time.Second)
	f.vn, f.an = 0, 0
	f.start = 4*time.Second + 40*time.Millisecond
	offset = 30 * time.Millisecond // 70 ms outage
	f.disc = true
	f.feed(t, p, 8*time.Second)
	for _, s := range p.Snapshot().Segments {
		require.Equal(t, time.Duration(0), s.Epoch, "segment %d", s.MSN)
		require.Equal(t, wall0.Add(s.Start), s.ProgramDateTime, "segment %d date on the old clock", s.MSN)
	}
}

// TestAnchorIgnoresLateFirstPacket: on a loaded box the first keyframe
// arrived 0.4 s after the frames that followed it would place it; the
// clock is the smallest arrival−DTS over the first segment, so the date
// (and the DASH origin) are the real ones, not 0.4 s late. The same holds
// for the first keyframe after a republish.
func TestAnchorIgnoresLateFirstPacket(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	offset := time.Duration(0)
	late := map[time.Duration]bool{0: true}
	f := &feeder{video: video, audio: audio, gop: 50, arrival: func(pkt *av.Packet) time.Time {
		at := wall0.Add(pkt.DTS + offset)
		if late[pkt.DTS] && pkt.Kind() == av.KindVideo {
			at = at.Add(400 * time.Millisecond)
		}
		// A little jitter on the rest, always late.
		return at.Add(time.Duration(pkt.DTS/time.Millisecond%7) * time.Millisecond)
	}}
	f.feed(t, p, 1*time.Second)
	// While the first segment is open, its date is refined already.
	snap := p.Snapshot()
	requireNear(t, wall0, snap.Segments[0].ProgramDateTime, 10*time.Millisecond, "open first segment")
	f.feed(t, p, 6*time.Second)

	f.vn, f.an = 0, 0
	f.start = 6*time.Second + 40*time.Millisecond
	late[f.start] = true
	offset = 3*time.Second - 40*time.Millisecond
	f.disc = true
	f.feed(t, p, 12*time.Second)

	snap = p.Snapshot()
	requireNear(t, wall0, snap.Origin, 10*time.Millisecond, "origin")
	after := false
	for _, s := range snap.Segments {
		after = after || s.Discontinuity
		want := wall0.Add(s.Start)
		if after {
			want = want.Add(offset)
		}
		requireNear(t, want, s.ProgramDateTime, 10*time.Millisecond, "segment %d (start %s) date", s.MSN, s.Start)
	}
}
