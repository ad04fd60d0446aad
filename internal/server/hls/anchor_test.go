package hlsserver

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/packager"
)

// TestProgramDateTimeFollowsWallClockAfterRepublish: the publisher goes
// away for 3 s and the hub continues the timeline 40 ms on, so media
// time runs 2.96 s behind the wall clock from then on. The playlist's
// EXT-X-PROGRAM-DATE-TIME (RFC 8216bis §4.4.4.6) after the
// EXT-X-DISCONTINUITY must still be the wall time each segment was
// published at, within 100 ms; before, it stayed on the first
// publisher's clock for the rest of the session.
func TestProgramDateTimeFollowsWallClockAfterRepublish(t *testing.T) {
	wall0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	const outage = 3 * time.Second
	resume := 8 * time.Second // the old publisher's last frame was at 7.96 s
	video, audio := testTracks(t)
	p := packager.New(packager.Options{})
	require.NoError(t, p.SetTracks(video, audio))
	wallOf := func(media time.Duration) time.Time {
		if media >= resume {
			return wall0.Add(media + outage - 40*time.Millisecond)
		}
		return wall0.Add(media)
	}
	for _, pkt := range packets(video, audio, 0, resume-40*time.Millisecond, 100) {
		pkt.Arrival = wallOf(pkt.DTS)
		require.NoError(t, p.WritePacket(pkt))
	}
	for i, pkt := range packets(video, audio, resume, 7*time.Second, 100) {
		pkt.Arrival, pkt.Discontinuity = wallOf(pkt.DTS), i == 0
		require.NoError(t, p.WritePacket(pkt))
	}
	snap := p.Snapshot()
	pl := string(renderPlaylist(snap, playlistOptions{lowLatency: true}))
	k, disc := 0, false
	for _, line := range strings.Split(pl, "\n") {
		if line == "#EXT-X-DISCONTINUITY" {
			disc = true
		}
		v, ok := strings.CutPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:")
		if !ok {
			continue
		}
		require.Less(t, k, len(snap.Segments), "more dates than segments:\n%s", pl)
		seg := snap.Segments[k]
		k++
		got, err := time.Parse(time.RFC3339Nano, v)
		require.NoError(t, err)
		want := wallOf(seg.Start)
		d := got.Sub(want)
		require.Truef(t, d < 100*time.Millisecond && d > -100*time.Millisecond,
			"segment %d (media %s, after discontinuity %v): date %s, published at %s (off by %s)\n%s",
			seg.MSN, seg.Start, disc, v, want.Format(time.RFC3339Nano), d, pl)
	}
	require.True(t, disc, "the republish is listed:\n%s", pl)
	require.Equal(t, len(snap.Segments), k, "one date per segment")
}

// TestNoPreloadHintAcrossRepublish: a republish closes the open segment
// as soon as the new publisher's first packet arrives, and the next
// segment begins only at its first keyframe. In between, the playlist must
// not hint the next part: a client (hls.js) loads a hinted part as the
// continuation of the old timeline, before any playlist shows the
// EXT-X-DISCONTINUITY in front of it. Once the new segment exists the
// playlist lists the discontinuity and hints again.
func TestNoPreloadHintAcrossRepublish(t *testing.T) {
	video, audio := testTracks(t)
	p := packager.New(packager.Options{AlignMSN: true})
	require.NoError(t, p.SetTracks(video, audio))
	for _, pkt := range packets(video, audio, 0, 5*time.Second, 100) {
		require.NoError(t, p.WritePacket(pkt))
	}
	o := playlistOptions{lowLatency: true}
	require.Contains(t, string(renderPlaylist(p.Snapshot(), o)), "#EXT-X-PRELOAD-HINT:", "live: the next part is hinted")

	// The new publisher's first packet is audio (flagged by the hub); its
	// first keyframe follows.
	next := packets(video, audio, 6*time.Second, 2*time.Second, 100)
	for i, pkt := range next {
		if pkt.Kind() == audio.Kind() {
			next[0], next[i] = next[i], next[0]
			break
		}
	}
	require.Equal(t, audio.Kind(), next[0].Kind())
	next[0].Discontinuity = true
	require.NoError(t, p.WritePacket(next[0]))
	pl := string(renderPlaylist(p.Snapshot(), o))
	require.NotContains(t, pl, "#EXT-X-PRELOAD-HINT:", "a discontinuity is pending: no hint of the new publisher's first part\n%s", pl)
	require.NotContains(t, pl, "#EXT-X-ENDLIST", "still live")

	for _, pkt := range next[1:] {
		require.NoError(t, p.WritePacket(pkt))
	}
	pl = string(renderPlaylist(p.Snapshot(), o))
	require.Contains(t, pl, "#EXT-X-DISCONTINUITY\n", pl)
	require.Contains(t, pl, "#EXT-X-PRELOAD-HINT:", "the new segment is listed: hints again\n%s", pl)
}
