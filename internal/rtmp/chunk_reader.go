package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// extendedTimestamp is the 24-bit timestamp field value that announces a
// 32-bit Extended Timestamp after the message header (§5.3.1.3).
const extendedTimestamp = 0xFFFFFF

// minMessageAlloc is the first buffer size of a message longer than it;
// the buffer then doubles as bytes arrive, so a declared length is never
// trusted for allocation.
const minMessageAlloc = 4096

// readBufferSize is the ChunkReader's read buffer. Every connection holds
// one, and most of a busy server's connections are players that send only
// acknowledgements, so it stays small; publishers at 10 Mb/s still need
// only ~300 reads a second.
const readBufferSize = 4096

// chunkStream is the per-chunk-stream state of §5.3.1.2: the fields that
// header types 1, 2 and 3 inherit, plus the message being reassembled.
type chunkStream struct {
	timestamp uint32 // absolute timestamp of the current/last message
	delta     uint32 // last timestamp field (absolute after type 0, else delta)
	length    uint32
	typ       uint8
	streamID  uint32
	extended  bool      // last header carried an Extended Timestamp
	extValue  uint32    // that Extended Timestamp value
	active    bool      // a message is partially received
	buf       []byte    // partial payload; cap(buf) is counted in pending
	started   time.Time // when the message's first chunk arrived
}

// ChunkReader reassembles RTMP messages from a chunk stream (§5.3). It keeps
// per-chunk-stream header state for all four chunk header types, handles
// extended timestamps (including their repetition on type-3 chunks) and
// interleaved chunk streams, and enforces Limits. Message buffers grow
// with the bytes that arrive (at most twice those plus 4 KiB per chunk
// stream) and are counted against the limits on unfinished bytes. It is
// not safe for concurrent use; Release returns its share of a shared
// Budget.
type ChunkReader struct {
	r          *bufio.Reader
	limits     Limits
	restricted bool
	chunkSize  uint32
	streams    map[uint32]*chunkStream
	active     int   // chunk streams with a partial message
	pending    int64 // sum of cap(buf) of partial messages
	bytesRead  uint64
	hdr        [11]byte
	now        func() time.Time // time.Now; tests replace it
}

// NewChunkReader returns a reader of chunks from r with the default chunk
// size of 128 bytes (§5.4.1). Zero fields of l take their defaults. r is
// wrapped in a bufio.Reader unless it is one already.
func NewChunkReader(r io.Reader, l Limits) *ChunkReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readBufferSize)
	}
	return &ChunkReader{
		r:         br,
		limits:    l.withDefaults(),
		chunkSize: DefaultChunkSize,
		streams:   make(map[uint32]*chunkStream),
		now:       time.Now,
	}
}

// SetRestricted switches the reader to the Restricted* limits (true) or
// back to the full ones. A server restricts a connection until its peer is
// authorized to publish. Lifting the restriction is always safe; imposing
// it does not shrink what is already buffered.
func (r *ChunkReader) SetRestricted(on bool) { r.restricted = on }

// maxMessageSize, maxChunkSize and maxUnfinished are the limits in force.
func (r *ChunkReader) maxMessageSize() uint32 {
	if r.restricted {
		return r.limits.RestrictedMaxMessageSize
	}
	return r.limits.MaxMessageSize
}

func (r *ChunkReader) maxChunkSize() uint32 {
	if r.restricted {
		return r.limits.RestrictedMaxChunkSize
	}
	return r.limits.MaxChunkSize
}

func (r *ChunkReader) maxUnfinished() int64 {
	if r.restricted {
		return int64(r.limits.RestrictedMaxUnfinishedBytes)
	}
	return int64(r.limits.MaxUnfinishedBytes)
}

// Unfinished returns the bytes held for partially received messages.
func (r *ChunkReader) Unfinished() int64 { return r.pending }

// Release drops every partially received message and returns their bytes
// to the shared Budget. Call it once the connection is done reading.
func (r *ChunkReader) Release() {
	for _, cs := range r.streams {
		r.drop(cs)
	}
}

// drop forgets cs's partial message, if any, and its reservation.
func (r *ChunkReader) drop(cs *chunkStream) {
	if !cs.active {
		return
	}
	r.unreserve(int64(cap(cs.buf)))
	cs.active = false
	cs.buf = nil
	r.active--
}

func (r *ChunkReader) unreserve(n int64) {
	r.pending -= n
	if b := r.limits.Budget; b != nil && n > 0 {
		b.release(n)
	}
}

// grow enlarges cs.buf for more data: doubling from one chunk (at most
// minMessageAlloc), never beyond the message length, reserving the growth
// first.
func (r *ChunkReader) grow(csid uint32, cs *chunkStream) error {
	old := cap(cs.buf)
	n := int(min(max(uint32(2*old), min(r.chunkSize, minMessageAlloc)), cs.length))
	delta := int64(n - old)
	if limit := r.maxUnfinished(); r.pending+delta > limit {
		return fmt.Errorf("rtmp: chunk stream %d: %w: %d bytes of a %d-byte message would make %d, limit %d",
			csid, ErrUnfinishedLimit, len(cs.buf), cs.length, r.pending+delta, limit)
	}
	if b := r.limits.Budget; b != nil && !b.reserve(delta) {
		return fmt.Errorf("rtmp: chunk stream %d: %w (%d of %d bytes in use, %d more asked)",
			csid, ErrBudgetExhausted, b.Used(), b.Limit(), delta)
	}
	r.pending += delta
	nb := make([]byte, len(cs.buf), n)
	copy(nb, cs.buf)
	cs.buf = nb
	return nil
}

// checkTimeout fails when a partial message is older than MessageTimeout.
func (r *ChunkReader) checkTimeout() error {
	if r.active == 0 {
		return nil
	}
	now := r.now()
	for csid, cs := range r.streams {
		if cs.active && now.Sub(cs.started) > r.limits.MessageTimeout {
			return fmt.Errorf("rtmp: chunk stream %d: %w: %d of %d bytes after %s",
				csid, ErrMessageTimeout, len(cs.buf), cs.length, r.limits.MessageTimeout)
		}
	}
	return nil
}

// SetChunkSize sets the maximum chunk payload size for reading, as a peer's
// Set Chunk Size message requests (§5.4.1). n must be in 1..MaxChunkSize and
// have its top bit clear.
func (r *ChunkReader) SetChunkSize(n uint32) error {
	if limit := r.maxChunkSize(); n == 0 || n > maxSettableChunkSize || n > limit {
		if r.restricted {
			return fmt.Errorf("rtmp: invalid chunk size %d (limit %d before publishing)", n, limit)
		}
		return fmt.Errorf("rtmp: invalid chunk size %d (limit %d)", n, limit)
	}
	r.chunkSize = n
	return nil
}

// ChunkSize returns the current read chunk size.
func (r *ChunkReader) ChunkSize() uint32 { return r.chunkSize }

// Abort drops the partially received message on chunk stream csid, as the
// Abort message requests (§5.4.2).
func (r *ChunkReader) Abort(csid uint32) {
	if cs, ok := r.streams[csid]; ok {
		r.drop(cs)
	}
}

// BytesRead returns the number of bytes consumed from the stream so far.
func (r *ChunkReader) BytesRead() uint64 { return r.bytesRead }

func (r *ChunkReader) readFull(p []byte) error {
	n, err := io.ReadFull(r.r, p)
	r.bytesRead += uint64(n)
	return err
}

// ReadMessage reads chunks until a message is complete and returns it. The
// returned payload is owned by the caller. Errors are wrapped with context;
// io.EOF is returned unwrapped only when the stream ends cleanly between
// chunks. After any error the reader's state is undefined and the
// connection should be closed.
func (r *ChunkReader) ReadMessage() (*Message, error) {
	for {
		m, err := r.readChunk()
		if err != nil || m != nil {
			return m, err
		}
	}
}

// readChunk reads one chunk and returns the message it completes, if any.
func (r *ChunkReader) readChunk() (*Message, error) {
	// Checked before every chunk, so a peer that keeps completing small
	// messages cannot keep a stalled big one alive.
	if err := r.checkTimeout(); err != nil {
		return nil, err
	}
	// Basic header, §5.3.1.1.
	b0, err := r.r.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("rtmp: read chunk basic header: %w", err)
	}
	r.bytesRead++
	format := b0 >> 6
	csid := uint32(b0 & 0x3F)
	switch csid {
	case 0:
		if err := r.readFull(r.hdr[:1]); err != nil {
			return nil, fmt.Errorf("rtmp: read chunk basic header: %w", unexpected(err))
		}
		csid = uint32(r.hdr[0]) + 64
	case 1:
		if err := r.readFull(r.hdr[:2]); err != nil {
			return nil, fmt.Errorf("rtmp: read chunk basic header: %w", unexpected(err))
		}
		csid = uint32(r.hdr[1])<<8 + uint32(r.hdr[0]) + 64
	}

	cs := r.streams[csid]
	if cs == nil {
		if format != 0 {
			return nil, fmt.Errorf("rtmp: chunk stream %d: type %d header without a prior type 0 header", csid, format)
		}
		if len(r.streams) >= r.limits.MaxChunkStreams {
			return nil, fmt.Errorf("rtmp: chunk stream %d: more than %d chunk streams", csid, r.limits.MaxChunkStreams)
		}
		cs = &chunkStream{}
		r.streams[csid] = cs
	}

	// Message header, §5.3.1.2.
	if format != 3 && cs.active {
		return nil, fmt.Errorf("rtmp: chunk stream %d: type %d header inside an unfinished message (%d of %d bytes)", csid, format, len(cs.buf), cs.length)
	}
	var field uint32
	switch format {
	case 0, 1, 2:
		n := [3]int{11, 7, 3}[format]
		if err := r.readFull(r.hdr[:n]); err != nil {
			return nil, fmt.Errorf("rtmp: chunk stream %d: read type %d message header: %w", csid, format, unexpected(err))
		}
		field = uint32(r.hdr[0])<<16 | uint32(r.hdr[1])<<8 | uint32(r.hdr[2])
		if format <= 1 {
			length := uint32(r.hdr[3])<<16 | uint32(r.hdr[4])<<8 | uint32(r.hdr[5])
			if limit := r.maxMessageSize(); length > limit {
				if r.restricted {
					return nil, fmt.Errorf("rtmp: chunk stream %d: message length %d exceeds limit %d before publishing", csid, length, limit)
				}
				return nil, fmt.Errorf("rtmp: chunk stream %d: message length %d exceeds limit %d", csid, length, limit)
			}
			cs.length = length
			cs.typ = r.hdr[6]
		}
		if format == 0 {
			cs.streamID = binary.LittleEndian.Uint32(r.hdr[7:11]) // §5.3.1.2.1: little-endian
		}
		cs.extended = field == extendedTimestamp
		if cs.extended {
			if err := r.readFull(r.hdr[:4]); err != nil {
				return nil, fmt.Errorf("rtmp: chunk stream %d: read extended timestamp: %w", csid, unexpected(err))
			}
			field = binary.BigEndian.Uint32(r.hdr[:4])
			cs.extValue = field
		}
		cs.delta = field
		if format == 0 {
			cs.timestamp = field
		} else {
			cs.timestamp += field
		}
	case 3:
		if cs.active {
			// Continuation chunk. The Extended Timestamp is repeated here by
			// Flash, FMS and ffmpeg; some encoders omit it, so it is consumed
			// only when the next 4 bytes equal the value already seen.
			if cs.extended {
				p, err := r.r.Peek(4)
				if err != nil {
					return nil, fmt.Errorf("rtmp: chunk stream %d: read extended timestamp: %w", csid, unexpected(err))
				}
				if binary.BigEndian.Uint32(p) == cs.extValue {
					_ = r.readFull(r.hdr[:4])
				}
			}
		} else {
			// A new message inheriting everything, timestamp advanced by the
			// previous delta (§5.3.1.2.4).
			if cs.extended {
				if err := r.readFull(r.hdr[:4]); err != nil {
					return nil, fmt.Errorf("rtmp: chunk stream %d: read extended timestamp: %w", csid, unexpected(err))
				}
				cs.extValue = binary.BigEndian.Uint32(r.hdr[:4])
				cs.delta = cs.extValue
			}
			cs.timestamp += cs.delta
		}
	}

	if !cs.active {
		cs.active = true
		cs.started = r.now()
		r.active++
	}

	// Chunk data, at most chunkSize bytes, read into a buffer that grows
	// only as the data arrives.
	for n := min(cs.length-uint32(len(cs.buf)), r.chunkSize); n > 0; {
		if len(cs.buf) == cap(cs.buf) {
			if err := r.grow(csid, cs); err != nil {
				return nil, err
			}
		}
		start := len(cs.buf)
		k := min(n, uint32(cap(cs.buf)-start))
		cs.buf = cs.buf[:start+int(k)]
		if err := r.readFull(cs.buf[start:]); err != nil {
			return nil, fmt.Errorf("rtmp: chunk stream %d: read chunk data: %w", csid, unexpected(err))
		}
		n -= k
	}
	if uint32(len(cs.buf)) < cs.length {
		return nil, nil
	}
	m := &Message{
		Type:          cs.typ,
		ChunkStreamID: csid,
		StreamID:      cs.streamID,
		Timestamp:     cs.timestamp,
		Payload:       cs.buf,
	}
	// The payload now belongs to the caller: no longer unfinished.
	r.drop(cs)
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	return m, nil
}

// unexpected turns a clean EOF in the middle of a chunk into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
