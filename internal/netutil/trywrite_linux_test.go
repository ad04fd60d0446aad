//go:build linux

package netutil

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// A TryWriter never waits: once the peer stops reading, writes come back
// short (down to nothing) without an error; Rest continues exactly where
// the socket stopped, and a closed connection is an error.
func TestTryWriterShortWritesAndRest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)
	defer server.Close()

	w := NewTryWriter(server)
	require.NotNil(t, w)
	var iov Iovecs
	a, b := bytes.Repeat([]byte{'a'}, 40_000), bytes.Repeat([]byte{'b'}, 25_000)
	var sent bytes.Buffer
	short := false
	for range 10_000 {
		bufs := [][]byte{a, nil, b}
		n, err := w.Write(bufs, &iov)
		require.NoError(t, err)
		for _, p := range bufs {
			sent.Write(p)
		}
		if n < len(a)+len(b) {
			short = true
			rest := Rest(bufs, n)
			sent.Truncate(sent.Len() - len(a) - len(b) + n)
			for _, p := range rest {
				sent.Write(p)
			}
			// The rest, written blocking, continues the stream.
			go func() {
				nb := net.Buffers(rest)
				_, _ = nb.WriteTo(server)
				server.Close()
			}()
			break
		}
	}
	require.True(t, short, "a peer that does not read fills the socket")
	got, err := io.ReadAll(client)
	require.NoError(t, err)
	require.True(t, bytes.Equal(sent.Bytes(), got), "received %d bytes, sent %d", len(got), sent.Len())

	_, err = w.Write([][]byte{a}, &iov)
	require.Error(t, err, "closed connection")
	require.Nil(t, NewTryWriter(nil), "no file descriptor")
}

func TestRest(t *testing.T) {
	bufs := [][]byte{[]byte("abc"), []byte("de"), []byte("fgh")}
	require.Equal(t, [][]byte{[]byte("abc"), []byte("de"), []byte("fgh")}, Rest(bufs, 0))
	require.Equal(t, [][]byte{[]byte("c"), []byte("de"), []byte("fgh")}, Rest(bufs, 2))
	require.Equal(t, [][]byte{[]byte("fgh")}, Rest(bufs, 5))
	require.Empty(t, Rest(bufs, 8))
}
