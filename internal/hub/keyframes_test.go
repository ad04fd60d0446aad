package hub

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// writeVideo writes 25 fps video frames n0..n1-1 (keyframes where key says)
// with an audio frame after each.
func writeVideo(t *testing.T, p *Publisher, n0, n1 int, key func(i int) bool) {
	t.Helper()
	for i := n0; i < n1; i++ {
		ts := time.Duration(i) * 40 * time.Millisecond
		require.NoError(t, p.WritePacket(&av.Packet{Track: testVideo, DTS: ts, PTS: ts, Key: key(i), Data: make([]byte, 500)}))
		require.NoError(t, p.WritePacket(&av.Packet{Track: testAudio, DTS: ts, PTS: ts, Key: true, Data: make([]byte, 50)}))
	}
}

func onlyFirst(i int) bool { return i == 0 }

// A publisher that sent one keyframe a minute ago (a WebRTC encoder nobody
// asked for another) does not hand a new reader the minute of backlog: the
// cached GOP expires after MaxGOPDuration, the reader starts at the next
// keyframe, and the publisher is asked for one as the reader starts.
func TestGOPCacheIsBoundedByDuration(t *testing.T) {
	h := quietHub(Options{MaxGOPDuration: 3 * time.Second})
	p, err := h.Publish("live/g", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	writeVideo(t, p, 0, 1500, onlyFirst) // 60 s, one keyframe at 0
	require.Empty(t, p.KeyframeRequests(), "nobody waited for a keyframe yet")

	r, err := h.Subscribe(context.Background(), "live/g", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer r.Close()
	select {
	case why := <-p.KeyframeRequests():
		require.Contains(t, why, "keyframe")
	default:
		t.Fatal("a reader that must wait for a keyframe asks the publisher for one")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	got, err := r.Read(ctx, nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "no backlog: got %d packets", len(got))

	writeVideo(t, p, 1500, 1510, func(i int) bool { return i == 1502 })
	got = readN(t, r, 15) // frames 1502..1509 with audio
	require.True(t, got[0].Key && got[0].Kind() == av.KindVideo, "starts at the new keyframe")
	require.Equal(t, 1502*40*time.Millisecond, got[0].DTS)
	require.Less(t, got[len(got)-1].DTS-got[0].DTS, 3*time.Second, "at most MaxGOPDuration of backlog")
	require.EqualValues(t, 1, p.Stream().Stats().KeyframeRequests)
}

// Within MaxGOPDuration the GOP cache starts readers at once, as before.
func TestYoungGOPStillStartsReadersAtOnce(t *testing.T) {
	h := quietHub(Options{MaxGOPDuration: 3 * time.Second})
	p, err := h.Publish("live/g", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	writeVideo(t, p, 0, 70, onlyFirst) // 2.8 s
	r, err := h.Subscribe(context.Background(), "live/g", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer r.Close()
	got := readN(t, r, 140)
	require.True(t, got[0].Key)
	require.Equal(t, time.Duration(0), got[0].DTS)
	require.Empty(t, p.KeyframeRequests())
}

// On the segment grid: a stream without a keyframe for KeyframeInterval
// asks its publisher for one, again every keyframeRetry while none comes,
// and not at all while keyframes come on time.
func TestKeyframeRequestedOnTheSegmentGrid(t *testing.T) {
	h := quietHub(Options{KeyframeInterval: 2 * time.Second})
	p, err := h.Publish("live/g", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	var asked []int
	ask := func(n0, n1 int, key func(int) bool) {
		for i := n0; i < n1; i++ {
			writeVideo(t, p, i, i+1, key)
			select {
			case <-p.KeyframeRequests():
				asked = append(asked, i)
			default:
			}
		}
	}
	every50 := func(i int) bool { return i%50 == 0 }
	ask(0, 125, every50)
	require.Empty(t, asked, "keyframes every 2 s need no asking")
	ask(125, 250, onlyFirst)
	// The last keyframe was frame 100: frame 150 is 2 s after it, then
	// every second while none comes.
	require.Equal(t, []int{150, 175, 200, 225}, asked)
	asked = nil
	ask(250, 260, func(i int) bool { return i == 250 })
	require.Empty(t, asked, "a keyframe came: no more asking")
}

// A consumer may ask for a keyframe itself (Stream.RequestKeyframe);
// requests that come while one is pending are merged, and nothing is asked
// while the stream has no publisher.
func TestRequestKeyframe(t *testing.T) {
	h := quietHub(Options{RepublishGrace: time.Minute})
	p, err := h.Publish("live/k", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	st := p.Stream()
	st.RequestKeyframe("packager started")
	st.RequestKeyframe("another consumer")
	require.Equal(t, "packager started", <-p.KeyframeRequests())
	require.Empty(t, p.KeyframeRequests(), "merged into the pending one")
	require.EqualValues(t, 1, st.Stats().KeyframeRequests)
	p.Close("test")
	st.RequestKeyframe("no publisher")
	require.EqualValues(t, 1, st.Stats().KeyframeRequests)
}
