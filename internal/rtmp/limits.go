package rtmp

// Limits bounds what a peer can make a reader hold in memory. A zero field
// means "use the default".
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
}

// Default limit values.
const (
	DefaultMaxMessageSize  = 8 << 20
	DefaultMaxChunkSize    = 16 << 20
	DefaultMaxChunkStreams = 64
	// DefaultChunkSize is the chunk size both directions start with (§5.4.1).
	DefaultChunkSize = 128
	// maxSettableChunkSize is the largest value Set Chunk Size can carry: the
	// top bit of the 32-bit field must be zero (§5.4.1).
	maxSettableChunkSize = 0x7FFFFFFF
)

// DefaultLimits returns the default limits: 8 MiB messages, 16 MiB chunk
// size, 64 chunk streams.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageSize:  DefaultMaxMessageSize,
		MaxChunkSize:    DefaultMaxChunkSize,
		MaxChunkStreams: DefaultMaxChunkStreams,
	}
}

// withDefaults fills zero fields with their defaults.
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
	return l
}
