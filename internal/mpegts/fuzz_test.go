package mpegts

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicemedia/sluice/internal/av"
)

// FuzzDemux feeds arbitrary bytes to Demux: it must end with an error or
// io.EOF, never panic, and every packet it publishes must be well formed.
func FuzzDemux(f *testing.F) {
	for _, name := range []string{"h264_aac.ts", "h265_opus.ts", "mp3.ts"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4*1316)])
	}
	f.Add([]byte{0x47, 0x40, 0x00, 0x10, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &checkSink{t: t}
		_ = Demux(bytes.NewReader(b), s, DemuxOptions{MaxPESSize: 1 << 16, MaxProbeBytes: 1 << 16})
	})
}

type checkSink struct{ t *testing.T }

func (s *checkSink) Announce(bool, bool) {}
func (s *checkSink) WritePacket(p *av.Packet) error {
	if p.Track == nil || len(p.Data) == 0 {
		s.t.Fatalf("malformed packet: track %v, %d bytes", p.Track, len(p.Data))
	}
	return nil
}
