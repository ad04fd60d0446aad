package hub

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeClaimer is a hand fake of the cluster's claim gate.
type fakeClaimer struct {
	mu       sync.Mutex
	refuse   error
	claims   int
	releases int
	lost     func(string)
}

func (f *fakeClaimer) Claim(path string, info ClientInfo, lost func(string)) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return nil, f.refuse
	}
	f.claims++
	f.lost = lost
	return func() { f.mu.Lock(); f.releases++; f.mu.Unlock() }, nil
}

func (f *fakeClaimer) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.claims, f.releases
}

func TestClaimerGatesPublish(t *testing.T) {
	c := &fakeClaimer{refuse: fmt.Errorf("%w: held by node b", ErrBusy)}
	h := quietHub(Options{Claimer: c})
	_, err := h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.True(t, errors.Is(err, ErrBusy), "want ErrBusy from the claimer, got %v", err)
	require.Nil(t, h.Stream("live/a"), "a refused claim must not create a stream")
}

func TestClaimReleasedOnCloseAndKick(t *testing.T) {
	c := &fakeClaimer{}
	h := quietHub(Options{Claimer: c})
	p, err := h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	// A second local publisher is busy without asking the claimer (it must
	// not release the first one's claim).
	_, err = h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.ErrorIs(t, err, ErrBusy)
	claims, releases := c.counts()
	require.Equal(t, 1, claims)
	require.Equal(t, 0, releases)
	p.Close("done")
	p.Close("again")
	_, releases = c.counts()
	require.Equal(t, 1, releases, "Close releases the claim once")

	p, err = h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Kick("kicked")
	claims, releases = c.counts()
	require.Equal(t, 2, claims)
	require.Equal(t, 2, releases, "Kick releases the claim")
}

func TestClaimLostKicksPublisher(t *testing.T) {
	c := &fakeClaimer{}
	h := quietHub(Options{Claimer: c})
	p, err := h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	c.mu.Lock()
	lost := c.lost
	c.mu.Unlock()
	lost("owned by node b now")
	select {
	case <-p.Done():
	default:
		t.Fatal("publisher still live after its claim was lost")
	}
	_, releases := c.counts()
	require.Equal(t, 1, releases)
}
