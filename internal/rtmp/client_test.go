package rtmp

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientPublish(t *testing.T) {
	s := newTestServer(t)
	ctx := testCtx(t)
	c, err := Dial(ctx, "rtmp://"+s.addr()+"/live/cam?key=secret", nil)
	require.NoError(t, err)
	require.NoError(t, c.Publish(ctx))
	require.Equal(t, uint32(1), c.StreamID())
	require.Equal(t, uint32(4096), c.Conn().OutChunkSize())
	require.Equal(t, "cam?key=secret", c.StreamName())

	meta, err := DataMessage(0, 0, "@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 160.0}})
	require.NoError(t, err)
	require.NoError(t, c.WriteMessage(meta))
	video := &Message{Type: MsgVideo, Timestamp: 40, Payload: seq(10000, 0)}
	require.NoError(t, c.WriteMessage(video))
	require.Equal(t, uint32(0), video.StreamID, "caller's message untouched")
	require.NoError(t, c.WriteMessage(&Message{Type: MsgAudio, Timestamp: 41, Payload: []byte{0xAF, 1}}))
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "idempotent")
	<-s.done

	require.Equal(t, []bool{true}, s.digestC1s(), "Client offers a digest C1")
	cmds, media := s.snapshot()
	var names []string
	for _, cmd := range cmds {
		names = append(names, cmd.Name)
	}
	require.Equal(t, []string{"connect", "releaseStream", "FCPublish", "createStream", "publish", "deleteStream"}, names)
	connect := cmds[0].Object.(amf0.Object)
	require.Equal(t, "live", connect.String("app"))
	require.Equal(t, "rtmp://"+s.addr()+"/live", connect.String("tcUrl"))
	require.Equal(t, []any{"cam?key=secret", "live"}, cmds[4].Args)

	require.Len(t, media, 3)
	require.Equal(t, uint8(MsgDataAMF0), media[0].Type)
	require.Equal(t, uint32(5), media[0].ChunkStreamID)
	require.Equal(t, uint32(6), media[1].ChunkStreamID)
	require.Equal(t, uint32(1), media[1].StreamID)
	require.Equal(t, uint32(40), media[1].Timestamp)
	require.Equal(t, video.Payload, media[1].Payload)
	require.Equal(t, uint32(4), media[2].ChunkStreamID)
}

func TestClientPublishBadName(t *testing.T) {
	s := newTestServer(t)
	s.setPublishCode("NetStream.Publish.BadName")
	ctx := testCtx(t)
	c, err := Dial(ctx, "rtmp://"+s.addr()+"/live/taken", nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.Publish(ctx)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "NetStream.Publish.BadName", se.Code)
}

func TestClientPlay(t *testing.T) {
	s := newTestServer(t)
	playMsgs := []*Message{
		{Type: MsgVideo, ChunkStreamID: 6, Timestamp: 0, Payload: []byte{0x17, 0, 0, 0, 0}},
		{Type: MsgAudio, ChunkStreamID: 4, Timestamp: 0xFFFFFF + 10, Payload: seq(5000, 1)},
	}
	s.setPlayMessages(playMsgs)
	ctx := testCtx(t)
	c, err := Dial(ctx, "rtmp://"+s.addr()+"/live/cam", nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Play(ctx))
	for _, want := range playMsgs {
		m, err := c.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, want.Type, m.Type)
		require.Equal(t, want.Timestamp, m.Timestamp)
		require.Equal(t, want.Payload, m.Payload)
		require.Equal(t, uint32(1), m.StreamID)
	}
	cmds, _ := s.snapshot()
	require.Equal(t, "play", cmds[2].Name)
	require.Equal(t, []any{"cam"}, cmds[2].Args)
}

func TestDialErrors(t *testing.T) {
	ctx := testCtx(t)
	for _, u := range []string{"http://x/live/a", "rtmp:///live/a", "rtmp://127.0.0.1:1/", "::"} {
		_, err := Dial(ctx, u, nil)
		require.Error(t, err, u)
		require.Contains(t, err.Error(), "rtmp: dial", u)
	}

	// A server that accepts but never answers: the context bounds Dial.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			defer nc.Close()
			buf := make([]byte, 4096)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		}
	}()
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(short, "rtmp://"+ln.Addr().String()+"/live/a", nil)
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}
