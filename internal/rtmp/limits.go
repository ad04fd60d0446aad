package rtmp

import "time"

// Limits bounds what a peer can make a reader hold in memory. A zero field
// means "use the default".
//
// A reader starts unrestricted (a client reading a server). A server marks
// a connection restricted (Conn.SetRestricted) until the peer has been
// authorized to publish: before that anybody can open a connection, so only
// the small messages of the command phase (connect, createStream, publish,
// play — a few hundred bytes each) are allowed, and the unfinished bytes
// the peer can make us hold are tiny.
type Limits struct {
	// MaxMessageSize is the largest message length accepted, in bytes.
	// Default 8 MiB.
	MaxMessageSize uint32
	// MaxChunkSize is the largest chunk size a peer may set with Set Chunk
	// Size (§5.4.1), in bytes. Default 16 MiB.
	MaxChunkSize uint32
	// MaxChunkStreams is the most distinct chunk stream IDs a peer may use on
	// one connection. Default 64.
	MaxChunkStreams int
	// MaxUnfinishedBytes bounds the buffers of partially received messages
	// of one connection, all chunk streams together, in bytes. It must be
	// at least MaxMessageSize. Default 16 MiB (a full-size message plus
	// the interleaved messages of other chunk streams).
	MaxUnfinishedBytes uint32
	// RestrictedMaxMessageSize is MaxMessageSize while restricted, in
	// bytes. Default 16 KiB (ffmpeg's and OBS's connect is 140–600 bytes).
	RestrictedMaxMessageSize uint32
	// RestrictedMaxChunkSize is MaxChunkSize while restricted, in bytes.
	// Default 64 KiB (clients that set a chunk size before connect set
	// 4096..65536).
	RestrictedMaxChunkSize uint32
	// RestrictedMaxUnfinishedBytes is MaxUnfinishedBytes while restricted,
	// in bytes. Default 64 KiB.
	RestrictedMaxUnfinishedBytes uint32
	// MessageTimeout is the longest a message may stay partially received;
	// a chunk arriving after that ends the read with an error wrapping
	// ErrMessageTimeout. Default 30 s.
	MessageTimeout time.Duration
	// Budget, when not nil, is shared by many readers: the buffers of
	// their partially received messages together never exceed it.
	Budget *Budget
}

// Default limit values.
const (
	DefaultMaxMessageSize               = 8 << 20
	DefaultMaxChunkSize                 = 16 << 20
	DefaultMaxChunkStreams              = 64
	DefaultMaxUnfinishedBytes           = 16 << 20
	DefaultRestrictedMaxMessageSize     = 16 << 10
	DefaultRestrictedMaxChunkSize       = 64 << 10
	DefaultRestrictedMaxUnfinishedBytes = 64 << 10
	DefaultMessageTimeout               = 30 * time.Second
	// DefaultChunkSize is the chunk size both directions start with (§5.4.1).
	DefaultChunkSize = 128
	// maxSettableChunkSize is the largest value Set Chunk Size can carry: the
	// top bit of the 32-bit field must be zero (§5.4.1).
	maxSettableChunkSize = 0x7FFFFFFF
)

// DefaultLimits returns the default limits: 8 MiB messages, 16 MiB chunk
// size, 64 chunk streams, 16 MiB of unfinished messages per connection,
// 16 KiB messages / 64 KiB chunks / 64 KiB unfinished while restricted, a
// 30 s message timeout and no shared budget.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageSize:               DefaultMaxMessageSize,
		MaxChunkSize:                 DefaultMaxChunkSize,
		MaxChunkStreams:              DefaultMaxChunkStreams,
		MaxUnfinishedBytes:           DefaultMaxUnfinishedBytes,
		RestrictedMaxMessageSize:     DefaultRestrictedMaxMessageSize,
		RestrictedMaxChunkSize:       DefaultRestrictedMaxChunkSize,
		RestrictedMaxUnfinishedBytes: DefaultRestrictedMaxUnfinishedBytes,
		MessageTimeout:               DefaultMessageTimeout,
	}
}

// withDefaults fills zero fields with their defaults. An unfinished-bytes
// bound below the message size is raised to it, so a message of the
// largest allowed size can always complete.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMessageSize == 0 {
		l.MaxMessageSize = d.MaxMessageSize
	}
	if l.MaxChunkSize == 0 {
		l.MaxChunkSize = d.MaxChunkSize
	}
	if l.MaxChunkStreams <= 0 {
		l.MaxChunkStreams = d.MaxChunkStreams
	}
	if l.MaxUnfinishedBytes == 0 {
		l.MaxUnfinishedBytes = max(d.MaxUnfinishedBytes, l.MaxMessageSize)
	}
	if l.RestrictedMaxMessageSize == 0 {
		l.RestrictedMaxMessageSize = min(d.RestrictedMaxMessageSize, l.MaxMessageSize)
	}
	if l.RestrictedMaxChunkSize == 0 {
		l.RestrictedMaxChunkSize = min(d.RestrictedMaxChunkSize, l.MaxChunkSize)
	}
	if l.RestrictedMaxUnfinishedBytes == 0 {
		l.RestrictedMaxUnfinishedBytes = min(d.RestrictedMaxUnfinishedBytes, l.MaxUnfinishedBytes)
	}
	if l.MessageTimeout <= 0 {
		l.MessageTimeout = d.MessageTimeout
	}
	l.MaxUnfinishedBytes = max(l.MaxUnfinishedBytes, l.MaxMessageSize)
	l.RestrictedMaxUnfinishedBytes = max(l.RestrictedMaxUnfinishedBytes, l.RestrictedMaxMessageSize)
	return l
}
