package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func serialSeen(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestReloadSwapsCertificateKeepsConnections(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, err := GenerateSelfSigned(dir, "example.test", "10.0.0.1")
	require.NoError(t, err)
	kp, err := Load(certFile, keyFile)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(kp.Certificate().Certificate[0])
	require.NoError(t, err)
	require.Contains(t, leaf.DNSNames, "example.test")
	require.Len(t, leaf.IPAddresses, 3)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", kp.TLSConfig())
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) { _ = c.(*tls.Conn).Handshake(); buf := make([]byte, 1); _, _ = c.Read(buf); c.Close() }(c)
		}
	}()
	before := serialSeen(t, ln.Addr().String())
	held, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer held.Close()

	_, _, err = GenerateSelfSigned(dir)
	require.NoError(t, err)
	require.NoError(t, kp.Reload())
	after := serialSeen(t, ln.Addr().String())
	require.NotEqual(t, before, after, "new handshakes get the new certificate")
	_, err = held.Write([]byte{1})
	require.NoError(t, err, "the connection made before the reload still works")
}

func TestReloadFailureKeepsOldPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, err := GenerateSelfSigned(dir)
	require.NoError(t, err)
	kp, err := Load(certFile, keyFile)
	require.NoError(t, err)
	old := kp.Certificate()
	require.NoError(t, writeAtomic(certFile, []byte("not a certificate")))
	require.Error(t, kp.Reload())
	require.Same(t, old, kp.Certificate())
}
