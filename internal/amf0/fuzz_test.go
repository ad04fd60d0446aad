package amf0

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that Decode never panics, and that whatever it accepts
// re-encodes to a fixed point: Append(Decode(Append(Decode(b)))) equals
// Append(Decode(b)).
func FuzzDecode(f *testing.F) {
	seeds := [][]byte{
		{0x02, 0x00, 0x07, 'c', 'o', 'n', 'n', 'e', 'c', 't', 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
			0x03, 0x00, 0x03, 'a', 'p', 'p', 0x02, 0x00, 0x04, 'l', 'i', 'v', 'e', 0x00, 0x00, 0x09},
		{0x08, 0, 0, 0, 1, 0x00, 0x01, 'a', 0x01, 0x01, 0x00, 0x00, 0x09},
		{0x0a, 0, 0, 0, 2, 0x05, 0x06},
		{0x0b, 0x40, 0x8f, 0x40, 0, 0, 0, 0, 0, 0, 0},
		{0x0c, 0, 0, 0, 1, 'x'},
		{0x11, 0x02},
		{0x0a, 0xff, 0xff, 0xff, 0xff},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := Decode(b)
		if err != nil {
			return
		}
		e1, err := Append(nil, vals...)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		vals2, err := Decode(e1)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		e2, err := Append(nil, vals2...)
		if err != nil {
			t.Fatalf("re-encode twice: %v", err)
		}
		if !bytes.Equal(e1, e2) {
			t.Fatalf("not a fixed point:\n%x\n%x", e1, e2)
		}
	})
}
