package auth

import (
	"crypto/sha256"
	"crypto/subtle"
)

// keySet holds the SHA-256 digests of static keys, so a token is compared
// in constant time whatever its length and whichever key it matches.
type keySet [][sha256.Size]byte

func newKeySet(keys []string) keySet {
	s := make(keySet, 0, len(keys))
	for _, k := range keys {
		s = append(s, sha256.Sum256([]byte(k)))
	}
	return s
}

func (s keySet) empty() bool { return len(s) == 0 }

// contains reports whether token is one of the keys. It compares with every
// key, without an early exit.
func (s keySet) contains(token string) bool {
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range s {
		match |= subtle.ConstantTimeCompare(d[:], s[i][:])
	}
	return match == 1
}
