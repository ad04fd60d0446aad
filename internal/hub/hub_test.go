package hub

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

var (
	testVideo = &av.Track{Codec: av.CodecH264, Config: []byte{1}}
	testAudio = &av.Track{Codec: av.CodecAAC, Config: []byte{0x12, 0x10}}
)

func quietHub(o Options) *Hub {
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(o)
}

// feed writes n video frames at 25 fps (a keyframe every gop frames) with an
// audio frame after each, starting at media time start.
func feed(t *testing.T, p *Publisher, start time.Duration, n, gop int) {
	t.Helper()
	for i := 0; i < n; i++ {
		ts := start + time.Duration(i)*40*time.Millisecond
		require.NoError(t, p.WritePacket(&av.Packet{Track: testVideo, DTS: ts, PTS: ts, Key: i%gop == 0, Data: make([]byte, 1000)}))
		require.NoError(t, p.WritePacket(&av.Packet{Track: testAudio, DTS: ts, PTS: ts, Key: true, Data: make([]byte, 100)}))
	}
}

func readN(t *testing.T, r *Reader, n int) []*av.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []*av.Packet
	buf := make([]*av.Packet, 0, 16)
	for len(out) < n {
		got, err := r.Read(ctx, buf[:0])
		require.NoError(t, err, "after %d of %d packets", len(out), n)
		out = append(out, got...)
	}
	return out
}

func TestSubscribeStartsAtNewestKeyframe(t *testing.T) {
	h := quietHub(Options{})
	p, err := h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	feed(t, p, 0, 25, 10) // keyframes at frames 0, 10, 20

	r, err := h.Subscribe(context.Background(), "live/a", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer r.Close()
	// The cached GOP (5 video + 5 audio) is there without waiting.
	got := readN(t, r, 10)
	require.Len(t, got, 10)
	require.Equal(t, av.KindVideo, got[0].Kind())
	require.True(t, got[0].Key, "first packet must be a keyframe")
	require.Equal(t, 20*40*time.Millisecond, got[0].DTS, "must start at the newest keyframe (frame 20)")
}

func TestSecondPublisherIsBusy(t *testing.T) {
	h := quietHub(Options{})
	p, err := h.Publish("live/a", ClientInfo{})
	require.NoError(t, err)
	_, err = h.Publish("live/a", ClientInfo{})
	require.ErrorIs(t, err, ErrBusy)
	require.NoError(t, p.WritePacket(&av.Packet{Track: testAudio, Key: true}), "first publisher keeps publishing")
}

func TestUnknownPathNotFound(t *testing.T) {
	h := quietHub(Options{})
	_, err := h.Subscribe(context.Background(), "live/none", ClientInfo{})
	require.ErrorIs(t, err, ErrNotFound)
}

func TestSubscribeWaitsForAnnounce(t *testing.T) {
	h := quietHub(Options{WaitTimeout: 50 * time.Millisecond})
	_, err := h.Publish("live/a", ClientInfo{})
	require.NoError(t, err)
	_, err = h.Subscribe(context.Background(), "live/a", ClientInfo{})
	require.ErrorIs(t, err, ErrNotReady)
}

func TestLaggingReaderSkipsToKeyframeThenIsDropped(t *testing.T) {
	h := quietHub(Options{MaxLag: time.Second, MaxSkips: 2})
	p, _ := h.Publish("live/a", ClientInfo{})
	p.Announce(true, true)
	feed(t, p, 0, 1, 10)
	r, err := h.Subscribe(context.Background(), "live/a", ClientInfo{})
	require.NoError(t, err)
	defer r.Close()

	start := time.Duration(0)
	for i := 1; i <= 2; i++ {
		start += 4 * time.Second
		feed(t, p, start, 100, 10) // 4 s of media, far beyond MaxLag
		got := readN(t, r, 20)     // exactly the newest GOP: 10 video + 10 audio
		require.Len(t, got, 20)
		require.True(t, got[0].Key && got[0].Kind() == av.KindVideo, "skip %d lands on a video keyframe", i)
		require.Equal(t, start+90*40*time.Millisecond, got[0].DTS, "skip %d lands on the newest keyframe", i)
	}
	require.EqualValues(t, 2, r.Skips())
	start += 4 * time.Second
	feed(t, p, start, 100, 10)
	_, err = r.Read(context.Background(), nil)
	require.ErrorIs(t, err, ErrLagging)
}

func TestRingIsBounded(t *testing.T) {
	h := quietHub(Options{MaxLag: time.Second, MaxBufferBytes: 200_000})
	p, _ := h.Publish("live/a", ClientInfo{})
	p.Announce(true, true)
	feed(t, p, 0, 2000, 50) // 80 s of media, 2.2 MB
	st := p.Stream().Stats()
	require.LessOrEqual(t, st.BufferedBytes, 200_000)
	// GOP (2 s) retained even though MaxLag is 1 s: from the newest keyframe.
	require.LessOrEqual(t, st.BufferedPackets, 2*50+2)
}

func TestRepublishContinuesTimelineWithDiscontinuity(t *testing.T) {
	h := quietHub(Options{RepublishGrace: time.Minute})
	p, _ := h.Publish("live/a", ClientInfo{})
	p.Announce(true, true)
	feed(t, p, 0, 10, 10)
	r, err := h.Subscribe(context.Background(), "live/a", ClientInfo{})
	require.NoError(t, err)
	defer r.Close()
	readN(t, r, 20)
	p.Close("test")

	_, err = h.Subscribe(context.Background(), "live/a", ClientInfo{})
	require.NoError(t, err, "stream outlives its publisher during the grace period")

	p2, err := h.Publish("live/a", ClientInfo{})
	require.NoError(t, err)
	feed(t, p2, 0, 10, 10) // the new publisher starts its clock at 0 again
	got := readN(t, r, 1)
	require.True(t, got[0].Discontinuity)
	require.Equal(t, 9*40*time.Millisecond+republishGap, got[0].DTS, "timeline continues after the last packet")
}

func TestGraceExpiryEndsStream(t *testing.T) {
	h := quietHub(Options{RepublishGrace: 20 * time.Millisecond})
	p, _ := h.Publish("live/a", ClientInfo{})
	p.Announce(false, true)
	feed(t, p, 0, 2, 10)
	r, err := h.Subscribe(context.Background(), "live/a", ClientInfo{})
	require.NoError(t, err)
	p.Close("test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		_, err = r.Read(ctx, nil)
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, ErrEnded)
	require.Nil(t, h.Stream("live/a"))
	_, err = h.Publish("live/a", ClientInfo{})
	require.NoError(t, err, "the path is free again")
}

func TestCloseEndsReaders(t *testing.T) {
	h := quietHub(Options{})
	p, _ := h.Publish("live/a", ClientInfo{})
	p.Announce(false, true)
	r, err := h.Subscribe(context.Background(), "live/a", ClientInfo{})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { _, err := r.Read(context.Background(), nil); done <- err }()
	h.Close()
	select {
	case err := <-done:
		require.True(t, errors.Is(err, ErrEnded), "got %v", err)
	case <-time.After(2 * time.Second):
		t.Fatal("reader not woken by Close")
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("publisher not kicked by Close")
	}
	_, err = h.Publish("live/b", ClientInfo{})
	require.ErrorIs(t, err, ErrClosed)
}

func TestWaitVideo(t *testing.T) {
	h := quietHub(Options{})
	p, err := h.Publish("live/w", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	st := p.Stream()

	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	require.Nil(t, st.WaitVideo(short), "no video packet yet: nil when ctx ends")
	cancel()

	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = p.WritePacket(&av.Packet{Track: testAudio, Key: true, Data: []byte{1}})
		_ = p.WritePacket(&av.Packet{Track: testVideo, Key: true, Data: []byte{2}})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.Same(t, testVideo, st.WaitVideo(ctx), "woken by the first video packet")

	q, err := h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	q.Announce(false, true)
	start := time.Now()
	require.Nil(t, q.Stream().WaitVideo(ctx))
	require.Less(t, time.Since(start), time.Second, "an audio-only stream does not wait")
}
