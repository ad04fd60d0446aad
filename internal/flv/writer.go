package flv

import (
	"fmt"
	"io"
)

// Writer writes an FLV stream. Each header or tag is one Write call on the
// underlying writer. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteHeader writes the file header and PreviousTagSize0.
func (w *Writer) WriteHeader(hasVideo, hasAudio bool) error {
	w.buf = AppendHeader(w.buf[:0], hasVideo, hasAudio)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("flv: write header: %w", err)
	}
	return nil
}

// WriteTag writes one tag followed by its PreviousTagSize.
func (w *Writer) WriteTag(t Tag) error {
	if len(t.Body) > MaxTagBodySize {
		return fmt.Errorf("flv: write tag: %w: %d bytes", ErrTagTooLarge, len(t.Body))
	}
	w.buf = AppendTag(w.buf[:0], t.Type, t.Timestamp, t.Body)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("flv: write tag: %w", err)
	}
	return nil
}
