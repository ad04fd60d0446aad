package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestHostileClientsAreDroppedOthersUnaffected throws malformed and hostile
// RTMP clients at the server while a publisher and a viewer run: each bad
// client is disconnected with one log line naming it, and the viewer keeps
// receiving live media throughout.
func TestHostileClientsAreDroppedOthersUnaffected(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_RTMP_HANDSHAKE_TIMEOUT=1s"})
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/h", testutil.PublishOptions{})
	waitForStream(t, s, "live/h")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/h.flv")
	require.NoError(t, err)
	viewerErr := make(chan error, 1)
	var lastTS atomicTS
	go func() {
		for {
			tag, err := st.r.ReadTag()
			if err != nil {
				viewerErr <- err
				return
			}
			lastTS.set(tag.Timestamp)
		}
	}()

	handshaken := func(t *testing.T) net.Conn {
		nc, err := net.Dial("tcp", s.RTMPAddr)
		require.NoError(t, err)
		t.Cleanup(func() { nc.Close() })
		require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
		require.NoError(t, rtmp.ClientHandshake(nc))
		return nc
	}
	publishing := func(t *testing.T, path string) *rtmp.Client {
		c, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/"+path, nil)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.Publish(ctx))
		return c
	}

	cases := []struct {
		name   string
		reason string // substring of the logged reason
		attack func(t *testing.T) net.Addr
	}{
		{"garbage instead of handshake", "handshake", func(t *testing.T) net.Addr {
			nc, err := net.Dial("tcp", s.RTMPAddr)
			require.NoError(t, err)
			t.Cleanup(func() { nc.Close() })
			_, _ = nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("A", 3000)))
			return nc.LocalAddr()
		}},
		{"silent client", "handshake", func(t *testing.T) net.Addr {
			nc, err := net.Dial("tcp", s.RTMPAddr)
			require.NoError(t, err)
			t.Cleanup(func() { nc.Close() })
			return nc.LocalAddr()
		}},
		{"message over the size cap", "message", func(t *testing.T) net.Addr {
			nc := handshaken(t)
			// fmt 0, csid 3, ts 0, length 0xFFFFFF (16 MiB > 8 MiB cap), type 20, stream 0.
			_, _ = nc.Write([]byte{0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0, 1, 2, 3})
			return nc.LocalAddr()
		}},
		{"too many chunk streams", "chunk stream", func(t *testing.T) net.Addr {
			nc := handshaken(t)
			var b []byte
			for csid := 3; csid < 3+200; csid++ {
				// 1-byte basic header for csid < 64, else 2-byte form (csid 0 + id-64).
				if csid < 64 {
					b = append(b, byte(csid))
				} else {
					b = append(b, 0x00, byte(csid-64))
				}
				// fmt 0 header: ts 0, length 1, type 8 (audio), stream 1; payload.
				b = append(b, 0, 0, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0xAA)
			}
			_, _ = nc.Write(b)
			return nc.LocalAddr()
		}},
		{"malformed AMF command", "command", func(t *testing.T) net.Addr {
			nc := handshaken(t)
			payload := []byte{0x02, 0x00, 0x07, 'c', 'o', 'n', 'n', 'e', 'c', 't', 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x03, 0x00, 0x03, 'a', 'p', 'p', 0x11}
			_, _ = nc.Write(rtmp.AppendChunks(nil, &rtmp.Message{Type: rtmp.MsgCommandAMF0, ChunkStreamID: 3, Payload: payload}, 128))
			return nc.LocalAddr()
		}},
		{"malformed video sequence header", "malformed media", func(t *testing.T) net.Addr {
			c := publishing(t, "live/evil")
			// AVC sequence header whose record claims an SPS longer than the data.
			body := []byte{0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x7f, 0xff, 0x67}
			_ = c.WriteMessage(&rtmp.Message{Type: rtmp.MsgVideo, Payload: body})
			return c.LocalAddr()
		}},
		{"metadata with absurd nesting", "data message", func(t *testing.T) net.Addr {
			c := publishing(t, "live/evil2")
			payload, err := amf0.Append(nil, "@setDataFrame", "onMetaData")
			require.NoError(t, err)
			// 40 nested objects exceed the decoder's depth limit of 16.
			deep := []byte{}
			for i := 0; i < 40; i++ {
				deep = append(deep, 0x03, 0x00, 0x01, 'k')
			}
			deep = append(deep, 0x05)
			payload = append(payload, deep...)
			_ = c.WriteMessage(&rtmp.Message{Type: rtmp.MsgDataAMF0, Payload: payload})
			return c.LocalAddr()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.attack(t).String()
			deadline := time.Now().Add(15 * time.Second)
			for {
				var found map[string]any
				for _, rec := range s.Logs("rtmp connection dropped") {
					if rec["remote"] == addr {
						found = rec
					}
				}
				if found != nil {
					reason, _ := found["reason"].(string)
					t.Logf("logged: %s", reason)
					require.Contains(t, reason, tc.reason, "logged reason for %s", addr)
					break
				}
				require.True(t, time.Now().Before(deadline), "no 'rtmp connection dropped' log line for %s within 15 s", addr)
				time.Sleep(50 * time.Millisecond)
			}
		})
	}

	// The viewer is still live: its timestamps keep advancing.
	before := lastTS.get()
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-viewerErr:
		t.Fatalf("viewer broke during the attacks: %v", err)
	default:
	}
	require.Greater(t, lastTS.get(), before+1000, "viewer must keep receiving live media")
}
