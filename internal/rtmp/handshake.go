package rtmp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
)

// Handshake sizes, RTMP spec §5.2.
const (
	rtmpVersion   = 3
	handshakeSize = 1536 // C1, C2, S1, S2
	digestSize    = sha256.Size
)

// The FP9 digest handshake keys. Their first 30 (player) and 36 (server)
// bytes are the ASCII texts; the full keys add 32 fixed bytes. The partial
// keys sign C1/S1, the full keys derive the keys that sign S2/C2.
var (
	keyTail = []byte{
		0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1,
		0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB,
		0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
	}
	playerKeyText = "Genuine Adobe Flash Player 001"
	serverKeyText = "Genuine Adobe Flash Media Server 001"
	playerKey     = append([]byte(playerKeyText), keyTail...) // 62 bytes
	serverKey     = append([]byte(serverKeyText), keyTail...) // 68 bytes
)

// Versions written into the second field of C1/S1 for the digest handshake.
// Flash Player and ffmpeg check that the server's first byte is >= 3 before
// validating the S1 digest.
var (
	clientVersion = [4]byte{0x09, 0x00, 0x7C, 0x02}
	serverVersion = [4]byte{0x04, 0x05, 0x00, 0x01}
)

// digestScheme locates the 32-byte digest inside a 1536-byte C1/S1. The
// packet is time(4) version(4) and two 764-byte blocks. The digest block
// starts with 4 offset bytes whose sum mod 728 places the digest inside
// the rest of the block.
//
//	scheme 0: key block at 8, digest block at 772 (offset bytes 772..775)
//	scheme 1: digest block at 8 (offset bytes 8..11), key block at 772
type digestScheme int

const (
	scheme0 digestScheme = 0
	scheme1 digestScheme = 1
)

func (s digestScheme) digestBlock() int {
	if s == scheme0 {
		return 772
	}
	return 8
}

// digestOffset returns the position of the digest within p (1536 bytes).
func (s digestScheme) digestOffset(p []byte) int {
	base := s.digestBlock()
	sum := int(p[base]) + int(p[base+1]) + int(p[base+2]) + int(p[base+3])
	return base + 4 + sum%728
}

// hmacSHA256 returns HMAC-SHA256(key, parts...).
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// packetDigest computes the digest of p excluding the 32 bytes at off.
func packetDigest(p []byte, off int, key []byte) []byte {
	return hmacSHA256(key, p[:off], p[off+digestSize:])
}

// findDigest looks for a valid digest in p signed with key under either
// scheme and returns the scheme and the digest when one matches.
func findDigest(p []byte, key []byte) (digestScheme, []byte, bool) {
	for _, s := range []digestScheme{scheme0, scheme1} {
		off := s.digestOffset(p)
		if hmac.Equal(packetDigest(p, off, key), p[off:off+digestSize]) {
			return s, p[off : off+digestSize], true
		}
	}
	return 0, nil, false
}

// signPacket writes into p (1536 bytes) the digest under scheme s, keyed
// with key, and returns it.
func signPacket(p []byte, s digestScheme, key []byte) []byte {
	off := s.digestOffset(p)
	copy(p[off:], packetDigest(p, off, key))
	return p[off : off+digestSize]
}

// signedResponse fills p (1536 bytes, random) as an S2/C2 answering the peer
// digest: its last 32 bytes are HMAC(HMAC(fullKey, peerDigest), p[:1504]).
func signedResponse(p []byte, fullKey, peerDigest []byte) {
	k := hmacSHA256(fullKey, peerDigest)
	copy(p[handshakeSize-digestSize:], hmacSHA256(k, p[:handshakeSize-digestSize]))
}

// ServerHandshake performs the server side of the handshake (§5.2) on rw:
// it reads C0+C1, writes S0+S1+S2 in one write and reads C2. When C1 carries
// a valid FP9 digest (signed with the Flash Player key under either scheme)
// the reply is digest-signed as FMS does: S1 carries a digest keyed with the
// FMS key under the same scheme, and S2 is signed with a key derived from the
// C1 digest. Otherwise S1 is random and S2 echoes C1 (simple handshake). C2
// is read but not checked, as many clients send arbitrary bytes.
// Encrypted RTMPE (C0 = 6 or 8) is refused. Deadlines are the caller's
// business (set them on the net.Conn).
func ServerHandshake(rw io.ReadWriter) error { return serverHandshake(rw, rand.Reader) }

// serverHandshake is ServerHandshake with the source of random bytes
// injectable (fuzzing needs deterministic runs).
func serverHandshake(rw io.ReadWriter, random io.Reader) error {
	c0c1 := make([]byte, 1+handshakeSize)
	if _, err := io.ReadFull(rw, c0c1); err != nil {
		return fmt.Errorf("rtmp: handshake: read C0+C1: %w", err)
	}
	if c0c1[0] != rtmpVersion {
		return fmt.Errorf("rtmp: handshake: unsupported version %d in C0", c0c1[0])
	}
	c1 := c0c1[1:]

	out := make([]byte, 1+2*handshakeSize)
	out[0] = rtmpVersion
	s1 := out[1 : 1+handshakeSize]
	s2 := out[1+handshakeSize:]
	if _, err := io.ReadFull(random, s1[8:]); err != nil {
		return fmt.Errorf("rtmp: handshake: random: %w", err)
	}
	// S1 time is zero (§5.2.3 allows any epoch).
	if scheme, c1Digest, ok := findDigest(c1, playerKey[:len(playerKeyText)]); ok {
		copy(s1[4:8], serverVersion[:])
		signPacket(s1, scheme, serverKey[:len(serverKeyText)])
		if _, err := io.ReadFull(random, s2[:handshakeSize-digestSize]); err != nil {
			return fmt.Errorf("rtmp: handshake: random: %w", err)
		}
		signedResponse(s2, serverKey, c1Digest)
	} else {
		copy(s2, c1) // simple handshake: S2 echoes C1 (§5.2.3)
	}
	if _, err := rw.Write(out); err != nil {
		return fmt.Errorf("rtmp: handshake: write S0+S1+S2: %w", err)
	}
	c2 := make([]byte, handshakeSize)
	if _, err := io.ReadFull(rw, c2); err != nil {
		return fmt.Errorf("rtmp: handshake: read C2: %w", err)
	}
	return nil
}

// ClientHandshake performs the client side of the handshake (§5.2) on rw.
// It offers a digest-signed C1 (scheme 1, as ffmpeg does), reads S0+S1+S2,
// and answers with a digest-signed C2 when S1 carries a valid FMS digest, or
// with an echo of S1 otherwise, so it works with both simple and digest
// servers. S2 is not verified.
func ClientHandshake(rw io.ReadWriter) error {
	c0c1 := make([]byte, 1+handshakeSize)
	c0c1[0] = rtmpVersion
	c1 := c0c1[1:]
	if _, err := rand.Read(c1[8:]); err != nil {
		return fmt.Errorf("rtmp: handshake: random: %w", err)
	}
	copy(c1[4:8], clientVersion[:])
	signPacket(c1, scheme1, playerKey[:len(playerKeyText)])
	if _, err := rw.Write(c0c1); err != nil {
		return fmt.Errorf("rtmp: handshake: write C0+C1: %w", err)
	}

	in := make([]byte, 1+2*handshakeSize)
	if _, err := io.ReadFull(rw, in); err != nil {
		return fmt.Errorf("rtmp: handshake: read S0+S1+S2: %w", err)
	}
	if in[0] != rtmpVersion {
		return fmt.Errorf("rtmp: handshake: unsupported version %d in S0", in[0])
	}
	s1 := in[1 : 1+handshakeSize]

	c2 := make([]byte, handshakeSize)
	if _, digest, ok := findDigest(s1, serverKey[:len(serverKeyText)]); ok {
		if _, err := rand.Read(c2[:handshakeSize-digestSize]); err != nil {
			return fmt.Errorf("rtmp: handshake: random: %w", err)
		}
		signedResponse(c2, playerKey, digest)
	} else {
		copy(c2, s1) // simple handshake: C2 echoes S1
	}
	if _, err := rw.Write(c2); err != nil {
		return fmt.Errorf("rtmp: handshake: write C2: %w", err)
	}
	return nil
}
