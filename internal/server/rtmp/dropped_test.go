package rtmpserver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/rtmp"
)

// TestDroppedTrackTellsThePublisher (issue 12): Speex audio (FLV
// SoundFormat 11) is not carried; the publisher gets one onStatus warning
// naming it and the server logs one line, however many frames come.
func TestDroppedTrackTellsThePublisher(t *testing.T) {
	rec := newLogRec()
	addr := startServerWith(t, &Server{}, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live/speex", nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Publish(ctx))
	for i := 0; i < 20; i++ {
		// 0xB6: SoundFormat 11 (Speex), 5.5 kHz, 16-bit, mono.
		require.NoError(t, c.WriteMessage(&rtmp.Message{Type: rtmp.MsgAudio, Timestamp: uint32(20 * i), Payload: []byte{0xB6, 1, 2, 3}}))
	}
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	var warnings []rtmp.Command
	for len(warnings) == 0 {
		m, err := c.ReadMessage()
		require.NoError(t, err)
		if cmd, err := rtmp.ParseCommand(m); err == nil && cmd.Name == "onStatus" {
			if cmd.ArgObject(0).String("level") == "warning" {
				warnings = append(warnings, *cmd)
			}
		}
	}
	info := warnings[0].ArgObject(0)
	require.Equal(t, "NetStream.Publish.TrackDropped", info.String("code"))
	require.Contains(t, info.String("description"), "audio codec Speex is not supported")
	// A ping round trip: every frame above has been handled by now.
	require.NoError(t, c.Conn().WriteMessage(rtmp.UserControl{Event: rtmp.UCPingRequest, Timestamp: 7}.Message()))
	for {
		m, err := c.Conn().ReadMessage()
		require.NoError(t, err)
		if cmd, err := rtmp.ParseCommand(m); err == nil && cmd.Name == "onStatus" {
			t.Fatalf("a second onStatus: %v", cmd.ArgObject(0))
		}
		if u, err := rtmp.ParseUserControl(m.Payload); m.Type == rtmp.MsgUserControl && err == nil && u.Event == rtmp.UCPingResponse {
			break
		}
	}
	lines := rec.lines("rtmp track dropped", nil)
	require.Len(t, lines, 1, rec.dump())
	require.Equal(t, "Speex", lines[0].Attrs["codec"])
	require.Equal(t, "live/speex", lines[0].Attrs["path"])
}
