package e2e

import "sync/atomic"

// atomicTS holds the latest timestamp a reader goroutine saw.
type atomicTS struct{ v atomic.Uint32 }

func (a *atomicTS) set(ts uint32) { a.v.Store(ts) }
func (a *atomicTS) get() uint32   { return a.v.Load() }
