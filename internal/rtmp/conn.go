package rtmp

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Conn is a message-level RTMP connection over an established
// (post-handshake) byte stream. It is safe for one reader goroutine plus any
// number of writer goroutines: writes are serialized by a mutex that is held
// only while writing.
type Conn struct {
	rw io.ReadWriter
	cr *ChunkReader

	// Reader-goroutine state.
	lastAckSent uint64 // BytesRead when we last sent an Acknowledgement

	peerWindow atomic.Uint32 // window the peer asked us to acknowledge (0: none)
	read       atomic.Uint64 // mirror of cr.BytesRead for other goroutines
	peerAcked  atomic.Uint32 // last sequence number the peer acknowledged
	outChunk   atomic.Uint32 // current write chunk size
	written    atomic.Uint64

	wmu  sync.Mutex
	wbuf []byte // reused chunk buffer, guarded by wmu
}

// maxRetainedWriteBuffer is the largest chunk buffer kept between writes.
const maxRetainedWriteBuffer = 256 << 10

// NewConn returns a Conn reading and writing on rw (after the handshake)
// with chunk size 128 in both directions and limits l (zero fields take
// their defaults).
func NewConn(rw io.ReadWriter, l Limits) *Conn {
	c := &Conn{rw: rw, cr: NewChunkReader(rw, l)}
	c.outChunk.Store(DefaultChunkSize)
	return c
}

// ReadMessage returns the next message. Protocol control (§5.4) and user
// control (§6.2) messages are handled here and also returned to the caller:
// Set Chunk Size applies to the reader, Abort drops the partial message,
// Window Acknowledgement Size records the window (an Acknowledgement is then
// sent whenever that many bytes have been read since the last one), an
// Acknowledgement is recorded (PeerAcked), and a PingRequest is answered
// with a PingResponse. Malformed control messages are errors.
func (c *Conn) ReadMessage() (*Message, error) {
	m, err := c.cr.ReadMessage()
	c.read.Store(c.cr.BytesRead())
	if err != nil {
		return nil, err
	}
	if err := c.handleControl(m); err != nil {
		return nil, err
	}
	if w := c.peerWindow.Load(); w > 0 && c.cr.BytesRead()-c.lastAckSent >= uint64(w) {
		c.lastAckSent = c.cr.BytesRead()
		if err := c.WriteMessage(AckMessage(uint32(c.lastAckSent))); err != nil {
			return nil, fmt.Errorf("rtmp: send acknowledgement: %w", err)
		}
	}
	return m, nil
}

func (c *Conn) handleControl(m *Message) error {
	switch m.Type {
	case MsgSetChunkSize:
		n, err := ParseUint32Control(m.Payload)
		if err != nil {
			return fmt.Errorf("rtmp: set chunk size: %w", err)
		}
		if err := c.cr.SetChunkSize(n); err != nil {
			return fmt.Errorf("rtmp: peer set chunk size: %w", err)
		}
	case MsgAbort:
		csid, err := ParseUint32Control(m.Payload)
		if err != nil {
			return fmt.Errorf("rtmp: abort: %w", err)
		}
		c.cr.Abort(csid)
	case MsgWindowAckSize:
		n, err := ParseUint32Control(m.Payload)
		if err != nil {
			return fmt.Errorf("rtmp: window acknowledgement size: %w", err)
		}
		c.peerWindow.Store(n)
	case MsgAck:
		seq, err := ParseUint32Control(m.Payload)
		if err != nil {
			return fmt.Errorf("rtmp: acknowledgement: %w", err)
		}
		c.peerAcked.Store(seq)
	case MsgUserControl:
		u, err := ParseUserControl(m.Payload)
		if err != nil {
			return err
		}
		if u.Event == UCPingRequest {
			resp := UserControl{Event: UCPingResponse, Timestamp: u.Timestamp}
			if err := c.WriteMessage(resp.Message()); err != nil {
				return fmt.Errorf("rtmp: send ping response: %w", err)
			}
		}
	}
	return nil
}

// SetRestricted switches the reader between the Restricted* limits and the
// full ones (see Limits). Call it from the reader goroutine only.
func (c *Conn) SetRestricted(on bool) { c.cr.SetRestricted(on) }

// Unfinished returns the bytes held for partially received messages. Call
// it from the reader goroutine only.
func (c *Conn) Unfinished() int64 { return c.cr.Unfinished() }

// Release drops partially received messages and returns their bytes to
// the shared Budget. Call it once, when the reader goroutine is done.
func (c *Conn) Release() { c.cr.Release() }

// WriteMessage writes m chunked with the current output chunk size. It
// holds the write mutex only for the write itself.
func (c *Conn) WriteMessage(m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(m)
}

func (c *Conn) writeLocked(m *Message) error {
	c.wbuf = AppendChunks(c.wbuf[:0], m, c.outChunk.Load())
	n, err := c.rw.Write(c.wbuf)
	c.written.Add(uint64(n))
	if cap(c.wbuf) > maxRetainedWriteBuffer {
		c.wbuf = nil
	}
	if err != nil {
		return fmt.Errorf("rtmp: write message type %d: %w", m.Type, err)
	}
	return nil
}

// WriteBuffers writes pre-chunked bytes (made with AppendChunks at
// OutChunkSize) as one batch under the write mutex; on a *net.TCPConn this
// is a single writev. bufs is consumed as by net.Buffers.WriteTo.
func (c *Conn) WriteBuffers(bufs *net.Buffers) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.WriteBuffersLocked(bufs)
}

// TryLockWrite takes the write mutex if it is free. Its holder may write
// pre-chunked bytes to the underlying connection directly (counting them
// with AddWritten) or with WriteBuffersLocked, and must release it with
// UnlockWrite, from any goroutine: a writer serving many connections skips
// one another goroutine is writing to rather than waiting, and hands one
// whose socket took only part of a batch, still locked, to a goroutine
// that finishes the batch before any other message may be written.
func (c *Conn) TryLockWrite() bool { return c.wmu.TryLock() }

// UnlockWrite releases the write mutex taken by TryLockWrite.
func (c *Conn) UnlockWrite() { c.wmu.Unlock() }

// AddWritten counts n bytes the holder of the write mutex wrote directly.
func (c *Conn) AddWritten(n int) { c.written.Add(uint64(n)) }

// WriteBuffersLocked is WriteBuffers for the holder of the write mutex.
func (c *Conn) WriteBuffersLocked(bufs *net.Buffers) error {
	n, err := bufs.WriteTo(c.rw)
	c.written.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("rtmp: write buffers: %w", err)
	}
	return nil
}

// SetOutChunkSize sends a Set Chunk Size message (§5.4.1) and then chunks
// every later write with n. n must be in 1..0x7FFFFFFF. Both happen under
// the write mutex, so no other write can interleave.
func (c *Conn) SetOutChunkSize(n uint32) error {
	if n == 0 || n > maxSettableChunkSize {
		return fmt.Errorf("rtmp: invalid output chunk size %d", n)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writeLocked(SetChunkSizeMessage(n)); err != nil {
		return err
	}
	c.outChunk.Store(n)
	return nil
}

// OutChunkSize returns the chunk size used for writing.
func (c *Conn) OutChunkSize() uint32 { return c.outChunk.Load() }

// InChunkSize returns the chunk size the peer set for its writes. Call it
// from the reader goroutine only.
func (c *Conn) InChunkSize() uint32 { return c.cr.ChunkSize() }

// BytesRead returns the bytes read from the stream since NewConn, as of the
// last ReadMessage return.
func (c *Conn) BytesRead() uint64 { return c.read.Load() }

// BytesWritten returns the bytes written since NewConn.
func (c *Conn) BytesWritten() uint64 { return c.written.Load() }

// PeerAcked returns the sequence number of the peer's last
// Acknowledgement (§5.4.3), 0 before any.
func (c *Conn) PeerAcked() uint32 { return c.peerAcked.Load() }

// PeerWindowAckSize returns the window the peer asked us to acknowledge
// (§5.4.4), 0 before any.
func (c *Conn) PeerWindowAckSize() uint32 { return c.peerWindow.Load() }
