package rtmp

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/amf0"
)

// testServer is a minimal in-test RTMP server built from this package's
// pieces: handshake, Conn and the command helpers. It serves one stream:
// publishers' media is recorded, players get playMsgs.
type testServer struct {
	t  *testing.T
	ln net.Listener

	mu          sync.Mutex
	publishCode string     // onStatus code answering publish (default Publish.Start)
	playMsgs    []*Message // sent to players after Play.Start
	commands    []*Command
	c1s         [][]byte // C1 of each session, to check which handshake ran
	media       []*Message
	conns       []net.Conn // closed at cleanup

	wg   sync.WaitGroup
	done chan struct{} // receives when a session ends
}

func newTestServer(t *testing.T) *testServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveTest(t, ln)
}

// serveTest runs a testServer on ln.
func serveTest(t *testing.T, ln net.Listener) *testServer {
	s := &testServer{t: t, ln: ln, done: make(chan struct{}, 16)}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer nc.Close()
				err := s.session(nc)
				if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					t.Logf("test server session: %v", err)
				}
				s.done <- struct{}{}
			}()
		}
	}()
	return s
}

func (s *testServer) addr() string { return s.ln.Addr().String() }

func (s *testServer) setPublishCode(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishCode = code
}

func (s *testServer) setPlayMessages(msgs []*Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.playMsgs = msgs
}

func (s *testServer) snapshot() ([]*Command, []*Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Command(nil), s.commands...), append([]*Message(nil), s.media...)
}

func (s *testServer) send(c *Conn, cmd *Command, csid, streamID uint32) error {
	m, err := cmd.Message(csid, streamID)
	if err != nil {
		return err
	}
	return c.WriteMessage(m)
}

func (s *testServer) onStatus(c *Conn, streamID uint32, level, code string) error {
	return s.send(c, &Command{Name: "onStatus", Args: []any{StatusObject(level, code, code)}}, 5, streamID)
}

func (s *testServer) session(nc net.Conn) error {
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	rec := &recordingReader{r: nc, max: 1 + handshakeSize}
	if err := ServerHandshake(&rwPair{r: rec, w: nc}); err != nil {
		return err
	}
	s.mu.Lock()
	s.c1s = append(s.c1s, rec.buf[1:])
	s.mu.Unlock()
	c := NewConn(nc, DefaultLimits())
	const streamID = 1
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		switch m.Type {
		case MsgAudio, MsgVideo, MsgDataAMF0:
			s.mu.Lock()
			s.media = append(s.media, m)
			s.mu.Unlock()
			continue
		case MsgCommandAMF0, MsgCommandAMF3:
		default:
			continue
		}
		cmd, err := ParseCommand(m)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.commands = append(s.commands, cmd)
		s.mu.Unlock()
		switch cmd.Name {
		case "connect":
			for _, m := range []*Message{WindowAckSizeMessage(2500000), SetPeerBandwidthMessage(2500000, BandwidthDynamic)} {
				if err := c.WriteMessage(m); err != nil {
					return err
				}
			}
			if err := c.SetOutChunkSize(4096); err != nil {
				return err
			}
			res := &Command{
				Name:          "_result",
				TransactionID: cmd.TransactionID,
				Object:        amf0.Object{{Key: "fmsVer", Value: "FMS/3,0,1,123"}, {Key: "capabilities", Value: 31.0}},
				Args:          []any{StatusObject(LevelStatus, "NetConnection.Connect.Success", "Connection succeeded.")},
			}
			if err := s.send(c, res, 3, 0); err != nil {
				return err
			}
			if err := s.send(c, &Command{Name: "onBWDone"}, 3, 0); err != nil {
				return err
			}
		case "createStream":
			if err := s.send(c, &Command{Name: "_result", TransactionID: cmd.TransactionID, Args: []any{float64(streamID)}}, 3, 0); err != nil {
				return err
			}
		case "publish":
			s.mu.Lock()
			code := s.publishCode
			s.mu.Unlock()
			level := LevelError
			if code == "" {
				code, level = "NetStream.Publish.Start", LevelStatus
			}
			if err := c.WriteMessage(UserControl{Event: UCStreamBegin, StreamID: streamID}.Message()); err != nil {
				return err
			}
			if err := s.onStatus(c, streamID, level, code); err != nil {
				return err
			}
		case "play":
			if err := c.WriteMessage(UserControl{Event: UCStreamBegin, StreamID: streamID}.Message()); err != nil {
				return err
			}
			if err := s.onStatus(c, streamID, LevelStatus, "NetStream.Play.Reset"); err != nil {
				return err
			}
			if err := s.onStatus(c, streamID, LevelStatus, "NetStream.Play.Start"); err != nil {
				return err
			}
			s.mu.Lock()
			playMsgs := s.playMsgs
			s.mu.Unlock()
			for _, pm := range playMsgs {
				mm := *pm
				mm.StreamID = streamID
				if err := c.WriteMessage(&mm); err != nil {
					return err
				}
			}
			return nil // end of stream: close
		}
	}
}

// recordingReader keeps the first max bytes read through it.
type recordingReader struct {
	r   io.Reader
	max int
	buf []byte
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if keep := min(n, r.max-len(r.buf)); keep > 0 {
		r.buf = append(r.buf, p[:keep]...)
	}
	return n, err
}

// digestC1s reports, per session so far, whether the client's C1 carried
// a valid FP9 digest.
func (s *testServer) digestC1s() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bool
	for _, c1 := range s.c1s {
		_, _, ok := findDigest(c1, []byte(playerKeyText))
		out = append(out, ok)
	}
	return out
}
