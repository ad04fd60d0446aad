package hub

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

func TestClientsListsReadersWithIDs(t *testing.T) {
	h := quietHub(Options{})
	p, err := h.Publish("live/a", ClientInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	p.Announce(true, true)
	feed(t, p, 0, 5, 5)
	s := h.Stream("live/a")
	require.Empty(t, s.Clients())

	r1, err := h.Subscribe(context.Background(), "live/a", ClientInfo{Protocol: "rtmp", Remote: "10.0.0.1:1"})
	require.NoError(t, err)
	defer r1.Close()
	r2, err := h.Subscribe(context.Background(), "live/a", ClientInfo{Protocol: "ws-flv", Remote: "10.0.0.2:2"})
	require.NoError(t, err)

	cs := s.Clients()
	require.Len(t, cs, 2)
	require.Equal(t, r1.ID(), cs[0].ID)
	require.Equal(t, r2.ID(), cs[1].ID)
	require.NotZero(t, cs[0].ID)
	require.NotEqual(t, cs[0].ID, cs[1].ID)
	require.Equal(t, "rtmp", cs[0].Protocol)
	require.Equal(t, "10.0.0.2:2", cs[1].Remote)
	require.False(t, cs[0].Since.IsZero())

	r2.Close()
	require.Len(t, s.Clients(), 1)
}

// A reader blocked in Read (nothing new to read) returns ErrKicked promptly
// when kicked; the other readers and the publisher carry on.
func TestKickReaderWakesBlockedRead(t *testing.T) {
	h := quietHub(Options{})
	p, err := h.Publish("live/a", ClientInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	p.Announce(true, true)
	feed(t, p, 0, 5, 5)

	victim, err := h.Subscribe(context.Background(), "live/a", ClientInfo{Protocol: "http-flv"})
	require.NoError(t, err)
	defer victim.Close()
	other, err := h.Subscribe(context.Background(), "live/a", ClientInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	defer other.Close()
	readN(t, victim, 10) // drain the GOP cache: the next Read blocks
	readN(t, other, 10)

	errc := make(chan error, 1)
	go func() {
		_, err := victim.Read(context.Background(), nil)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it block
	require.True(t, h.KickReader(victim.ID()))
	select {
	case err := <-errc:
		require.ErrorIs(t, err, ErrKicked)
	case <-time.After(2 * time.Second):
		t.Fatal("kicked reader's Read did not return")
	}
	require.False(t, h.KickReader(victim.ID()), "kicking twice reports false")
	require.False(t, h.KickReader(0))

	// Kicked stays kicked, even with packets waiting.
	feed(t, p, 200*time.Millisecond, 2, 5)
	_, err = victim.Read(context.Background(), nil)
	require.ErrorIs(t, err, ErrKicked)
	cs := h.Stream("live/a").Clients()
	require.Len(t, cs, 2)
	require.True(t, cs[0].Kicked)

	require.Len(t, readN(t, other, 4), 4, "other readers keep reading")
	require.NoError(t, p.WritePacket(&av.Packet{Track: testAudio, DTS: time.Second, PTS: time.Second, Key: true}))
}

func TestStreamKickEndsStreamAndPublisher(t *testing.T) {
	h := quietHub(Options{})
	p, err := h.Publish("live/a", ClientInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	p.Announce(false, true)
	s := h.Stream("live/a")
	require.True(t, s.Kick("kicked by test"))
	require.False(t, s.Kick("again"))
	select {
	case <-p.Done():
	default:
		t.Fatal("publisher not told to stop")
	}
	require.Nil(t, h.Stream("live/a"), "path is free")
	require.ErrorIs(t, p.WritePacket(&av.Packet{Track: testAudio, Key: true}), ErrEnded)
}
