package rtmp

import (
	"errors"
	"sync/atomic"
)

// Errors wrapped by ReadMessage when a peer's unfinished messages hit a
// bound, so a server can name the reason in its log line.
var (
	// ErrUnfinishedLimit: the connection's partially received messages
	// would exceed Limits.MaxUnfinishedBytes (or its restricted form).
	ErrUnfinishedLimit = errors.New("unfinished messages over the per-connection limit")
	// ErrBudgetExhausted: the shared Budget has no room left.
	ErrBudgetExhausted = errors.New("server-wide budget for unfinished messages exhausted")
	// ErrMessageTimeout: a message stayed partially received longer than
	// Limits.MessageTimeout.
	ErrMessageTimeout = errors.New("message not completed in time")
)

// Budget is a byte budget shared by the ChunkReaders of many connections:
// the buffers of their partially received messages together stay within
// it, so no set of peers — each within its own limits — can make a server
// hold more. It is safe for concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes (at least 1).
func NewBudget(limit int64) *Budget { return &Budget{limit: max(limit, 1)} }

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes currently reserved.
func (b *Budget) Used() int64 { return b.used.Load() }

// reserve takes n bytes if they fit and reports whether it did.
func (b *Budget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// release returns n bytes taken by reserve.
func (b *Budget) release(n int64) { b.used.Add(-n) }
