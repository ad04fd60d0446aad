package dashserver

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// republished runs a real packager over 25 fps video (2 s GOP) whose
// publisher goes away at 6 s for outage and comes back; the hub continues
// the timeline 40 ms on (the first packet flagged as a discontinuity).
// Packets arrive at wall0 + media time (+ outage − 40 ms after the
// republish); wallOf maps a segment start onto that arrival.
func republished(t *testing.T, wall0 time.Time, outage time.Duration) (snap *packager.Snapshot, wallOf func(time.Duration) time.Time) {
	t.Helper()
	sps := []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	pps := []byte{0x68, 0xee, 0x3c, 0x80}
	rec := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(sps)))
	rec = append(append(rec, sps...), 1)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(pps)))
	rec = append(rec, pps...)
	video, err := av.NewTrack(av.CodecH264, rec)
	require.NoError(t, err)
	p := packager.New(packager.Options{})
	require.NoError(t, p.SetTracks(video, nil))
	resume := 6*time.Second + 40*time.Millisecond
	wallOf = func(media time.Duration) time.Time {
		if media >= resume {
			return wall0.Add(media + outage - 40*time.Millisecond)
		}
		return wall0.Add(media)
	}
	write := func(from, to time.Duration, disc bool) {
		for n := 0; ; n++ {
			ts := from + time.Duration(n)*40*time.Millisecond
			if ts >= to {
				return
			}
			key := n%50 == 0
			nal := byte(0x41)
			if key {
				nal = 0x65
			}
			require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: ts, PTS: ts, Key: key,
				Data: []byte{0, 0, 0, 5, nal, 0x88, 0x84, 0x00, 0x33}, Arrival: wallOf(ts), Discontinuity: disc && n == 0}))
		}
	}
	write(0, 6*time.Second, false)
	write(resume, 14*time.Second, true)
	return p.Snapshot(), wallOf
}

func parseXSDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(s, "PT"), "S"), 64)
	require.NoError(t, err, "xs:duration %q", s)
	return time.Duration(v * float64(time.Second))
}

// TestMPDTimesFollowWallClockAfterRepublish: after a 3 s outage the
// media timeline (continued by the hub 40 ms on) is 2.96 s behind the
// wall clock. Every listed segment's MPD time — availabilityStartTime +
// Period@start + (t − presentationTimeOffset)/timescale, ISO/IEC 23009-1
// §5.3.9.6 — must still be the wall time it was published at, or dash.js
// aims at a latency it cannot reach (rate pinned at 1.5×, rebuffers).
// The republish opens a new Period; availabilityStartTime stays put.
func TestMPDTimesFollowWallClockAfterRepublish(t *testing.T) {
	wall0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	snap, wallOf := republished(t, wall0, 3*time.Second)
	m := buildMPD(snap, testOptions())
	ast, err := time.Parse(time.RFC3339Nano, m.AvailabilityStartTime)
	require.NoError(t, err)
	require.Equal(t, wall0, ast, "availabilityStartTime: the first publisher's media time 0")

	seen := 0
	var prevStart time.Duration = -1
	for _, per := range m.Periods {
		start := parseXSDuration(t, per.Start)
		require.Greater(t, start, prevStart, "Periods in time order: %+v", m.Periods)
		prevStart = start
		st := per.AdaptationSets[0].SegmentTemplate
		var at uint64
		for _, s := range st.SegmentTimeline.S {
			if s.T != nil {
				at = *s.T
			}
			if s.R < 0 {
				break // the open end: not a listed segment
			}
			for r := 0; r <= int(s.R); r++ {
				media := time.Duration(at) * time.Second / time.Duration(st.Timescale)
				pres := start + time.Duration(at-st.PresentationTimeOffset)*time.Second/time.Duration(st.Timescale)
				got, want := ast.Add(pres), wallOf(media)
				d := got.Sub(want)
				require.Truef(t, d < 100*time.Millisecond && d > -100*time.Millisecond,
					"segment at media %s (Period %s start %s): MPD time %s, published at %s (off by %s)",
					media, per.ID, per.Start, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), d)
				seen++
				at += s.D
			}
		}
	}
	require.GreaterOrEqual(t, seen, 6, "segments checked")
	require.Len(t, m.Periods, 2, "the republish that moved the clock opens a Period")
}

// TestShiftedTrackSegment: the answer to a stale client across a
// republish (stale.go) is the same samples with every fragment's tfdt
// advanced by the shift, and the packager's own fragments untouched.
func TestShiftedTrackSegment(t *testing.T) {
	snap, _ := republished(t, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), 3*time.Second)
	var seg *packager.Segment
	for i := range snap.Segments {
		if snap.Segments[i].Discontinuity {
			seg = &snap.Segments[i]
			break
		}
	}
	require.NotNil(t, seg)
	base := func(bufs [][]byte) []uint64 {
		var ps fmp4.Parts
		require.NoError(t, ps.Unmarshal(bytes.Join(bufs, nil)))
		var out []uint64
		for _, p := range ps {
			out = append(out, p.Tracks[0].BaseTime)
		}
		return out
	}
	orig := base(trackSegment(seg.Parts, trackVideo))
	shifted := base(shiftedTrackSegment(seg.Parts, trackVideo, 270000))
	require.Len(t, shifted, len(orig))
	for i := range orig {
		require.Equal(t, orig[i]+270000, shifted[i], "fragment %d tfdt", i)
	}
	require.Equal(t, orig, base(trackSegment(seg.Parts, trackVideo)), "the packager's fragments are not modified")
	require.Equal(t, uint32(90000), trackTimescale(seg.Init, trackVideo))
}

// TestStaleRequestAcrossRepublish: the old Period's open end addresses the
// new publisher's first segment at about a target duration after the old
// publisher's last segment start (which the republish cut short); that
// request, by the old Period's name, gets the new first segment with the
// clocks' difference as its shift, while the new Period's own name for it
// gets it unshifted and an old-Period name elsewhere gets nothing.
func TestStaleRequestAcrossRepublish(t *testing.T) {
	snap, _ := republished(t, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), 3*time.Second)
	m := buildMPD(snap, testOptions())
	require.Len(t, m.Periods, 2)
	require.Contains(t, m.Periods[1].AdaptationSets[0].SegmentTemplate.Media, "_v_e6040_t$Time$.m4s", "the new Period's names carry its clock epoch")
	require.NotContains(t, m.Periods[0].AdaptationSets[0].SegmentTemplate.Media, "_e")
	k := 0
	for !snap.Segments[k].Discontinuity {
		k++
	}
	from, first := &snap.Segments[k-1], &snap.Segments[k]
	key := periodKey(first)
	require.Equal(t, int64(6040), key)

	msn, ok := segmentAt(snap, ticks(first.Start, 90000), key)
	require.True(t, ok)
	require.Equal(t, first.MSN, msn, "the new Period's own address")
	_, ok = segmentAt(snap, ticks(first.Start, 90000), -1)
	require.False(t, ok, "not by the old Period's name")

	predicted := ticks(from.Start+2*time.Second, 90000)
	msn, match, ok := nextSegmentAt(snap, predicted, -1)
	require.True(t, ok, "the old Period's open end")
	require.Equal(t, first.MSN, msn)
	ok, shift := match(first)
	require.True(t, ok)
	require.Equal(t, 3*time.Second-40*time.Millisecond, shift)

	_, _, ok = nextSegmentAt(snap, ticks(from.Start+5*time.Second, 90000), -1)
	require.False(t, ok, "the old Period is over: nothing else by its name")
}
