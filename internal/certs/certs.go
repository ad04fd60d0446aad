// Package certs holds Sluice's TLS certificate plumbing: a key pair that can
// be reloaded from its files while connections stay up (SIGHUP), and a
// self-signed pair generator for local testing (sluice -gen-cert).
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// KeyPair is a certificate and key loaded from files. Listeners use
// TLSConfig, whose GetCertificate reads the current pair on every
// handshake, so Reload changes the certificate for new connections while
// established ones keep going.
type KeyPair struct {
	CertFile, KeyFile string
	current           atomic.Pointer[tls.Certificate]
}

// Load reads the pair for the first time.
func Load(certFile, keyFile string) (*KeyPair, error) {
	kp := &KeyPair{CertFile: certFile, KeyFile: keyFile}
	if err := kp.Reload(); err != nil {
		return nil, err
	}
	return kp, nil
}

// Reload reads the files again. On error the previous pair stays in use.
func (kp *KeyPair) Reload() error {
	cert, err := tls.LoadX509KeyPair(kp.CertFile, kp.KeyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s / key %s: %w", kp.CertFile, kp.KeyFile, err)
	}
	kp.current.Store(&cert)
	return nil
}

// Certificate returns the pair in use.
func (kp *KeyPair) Certificate() *tls.Certificate { return kp.current.Load() }

// TLSConfig returns a server config serving the current pair (TLS 1.2+).
func (kp *KeyPair) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return kp.current.Load(), nil
		},
	}
}

// GenerateSelfSigned writes a new self-signed ECDSA P-256 certificate
// (valid 1 year, for localhost, 127.0.0.1, ::1 and the given extra hosts)
// as cert.pem and key.pem (mode 0600) in dir, creating dir if needed.
func GenerateSelfSigned(dir string, hosts ...string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Sluice self-signed", Organization: []string{"Sluice"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return "", "", err
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeAtomic replaces path in one rename, so a reload never reads half a
// file.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
