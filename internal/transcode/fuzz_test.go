package transcode

import (
	"bufio"
	"bytes"
	"testing"
)

// ffmpeg's output is parsed by adtsReader and oggReader: a broken or
// truncated stream must end in an error, never a panic or an unbounded
// allocation.

func FuzzADTSReader(f *testing.F) {
	f.Add([]byte{0xff, 0xf1, 0x4c, 0x80, 0x01, 0x7f, 0xfc, 1, 2, 3, 4})
	f.Add([]byte{0xff, 0xf0, 0x4c, 0x80, 0x01, 0x7f, 0xfc, 0, 0, 9})
	f.Add([]byte{0xff, 0xf1, 0x7c, 0x00, 0x00, 0x1f, 0xfc})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newADTSReader(bufio.NewReader(bytes.NewReader(data)))
		total := 0
		for {
			fr, err := r.next()
			if err != nil {
				return
			}
			total += len(fr.au)
			if total > len(data) {
				t.Fatalf("read %d payload bytes from %d input bytes", total, len(data))
			}
			if _, err := fr.config.Marshal(); err != nil {
				t.Fatalf("accepted a header whose config does not marshal: %v", err)
			}
		}
	})
}

func FuzzOggReader(f *testing.F) {
	f.Add(append(oggPage([]byte("OpusHead")), oggPage([]byte{0xfc, 1}, []byte{0xfc, 2})...))
	f.Add([]byte("OggS\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newOggReader(bufio.NewReader(bytes.NewReader(data)))
		total := 0
		for {
			p, err := r.next()
			if err != nil {
				return
			}
			total += len(p)
			if total > len(data) {
				t.Fatalf("read %d packet bytes from %d input bytes", total, len(data))
			}
			_ = opusPacketSamples(p)
		}
	})
}
