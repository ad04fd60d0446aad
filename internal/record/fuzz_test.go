package record

import (
	"bytes"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// memFile is an in-memory File.
type memFile struct{ b []byte }

func (m *memFile) Write(p []byte) (int, error) { m.b = append(m.b, p...); return len(p), nil }
func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	copy(m.b[off:], p)
	return len(p), nil
}
func (m *memFile) Sync() error  { return nil }
func (m *memFile) Close() error { return nil }

// sampleRecording writes a small recording (2 s, two keyframes) in memory.
func sampleRecording(t testing.TB) []byte {
	video, audio := testTracks(t)
	f := &memFile{}
	w, err := newFileWriter(f, "mem", epoch, 0, video, audio)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		ts := time.Duration(i) * 40 * time.Millisecond
		vt, at := w.trackFor(&av.Packet{Track: video}), w.trackFor(&av.Packet{Track: audio})
		if err := w.add(vt, &av.Packet{Track: video, DTS: ts, PTS: ts + 80*time.Millisecond, Key: i%25 == 0, Data: []byte{0, 0, 0, 1, 0x65}}, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := w.add(at, &av.Packet{Track: audio, DTS: ts, PTS: ts, Key: true, Data: []byte{0x21, 0x10}}, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	return f.b
}

func TestSampleRecordingIndex(t *testing.T) {
	b := sampleRecording(t)
	var ix FileIndex
	if err := ix.update(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	if got := ix.Duration(); got < 1900*time.Millisecond || got > 2100*time.Millisecond {
		t.Fatalf("duration %s, want 2 s", got)
	}
	if len(ix.Fragments) < 4 || !ix.Fragments[0].Key {
		t.Fatalf("fragments %+v, want ≥ 4 starting at a keyframe", ix.Fragments)
	}
	// A crash mid-fragment: the tail is dropped, the rest stays indexed.
	cut := b[:len(b)-7]
	var ix2 FileIndex
	if err := ix2.update(bytes.NewReader(cut), int64(len(cut))); err != nil {
		t.Fatal(err)
	}
	if len(ix2.Fragments) != len(ix.Fragments)-1 {
		t.Fatalf("truncated file: %d fragments, want %d", len(ix2.Fragments), len(ix.Fragments)-1)
	}
}

// FuzzFileIndex feeds the index parser arbitrary files (recordings can be
// truncated or corrupt): it must not panic, and what it indexes must lie
// inside the file, in order.
func FuzzFileIndex(f *testing.F) {
	b := sampleRecording(f)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(b[:1200])
	f.Add([]byte("\x00\x00\x00\x08ftyp"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ix FileIndex
		_ = ix.update(bytes.NewReader(data), int64(len(data)))
		end := int64(len(ix.Init))
		for _, fr := range ix.Fragments {
			if fr.Offset < end || fr.Size <= 0 || fr.Offset+fr.Size > int64(len(data)) {
				t.Fatalf("fragment %+v outside the file or out of order (after %d, size %d)", fr, end, len(data))
			}
			end = fr.Offset + fr.Size
		}
		_, _ = parseMoof(data)
	})
}
