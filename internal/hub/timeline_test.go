package hub

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// aacFrame is one AAC frame at 48 kHz (1024 samples).
const aacFrame = 1024 * time.Second / 48000

// avSource models a publisher sending 25 fps video and 48 kHz AAC in
// wall-clock order, each track stamped with its own clock: a packet sent at
// wall time w carries w+videoAt (video) or w+audioAt (audio).
type avSource struct {
	videoAt, audioAt time.Duration
}

type srcPacket struct {
	wall time.Duration
	pkt  *av.Packet
}

// packets returns the packets sent in the wall-clock span [from, to).
func (a avSource) packets(from, to time.Duration) []srcPacket {
	var out []srcPacket
	for w := from.Truncate(40 * time.Millisecond); w < to; w += 40 * time.Millisecond {
		if w < from {
			continue
		}
		ts := w + a.videoAt
		key := w%(2*time.Second) == 0
		out = append(out, srcPacket{w, &av.Packet{Track: testVideo, DTS: ts, PTS: ts + 80*time.Millisecond, Key: key, Data: make([]byte, 100)}})
	}
	for i := int64(from / aacFrame); ; i++ {
		w := time.Duration(i) * aacFrame
		if w < from {
			continue
		}
		if w >= to {
			break
		}
		ts := w + a.audioAt
		out = append(out, srcPacket{w, &av.Packet{Track: testAudio, DTS: ts, PTS: ts, Key: true, Data: make([]byte, 10)}})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].wall < out[j].wall })
	return out
}

// publish writes the packets and returns them split by kind, as rebased.
// Audio packets the hub dropped (stamped before the timeline's start) are
// left out.
func publish(t *testing.T, p *Publisher, pkts []srcPacket) (video, audio []*av.Packet) {
	t.Helper()
	for _, sp := range pkts {
		before := p.s.packetsIn.Load()
		require.NoError(t, p.WritePacket(sp.pkt))
		sp.pkt.Arrival = time.Time{}.Add(sp.wall) // remembered for the test
		if p.s.packetsIn.Load() == before {
			continue
		}
		if sp.pkt.Kind() == av.KindVideo {
			video = append(video, sp.pkt)
		} else {
			audio = append(audio, sp.pkt)
		}
	}
	return video, audio
}

// requireSteady checks that each track advances by its own frame duration
// (within 1 ms, for the rounding of AAC frames) and strictly.
func requireSteady(t *testing.T, what string, pkts []*av.Packet, step time.Duration) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		d := pkts[i].DTS - pkts[i-1].DTS
		require.Greater(t, d, time.Duration(0), "%s packet %d: DTS %v after %v", what, i, pkts[i].DTS, pkts[i-1].DTS)
		require.InDelta(t, float64(step), float64(d), float64(time.Millisecond),
			"%s packet %d: DTS step %v, want the track's own %v", what, i, d, step)
	}
}

func timelinePublisher(t *testing.T) *Publisher {
	t.Helper()
	h := quietHub(Options{})
	p, err := h.Publish("live/t", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	return p
}

// A publisher whose audio timestamps run 1.5 s ahead of its video (a
// hardware encoder, an OBS sync offset) is not a timestamp jump: nothing is
// rebased, each track advances at its own rate, the timeline starts at 0
// and the A/V offset reaches viewers as sent. (Comparing every packet with
// one DTS for both tracks rebased on every video frame: the video timeline
// ran 1.5 s ahead per frame.)
func TestAudioAheadOfVideoIsNotAJump(t *testing.T) {
	for _, c := range []struct {
		name string
		src  avSource
	}{
		{"audio 1.5s ahead", avSource{videoAt: 7 * time.Second, audioAt: 8500 * time.Millisecond}},
		{"audio 1.5s behind", avSource{videoAt: 8500 * time.Millisecond, audioAt: 7 * time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := timelinePublisher(t)
			video, audio := publish(t, p, c.src.packets(0, 10*time.Second))
			require.Zero(t, p.jumps, "no timestamp jump rebased")
			requireSteady(t, "video", video, 40*time.Millisecond)
			requireSteady(t, "audio", audio, aacFrame)
			span := video[len(video)-1].DTS - video[0].DTS
			require.Equal(t, 9960*time.Millisecond, span, "10 s of video is 10 s of timeline")
			wall := func(p *av.Packet) time.Duration { return p.Arrival.Sub(time.Time{}) }
			require.Equal(t, c.src.audioAt-c.src.videoAt, (audio[0].DTS-wall(audio[0]))-(video[0].DTS-wall(video[0])),
				"the publisher's A/V offset is kept")
			require.Equal(t, 80*time.Millisecond, video[5].PTS-video[5].DTS, "composition offsets are kept")
			require.Equal(t, time.Duration(0), video[0].DTS, "the timeline starts at 0")
			require.GreaterOrEqual(t, audio[0].DTS, time.Duration(0), "nothing before 0")
		})
	}
}

// A publisher whose clock starts far from 0 (an encoder that has been up
// for days, a 32-bit RTMP clock near its wrap) starts the stream timeline
// at 0.
func TestTimelineStartsAtZero(t *testing.T) {
	p := timelinePublisher(t)
	base := time.Duration(1<<32-5000) * time.Millisecond
	video, audio := publish(t, p, avSource{videoAt: base, audioAt: base}.packets(0, time.Second))
	require.Equal(t, time.Duration(0), video[0].DTS)
	require.Equal(t, time.Duration(0), audio[0].DTS)
	require.Equal(t, 80*time.Millisecond, video[0].PTS, "PTS moves with DTS")
	require.Equal(t, 960*time.Millisecond, video[len(video)-1].DTS)
	require.Zero(t, p.jumps)
}

// A publisher whose timestamps jump hours ahead, or back to 0, on both
// tracks at once is rebased once, as one: each track continues just after
// its previous packet (never on it: no zero-length sample) and the A/V
// offset survives.
func TestRealJumpRebasesOnceAsOne(t *testing.T) {
	for _, jump := range []time.Duration{3 * time.Hour, -4500 * time.Millisecond} {
		t.Run(jump.String(), func(t *testing.T) {
			p := timelinePublisher(t)
			src := avSource{videoAt: 5 * time.Second, audioAt: 6500 * time.Millisecond}
			v1, a1 := publish(t, p, src.packets(0, 3*time.Second))
			src.videoAt += jump
			src.audioAt += jump
			v2, a2 := publish(t, p, src.packets(3*time.Second, 6*time.Second))
			require.Equal(t, 1, p.jumps, "one rebase for the whole stream")
			video, audio := append(v1, v2...), append(a1, a2...)
			requireSteady(t, "video", video, 40*time.Millisecond)
			requireSteady(t, "audio", audio, aacFrame)
			// The same wall-clock instant on both tracks keeps its offset.
			require.InDelta(t, float64(1500*time.Millisecond), float64(a2[len(a2)-1].DTS-v2[len(v2)-1].DTS),
				float64(45*time.Millisecond), "A/V offset after the jump")
		})
	}
}

// A track whose clock does not follow the other's jump (audio restarting
// at 0 while video runs on) gets a correction of its own: one rebase per
// track, not one per packet, and both tracks keep advancing.
func TestTrackThatDoesNotFollowAJumpIsCorrectedAlone(t *testing.T) {
	p := timelinePublisher(t)
	src := avSource{videoAt: 20 * time.Second, audioAt: 20 * time.Second}
	v1, a1 := publish(t, p, src.packets(0, 3*time.Second))
	src.audioAt -= 23 * time.Second // audio's clock restarts; video's runs on
	v2, a2 := publish(t, p, src.packets(3*time.Second, 6*time.Second))
	require.LessOrEqual(t, p.jumps, 2)
	requireSteady(t, "video", append(v1, v2...), 40*time.Millisecond)
	requireSteady(t, "audio", append(a1, a2...), aacFrame)
}

// A sparse track is not a jump: video that pauses for 15 s while audio runs
// on (a slide show, a camera switched off) comes back at its own time, on
// the audio's timeline, without a rebase.
func TestSparseVideoCatchesUpWithoutARebase(t *testing.T) {
	p := timelinePublisher(t)
	var video, audio []*av.Packet
	for _, sp := range (avSource{}).packets(0, 20*time.Second) {
		if w := sp.wall; sp.pkt.Kind() == av.KindVideo && w >= 2*time.Second && w < 17*time.Second {
			continue // the video pause
		}
		require.NoError(t, p.WritePacket(sp.pkt))
		if sp.pkt.Kind() == av.KindVideo {
			video = append(video, sp.pkt)
		} else {
			audio = append(audio, sp.pkt)
		}
	}
	require.Zero(t, p.jumps)
	requireSteady(t, "audio", audio, aacFrame)
	require.Equal(t, 17*time.Second, video[50].DTS, "video resumes at its own time")
}

// A new publisher within the grace period continues the timeline: every
// track's first packet lands strictly after that track's last one, even
// when the new publisher's audio runs ahead of its video.
func TestRepublishLandsAfterEveryTrack(t *testing.T) {
	h := quietHub(Options{RepublishGrace: time.Minute})
	p, err := h.Publish("live/t", ClientInfo{})
	require.NoError(t, err)
	p.Announce(true, true)
	v1, a1 := publish(t, p, avSource{}.packets(0, 2*time.Second))
	p.Close("test")
	p2, err := h.Publish("live/t", ClientInfo{})
	require.NoError(t, err)
	v2, a2 := publish(t, p2, avSource{audioAt: 800 * time.Millisecond}.packets(0, 2*time.Second))
	require.Greater(t, v2[0].DTS, v1[len(v1)-1].DTS)
	require.Greater(t, a2[0].DTS, a1[len(a1)-1].DTS)
	requireSteady(t, "video of the new publisher", v2, 40*time.Millisecond)
	requireSteady(t, "audio of the new publisher", a2, aacFrame)
	require.True(t, v2[0].Discontinuity || a2[0].Discontinuity, "the first packet of the new publisher is flagged")
}

// Renditions of a transcoder keep their source's timestamps (they start
// where the source was when they joined it, not at 0).
func TestKeepTimestamps(t *testing.T) {
	p := timelinePublisher(t)
	p.KeepTimestamps()
	src := avSource{videoAt: 42 * time.Second, audioAt: 42 * time.Second}
	video, _ := publish(t, p, src.packets(0, time.Second))
	require.Equal(t, 42*time.Second, video[0].DTS)
	// The transcoder restarts 30 s later, the source having run on: its
	// timestamps are still the source's.
	video, _ = publish(t, p, src.packets(31*time.Second, 32*time.Second))
	require.Equal(t, 73*time.Second, video[0].DTS, "a forward gap of a rendition is kept")
	require.Zero(t, p.jumps)
}

// A reader keeping up with a publisher whose audio runs ahead is not
// lagging: lag is measured within each track, so the A/V offset does not
// count as lag (measured against the newest packet of any track, the
// reader skipped a GOP on every keyframe).
func TestAudioAheadIsNotLag(t *testing.T) {
	h := quietHub(Options{MaxLag: 3 * time.Second, MaxSkips: 100})
	p, err := h.Publish("live/t", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	src := avSource{audioAt: 4 * time.Second}
	r, err := h.Subscribe(context.Background(), "live/t", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer r.Close()
	var frames int
	// Read after every 600 ms of media: keyframes (every 2 s) fall inside
	// batches, so the reader is behind the newest keyframe each time.
	for w := time.Duration(0); w < 10200*time.Millisecond; w += 600 * time.Millisecond {
		v, a := publish(t, p, src.packets(w, w+600*time.Millisecond))
		for _, pk := range readN(t, r, len(v)+len(a)) {
			if pk.Kind() == av.KindVideo {
				frames++
			}
		}
	}
	require.Zero(t, r.Skips(), "a reader that keeps up never skips")
	require.Equal(t, 255, frames, "every video frame read")
}
