package testutil

import (
	"errors"
	"io"
	"net"
	"time"
)

// ClosedByPeer reports whether the other end closes c within wait: what
// it had sent is read and discarded (n bytes), then EOF or a reset must
// come before the read deadline.
func ClosedByPeer(c net.Conn, wait time.Duration) (closed bool, n int64) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout()), n
}
