package flv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxHeaderPadding bounds the bytes skipped between the 9-byte header and
// the first tag when DataOffset is larger than 9.
const maxHeaderPadding = 1 << 16

// readChunk bounds each allocation step while reading a tag body, so a
// lying DataSize costs at most this much memory before the stream ends.
const readChunk = 1 << 20

// Reader reads an FLV stream: a file header, then tags.
type Reader struct {
	r          *bufio.Reader
	maxTagSize uint32
	eof        bool
}

// NewReader returns a Reader over r that rejects tags whose body is larger
// than maxTagSize bytes (0 means MaxTagBodySize). r is buffered unless it
// already is a *bufio.Reader.
func NewReader(r io.Reader, maxTagSize uint32) *Reader {
	if maxTagSize == 0 || maxTagSize > MaxTagBodySize {
		maxTagSize = MaxTagBodySize
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{r: br, maxTagSize: maxTagSize}
}

// ReadHeader reads the file header and PreviousTagSize0.
func (r *Reader) ReadHeader() (hasVideo, hasAudio bool, err error) {
	var b [HeaderSize]byte
	if _, err := io.ReadFull(r.r, b[:]); err != nil {
		return false, false, fmt.Errorf("flv: read header: %w", noEOF(err))
	}
	hasVideo, hasAudio, off, err := parseHeader(b[:])
	if err != nil {
		return false, false, err
	}
	skip := int64(off-HeaderSize) + 4 // padding, then PreviousTagSize0
	if skip > maxHeaderPadding {
		return false, false, fmt.Errorf("flv: read header: DataOffset %d too large", off)
	}
	if _, err := io.CopyN(io.Discard, r.r, skip); err != nil {
		return false, false, fmt.Errorf("flv: read header: %w", noEOF(err))
	}
	return hasVideo, hasAudio, nil
}

// ReadTag reads the next tag and its PreviousTagSize. Body is freshly
// allocated and owned by the caller. It returns io.EOF at a clean end of
// stream (between tags) and an error wrapping ErrTagTooLarge for a tag
// larger than the maximum. PreviousTagSize is not checked (many muxers get
// it wrong), and a stream cut right after a tag body still yields the tag.
func (r *Reader) ReadTag() (Tag, error) {
	if r.eof {
		return Tag{}, io.EOF
	}
	var h [TagHeaderSize]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Tag{}, io.EOF
		}
		return Tag{}, fmt.Errorf("flv: read tag header: %w", err)
	}
	if h[0]&0x20 != 0 {
		return Tag{}, fmt.Errorf("flv: read tag: encrypted tags (Filter bit) are not supported")
	}
	t := Tag{
		Type:      h[0] & 0x1f,
		Timestamp: uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24,
	}
	size := uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
	if size > r.maxTagSize {
		return Tag{}, fmt.Errorf("flv: read tag: %w: type %d, %d bytes > max %d", ErrTagTooLarge, t.Type, size, r.maxTagSize)
	}
	body, err := readN(r.r, int(size))
	if err != nil {
		return Tag{}, fmt.Errorf("flv: read tag body (type %d, %d bytes): %w", t.Type, size, noEOF(err))
	}
	t.Body = body
	var pts [4]byte
	if _, err := io.ReadFull(r.r, pts[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			r.eof = true // truncated file: keep the tag, end cleanly next time
			return t, nil
		}
		return Tag{}, fmt.Errorf("flv: read PreviousTagSize: %w", err)
	}
	return t, nil
}

// readN reads exactly n bytes, growing the buffer in bounded steps.
func readN(r io.Reader, n int) ([]byte, error) {
	if n <= readChunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, readChunk)
	for len(b) < n {
		step := min(n-len(b), readChunk)
		b = append(b, make([]byte, step)...)
		if _, err := io.ReadFull(r, b[len(b)-step:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF for reads that must complete.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
