package hub

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

func TestLatestKeyframe(t *testing.T) {
	h := quietHub(Options{MaxGOPDuration: 3 * time.Second})
	p, err := h.Publish("live/k", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	require.Nil(t, p.Stream().LatestKeyframe(), "nothing written yet")

	writeVideo(t, p, 0, 60, func(i int) bool { return i%50 == 0 })
	key := p.Stream().LatestKeyframe()
	require.NotNil(t, key)
	require.True(t, key.Key && key.Kind() == av.KindVideo)
	require.Equal(t, 50*40*time.Millisecond, key.DTS, "the newest keyframe")

	writeVideo(t, p, 60, 200, func(int) bool { return false }) // 5.6 s without one
	require.Nil(t, p.Stream().LatestKeyframe(), "an expired GOP cache holds no keyframe")

	audio, err := h.Publish("live/a", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	audio.Announce(false, true)
	require.NoError(t, audio.WritePacket(&av.Packet{Track: testAudio, Key: true, Data: make([]byte, 50)}))
	require.Nil(t, audio.Stream().LatestKeyframe(), "an audio-only stream has no video keyframe")
}
