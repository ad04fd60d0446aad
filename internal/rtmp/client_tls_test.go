package rtmp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sluice test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestClientRTMPS(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := serveTest(t, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	ctx := testCtx(t)

	c, err := Dial(ctx, "rtmps://"+s.addr()+"/live/secure", &tls.Config{RootCAs: pool})
	require.NoError(t, err)
	require.NoError(t, c.Publish(ctx))
	require.NoError(t, c.WriteMessage(&Message{Type: MsgVideo, Payload: []byte{0x17, 1}}))
	require.NoError(t, c.Close())
	<-s.done
	cmds, media := s.snapshot()
	require.Equal(t, "rtmps://"+s.addr()+"/live", cmds[0].Object.(amf0.Object).String("tcUrl"))
	require.Len(t, media, 1)

	// An untrusted certificate fails the dial.
	_, err = Dial(ctx, "rtmps://"+s.addr()+"/live/secure", nil)
	require.ErrorContains(t, err, "tls handshake")
}
