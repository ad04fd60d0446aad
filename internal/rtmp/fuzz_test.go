package rtmp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzChunkReader feeds arbitrary bytes to a Conn (so Set Chunk Size and
// Abort from the input take effect) with small limits: it must not panic,
// must return only messages within the limits, and must not buffer more
// than it read.
func FuzzChunkReader(f *testing.F) {
	f.Add(AppendChunks(nil, &Message{Type: 9, ChunkStreamID: 6, StreamID: 1, Timestamp: 40, Payload: seq(300, 0)}, 128))
	f.Add(cat(
		AppendChunks(nil, SetChunkSizeMessage(16), 128),
		AppendChunks(nil, &Message{Type: 8, ChunkStreamID: 70, Timestamp: 0x1000000, Payload: seq(40, 0)}, 16),
	))
	f.Add(cat(
		[]byte{0x04, 0, 3, 0xE8, 0, 0, 4, 8, 1, 0, 0, 0}, []byte("aaaa"),
		[]byte{0x84, 0, 0, 33}, []byte("bbbb"),
		[]byte{0xC4}, []byte("cccc"),
		[]byte{0x44, 0, 0, 10, 0, 0, 2, 9}, []byte("dd"),
	))
	f.Add(cat(
		[]byte{0x06, 0, 0, 1, 0, 0, 200, 9, 1, 0, 0, 0}, seq(128, 0),
		AppendChunks(nil, AbortMessage(6), 128),
		[]byte{0x06, 0, 0, 2, 0, 0, 1, 9, 1, 0, 0, 0}, []byte{'k'},
	))
	f.Add(AppendChunks(nil, WindowAckSizeMessage(10), 128))
	f.Add([]byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF})
	f.Add(cat(
		AppendChunks(nil, SetChunkSizeMessage(8<<20), 128),
		[]byte{0x04, 0, 0, 0, 0x7F, 0xFF, 0xFF, 9, 1, 0, 0, 0}, seq(10, 0),
		[]byte{0x05, 0, 0, 0, 0x7F, 0xFF, 0xFF, 9, 1, 0, 0, 0}, seq(10, 0),
	))
	budget := NewBudget(3000)
	l := Limits{MaxMessageSize: 1024, MaxChunkSize: 256, MaxChunkStreams: 4, MaxUnfinishedBytes: 2048,
		RestrictedMaxMessageSize: 200, RestrictedMaxChunkSize: 64, RestrictedMaxUnfinishedBytes: 300, Budget: budget}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, restricted := range []bool{false, true} {
			c := NewConn(&rwPair{r: bytes.NewReader(in), w: io.Discard}, l)
			c.SetRestricted(restricted)
			maxMsg, maxUnfinished := l.MaxMessageSize, int64(l.MaxUnfinishedBytes)
			if restricted {
				maxMsg, maxUnfinished = l.RestrictedMaxMessageSize, int64(l.RestrictedMaxUnfinishedBytes)
			}
			for {
				m, err := c.ReadMessage()
				if u := c.Unfinished(); u > maxUnfinished || u > 2*int64(c.BytesRead())+minMessageAlloc {
					t.Fatalf("holding %d unfinished bytes after reading %d (limit %d)", u, c.BytesRead(), maxUnfinished)
				}
				if err != nil {
					if c.BytesRead() > uint64(len(in)) {
						t.Fatalf("read %d bytes of %d", c.BytesRead(), len(in))
					}
					if errors.Is(err, io.EOF) && c.BytesRead() != uint64(len(in)) {
						t.Fatalf("clean EOF after %d of %d bytes", c.BytesRead(), len(in))
					}
					break
				}
				if uint32(len(m.Payload)) > maxMsg {
					t.Fatalf("message of %d bytes over the limit %d", len(m.Payload), maxMsg)
				}
				if len(m.Payload) > len(in) {
					t.Fatalf("message of %d bytes from %d input bytes", len(m.Payload), len(in))
				}
			}
			c.Release()
			if u := budget.Used(); u != 0 {
				t.Fatalf("%d budget bytes still reserved after Release", u)
			}
		}
	})
}

// FuzzParseCommand checks ParseCommand never panics and that parsed
// commands re-encode and parse back to the same name and arguments count.
func FuzzParseCommand(f *testing.F) {
	for _, cmd := range []*Command{
		{Name: "connect", TransactionID: 1, Object: StatusObject("a", "b", "c")},
		{Name: "publish", TransactionID: 5, Args: []any{"x?key=1", "live"}},
		{Name: "onStatus", Args: []any{StatusObject(LevelError, "NetStream.Publish.BadName", "taken")}},
	} {
		m, _ := cmd.Message(3, 0)
		f.Add(uint8(MsgCommandAMF0), m.Payload)
		f.Add(uint8(MsgCommandAMF3), append([]byte{0}, m.Payload...))
	}
	f.Add(uint8(MsgCommandAMF3), []byte{0x11, 0x06, 0x03, 'x'})
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		cmd, err := ParseCommand(&Message{Type: typ, Payload: payload})
		if err != nil {
			return
		}
		m, err := cmd.Message(3, 0)
		if err != nil {
			t.Fatalf("re-encode %q: %v", cmd.Name, err)
		}
		back, err := ParseCommand(m)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if back.Name != cmd.Name || len(back.Args) != len(cmd.Args) {
			t.Fatalf("round trip changed the command: %+v vs %+v", cmd, back)
		}
	})
}

// FuzzParseUserControl checks ParseUserControl never panics and that known
// events round-trip through Message.
func FuzzParseUserControl(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1})
	f.Add([]byte{0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8})
	f.Add([]byte{0, 6, 0, 0, 0, 77})
	f.Add([]byte{0, 0x1A, 1})
	f.Fuzz(func(t *testing.T, payload []byte) {
		u, err := ParseUserControl(payload)
		if err != nil {
			return
		}
		back, err := ParseUserControl(u.Message().Payload)
		if err != nil || back != u {
			t.Fatalf("round trip: %+v -> %+v, %v", u, back, err)
		}
	})
}

// FuzzServerHandshake feeds arbitrary client bytes to ServerHandshake: it
// must not panic, and must succeed only with a version 3 C0 and enough
// bytes. With pad set, the input is zero-padded to a full C0+C1+C2 so that
// short mutated inputs still reach the digest validation (large fuzz inputs
// mutate slowly).
func FuzzServerHandshake(f *testing.F) {
	c1 := make([]byte, handshakeSize)
	signPacket(c1, scheme1, []byte(playerKeyText))
	f.Add(true, cat([]byte{3}, c1[:16]))
	f.Add(true, []byte{3, 0, 0, 0, 0, 9, 0, 124, 2, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add(false, cat([]byte{3}, c1, make([]byte, handshakeSize)))
	f.Add(false, []byte{6, 1, 2, 3})
	f.Fuzz(func(t *testing.T, pad bool, in []byte) {
		if pad && len(in) < 1+2*handshakeSize {
			in = append(in, make([]byte, 1+2*handshakeSize-len(in))...)
		}
		var out bytes.Buffer
		err := serverHandshake(&rwPair{r: bytes.NewReader(in), w: &out}, zeroReader{})
		if err == nil {
			if len(in) < 1+2*handshakeSize || in[0] != 3 {
				t.Fatalf("accepted a bad handshake of %d bytes", len(in))
			}
			if out.Len() != 1+2*handshakeSize {
				t.Fatalf("wrote %d bytes", out.Len())
			}
		}
	})
}

// zeroReader is an endless source of zero bytes.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
