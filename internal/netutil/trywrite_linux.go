//go:build linux

package netutil

import (
	"net"
	"syscall"
	"unsafe"
)

// Iovecs is the scratch space a TryWriter fills for one writev, reused
// between calls by one writing goroutine.
type Iovecs []syscall.Iovec

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// TryWriter writes to a socket without ever waiting: one writev of what the
// socket's send buffer takes now. It lets one goroutine serve many
// connections, handing a connection whose buffer is full to a goroutine of
// its own. It bypasses the net.Conn's write lock (it never waits for a
// blocked net.Conn.Write either): the caller must make sure no other write
// of the connection is under way (see package fanout). Not
// safe for concurrent use.
type TryWriter struct {
	rc syscall.RawConn
	fn func(fd uintptr) // built once: RawConn.Control's callback

	// Per call, for fn.
	iov   []syscall.Iovec
	n     int
	errno syscall.Errno
}

// NewTryWriter returns a TryWriter for c, or nil when c has no file
// descriptor to write to directly (TLS, pipes): such connections keep
// their blocking writes.
func NewTryWriter(c net.Conn) *TryWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &TryWriter{rc: rc}
	w.fn = w.writev
	return w
}

// Write writes bufs with one non-blocking writev and returns how many bytes
// the socket took: fewer than in bufs, possibly none, when its send buffer
// is full. err is a real failure (closed, reset), never "would block"; the
// connection's write deadline does not apply. iov is scratch space reused
// between calls (one per writing goroutine).
func (w *TryWriter) Write(bufs [][]byte, iov *Iovecs) (int, error) {
	v := (*iov)[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(v) == maxIovecs {
			break // the caller sees a short write and carries on
		}
		e := syscall.Iovec{Base: &b[0]}
		e.SetLen(len(b))
		v = append(v, e)
	}
	*iov = v
	if len(v) == 0 {
		return 0, nil
	}
	w.iov, w.n, w.errno = v, 0, 0
	err := w.rc.Control(w.fn)
	n, errno := w.n, w.errno
	w.iov = nil
	clear(v) // drop the references to the payloads
	if err != nil {
		return n, err
	}
	if errno != 0 {
		return n, &net.OpError{Op: "writev", Net: "tcp", Err: syscall.Errno(errno)}
	}
	return n, nil
}

// writev is the RawConn.Control callback.
func (w *TryWriter) writev(fd uintptr) {
	for {
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		switch e {
		case 0:
			w.n = int(r)
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			w.n = 0
		default:
			w.errno = e
			return
		}
		break
	}
}
