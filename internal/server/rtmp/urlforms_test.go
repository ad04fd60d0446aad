package rtmpserver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// readUntil reads the server's messages on c until want accepts one, or
// fails after 10 s; it returns the onStatus codes seen on the way.
func readUntil(t *testing.T, c *rawClient, want func(*rtmp.Message) bool) []string {
	t.Helper()
	wire := rtmp.NewConn(c.nc, rtmp.Limits{})
	require.NoError(t, c.nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	var codes []string
	for {
		m, err := wire.ReadMessage()
		require.NoError(t, err, "status codes so far: %v", codes)
		if m.Type == rtmp.MsgCommandAMF0 {
			if cmd, err := rtmp.ParseCommand(m); err == nil && cmd.Name == "onStatus" {
				codes = append(codes, cmd.ArgObject(0).String("code"))
			}
		}
		if want(m) {
			return codes
		}
	}
}

// TestFullPathInApp (issue 12): MediaMTX (gortmplib) plays and publishes
// with the whole path in the app — app "live/mtxsrc", tcUrl
// rtmp://H/live/mtxsrc — and an empty stream name. Our own client sends
// exactly that connect/createStream/play (and publish), and gets the
// stream.
func TestFullPathInApp(t *testing.T) {
	rec := newLogRec()
	srv := &Server{Auth: &fakeAuth{}}
	addr := startServerWith(t, srv, rec)
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = (&replay.Publisher{URL: "rtmp://" + addr + "/live/mtxsrc?key=k", Clip: clip}).Run(ctx) }()
	require.Eventually(t, func() bool { return len(rec.lines("publish started", map[string]string{"path": "live/mtxsrc"})) > 0 },
		10*time.Second, 20*time.Millisecond)

	// Play: the key in the app's query, as rtmp://H/live/mtxsrc?key=k puts it.
	player := dialRawUnread(t, addr)
	player.play("live/mtxsrc?key=k", "")
	codes := readUntil(t, player, func(m *rtmp.Message) bool { return m.Type == rtmp.MsgVideo && len(m.Payload) > 1 && m.Payload[1] == 1 })
	require.Contains(t, codes, "NetStream.Play.Start")

	// The key as the stream name's query instead.
	player2 := dialRawUnread(t, addr)
	player2.play("live/mtxsrc", "?key=k")
	readUntil(t, player2, func(m *rtmp.Message) bool { return m.Type == rtmp.MsgVideo })

	// Publish the same way.
	pub := dialRawUnread(t, addr)
	pub.publish("live/mtxpub?key=k", "")
	codes = readUntil(t, pub, func(m *rtmp.Message) bool {
		cmd, err := rtmp.ParseCommand(m)
		return err == nil && cmd.Name == "onStatus"
	})
	require.Equal(t, []string{"NetStream.Publish.Start"}, codes)
	require.NotEmpty(t, rec.lines("publish started", map[string]string{"path": "live/mtxpub"}), rec.dump())

	// Without the key: refused like any other form.
	bad := dialRawUnread(t, addr)
	bad.play("live/mtxsrc", "")
	codes = readUntil(t, bad, func(m *rtmp.Message) bool {
		cmd, err := rtmp.ParseCommand(m)
		return err == nil && cmd.Name == "onStatus"
	})
	require.Equal(t, []string{"NetStream.Play.Failed"}, codes)
}
