package rtmp

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func pipe(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	dl := time.Now().Add(10 * time.Second)
	_ = a.SetDeadline(dl)
	_ = b.SetDeadline(dl)
	return a, b
}

func TestHandshakeClientServer(t *testing.T) {
	c, s := pipe(t)
	errc := make(chan error, 1)
	go func() { errc <- ServerHandshake(s) }()
	require.NoError(t, ClientHandshake(c))
	require.NoError(t, <-errc)

	// The connection is usable for chunks afterwards in both directions.
	go func() {
		_, err := c.Write(AppendChunks(nil, &Message{Type: 20, ChunkStreamID: 3, Payload: []byte("hi")}, 128))
		errc <- err
	}()
	m, err := NewChunkReader(s, Limits{}).ReadMessage()
	require.NoError(t, err)
	require.Equal(t, "hi", string(m.Payload))
	require.NoError(t, <-errc)
}

// A plain (pre-FP9) client: C1 without a digest gets S2 = C1 echoed.
func TestServerHandshakeSimple(t *testing.T) {
	c, s := pipe(t)
	errc := make(chan error, 1)
	go func() { errc <- ServerHandshake(s) }()

	c1 := make([]byte, handshakeSize)
	_, _ = rand.Read(c1[8:])
	_, err := c.Write(append([]byte{3}, c1...))
	require.NoError(t, err)
	resp := make([]byte, 1+2*handshakeSize)
	_, err = io.ReadFull(c, resp)
	require.NoError(t, err)
	require.Equal(t, byte(3), resp[0])
	s1 := resp[1 : 1+handshakeSize]
	require.Equal(t, c1, resp[1+handshakeSize:], "S2 echoes C1")
	_, err = c.Write(s1) // C2 echoes S1
	require.NoError(t, err)
	require.NoError(t, <-errc)
}

// Builds a C1 per the FP9 digest scheme by hand (independently of
// signPacket) and checks that S1 carries a valid FMS digest under the same
// scheme and that S2 is signed with the key derived from the C1 digest.
func TestServerHandshakeDigest(t *testing.T) {
	for _, scheme := range []struct {
		name      string
		offBase   int // start of the 4 offset bytes
		digestMin int // first possible digest position
	}{
		{"scheme0", 772, 776},
		{"scheme1", 8, 12},
	} {
		t.Run(scheme.name, func(t *testing.T) {
			c1 := make([]byte, handshakeSize)
			_, _ = rand.Read(c1)
			copy(c1[0:4], []byte{0, 0, 0, 0})
			copy(c1[4:8], []byte{0x80, 0x00, 0x07, 0x02})
			sum := int(c1[scheme.offBase]) + int(c1[scheme.offBase+1]) + int(c1[scheme.offBase+2]) + int(c1[scheme.offBase+3])
			pos := sum%728 + scheme.digestMin
			mac := hmac.New(sha256.New, []byte("Genuine Adobe Flash Player 001"))
			mac.Write(c1[:pos])
			mac.Write(c1[pos+32:])
			c1Digest := mac.Sum(nil)
			copy(c1[pos:], c1Digest)

			c, s := pipe(t)
			errc := make(chan error, 1)
			go func() { errc <- ServerHandshake(s) }()
			_, err := c.Write(append([]byte{3}, c1...))
			require.NoError(t, err)
			resp := make([]byte, 1+2*handshakeSize)
			_, err = io.ReadFull(c, resp)
			require.NoError(t, err)
			s1 := resp[1 : 1+handshakeSize]
			s2 := resp[1+handshakeSize:]
			require.GreaterOrEqual(t, s1[4], byte(3), "FMS version so clients validate")

			// S1 digest, same scheme, FMS partial key.
			sum = int(s1[scheme.offBase]) + int(s1[scheme.offBase+1]) + int(s1[scheme.offBase+2]) + int(s1[scheme.offBase+3])
			spos := sum%728 + scheme.digestMin
			mac = hmac.New(sha256.New, []byte("Genuine Adobe Flash Media Server 001"))
			mac.Write(s1[:spos])
			mac.Write(s1[spos+32:])
			require.Equal(t, mac.Sum(nil), s1[spos:spos+32], "S1 digest")

			// S2 signature: HMAC(HMAC(full FMS key, C1 digest), S2[:1504]).
			mac = hmac.New(sha256.New, serverKey)
			mac.Write(c1Digest)
			mac = hmac.New(sha256.New, mac.Sum(nil))
			mac.Write(s2[:handshakeSize-32])
			require.Equal(t, mac.Sum(nil), s2[handshakeSize-32:], "S2 signature")
			require.NotEqual(t, c1, s2)

			_, err = c.Write(make([]byte, handshakeSize))
			require.NoError(t, err)
			require.NoError(t, <-errc)
		})
	}
}

// The client answers a digest S1 with a C2 signed from the S1 digest.
func TestClientHandshakeDigestC2(t *testing.T) {
	c, s := pipe(t)
	errc := make(chan error, 1)
	go func() { errc <- ClientHandshake(c) }()
	c0c1 := make([]byte, 1+handshakeSize)
	_, err := io.ReadFull(s, c0c1)
	require.NoError(t, err)
	_, c1Digest, ok := findDigest(c0c1[1:], []byte(playerKeyText))
	require.True(t, ok, "client offers a digest C1")

	s1 := make([]byte, handshakeSize)
	_, _ = rand.Read(s1)
	s1Digest := signPacket(s1, scheme0, []byte(serverKeyText))
	s2 := make([]byte, handshakeSize)
	_, _ = rand.Read(s2)
	signedResponse(s2, serverKey, c1Digest)
	_, err = s.Write(cat([]byte{3}, s1, s2))
	require.NoError(t, err)
	c2 := make([]byte, handshakeSize)
	_, err = io.ReadFull(s, c2)
	require.NoError(t, err)
	require.NoError(t, <-errc)

	want := bytes.Clone(c2)
	signedResponse(want, playerKey, s1Digest)
	require.Equal(t, want, c2)
}

func TestHandshakeErrors(t *testing.T) {
	err := ServerHandshake(&rwPair{r: bytes.NewReader(append([]byte{6}, make([]byte, handshakeSize)...)), w: io.Discard})
	require.ErrorContains(t, err, "unsupported version 6")
	err = ServerHandshake(&rwPair{r: bytes.NewReader([]byte{3, 1, 2}), w: io.Discard})
	require.ErrorContains(t, err, "read C0+C1")
	err = ClientHandshake(&rwPair{r: bytes.NewReader([]byte{3}), w: io.Discard})
	require.ErrorContains(t, err, "read S0+S1+S2")
}

// rwPair joins a reader and a writer.
type rwPair struct {
	r io.Reader
	w io.Writer
}

func (p *rwPair) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *rwPair) Write(b []byte) (int, error) { return p.w.Write(b) }
