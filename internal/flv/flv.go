// Package flv reads and writes FLV (Adobe Flash Video File Format
// Specification v10.1, Annex E) and the codec payloads of its audio and
// video tags, both legacy (AVC, AAC, and the de-facto HEVC codec id 12) and
// Enhanced RTMP v2 (FourCC-signalled HEVC, AV1, Opus, AAC). Tag bodies are
// byte-identical to RTMP audio/video message payloads, so the RTMP server
// uses this package too. It is pure bytes: the only I/O is Reader and Writer
// over an io.Reader / io.Writer.
package flv

import "errors"

// Errors a caller may want to tell apart with errors.Is. Every error returned
// by this package is prefixed "flv:" and carries context.
var (
	// ErrUnsupportedCodec: the tag carries a codec Sluice does not handle
	// (the wrapping error names the codec id or FourCC).
	ErrUnsupportedCodec = errors.New("unsupported codec")
	// ErrUnsupportedPacketType: a packet type this package does not handle
	// (e.g. Enhanced RTMP MPEG2TSSequenceStart).
	ErrUnsupportedPacketType = errors.New("unsupported packet type")
	// ErrTruncated: a tag or tag body is shorter than its layout requires.
	ErrTruncated = errors.New("truncated")
	// ErrNoSequenceHeader: a coded frame arrived before the sequence header
	// that describes it; callers usually drop the frame.
	ErrNoSequenceHeader = errors.New("coded frame before sequence header")
	// ErrTagTooLarge: a tag exceeds the Reader's maximum or the 24-bit
	// DataSize field.
	ErrTagTooLarge = errors.New("tag too large")
)
