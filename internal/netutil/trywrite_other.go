//go:build !linux

package netutil

import (
	"errors"
	"net"
)

// Iovecs is the scratch space of TryWriter.Write; empty where there is no
// writev fast path.
type Iovecs struct{}

// TryWriter is the non-blocking writev fast path, Linux only. Elsewhere
// NewTryWriter returns nil, the answer for a connection without a usable
// file descriptor, so callers fall back to blocking writes (package fanout
// gives such a viewer a goroutine of its own).
type TryWriter struct{}

// NewTryWriter returns nil: no fast path on this platform.
func NewTryWriter(net.Conn) *TryWriter { return nil }

// errNoTryWrite is returned by Write, which no caller reaches because
// NewTryWriter never returns a TryWriter here.
var errNoTryWrite = errors.New("netutil: non-blocking writev is Linux only")

// Write is never called: NewTryWriter returns nil on this platform.
func (w *TryWriter) Write([][]byte, *Iovecs) (int, error) { return 0, errNoTryWrite }
