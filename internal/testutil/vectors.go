package testutil

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/sluicemedia/sluice/internal/av"
)

// Frame is one encoded video frame of a test vector.
type Frame struct {
	DTSms int64 // decode time, ms from 0
	CTSms int32 // composition offset, ms
	Key   bool
	Data  []byte // MP4 sample: length-prefixed NAL units, or AV1 OBUs
}

// VideoVector is an encoded clip split into its decoder configuration record
// (hvcC / av1C / avcC contents) and frames.
type VideoVector struct {
	Config []byte
	Frames []Frame
}

// EncodeVector encodes 2 s of testsrc2 at 320x240/25 fps with the given
// ffmpeg video encoder arguments (e.g. "-c:v", "libx265") into fragmented
// MP4 and returns its configuration record (the content of box configBox,
// e.g. "hvcC", "av1C") and frames.
func EncodeVector(t testing.TB, configBox string, encoder ...string) VideoVector {
	t.Helper()
	RequireTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "vector.mp4")
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2", "-pix_fmt", "yuv420p"}
	args = append(args, encoder...)
	args = append(args, "-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("encode vector: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	v, err := splitFMP4(b, configBox)
	if err != nil {
		t.Fatalf("parse vector: %v", err)
	}
	return v
}

func splitFMP4(b []byte, configBox string) (VideoVector, error) {
	var v VideoVector
	var moov, frags []byte
	for pos := 0; pos+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[pos:]))
		if size < 8 || pos+size > len(b) {
			return v, fmt.Errorf("bad box size at %d", pos)
		}
		switch string(b[pos+4 : pos+8]) {
		case "moov":
			moov = b[pos : pos+size]
		case "moof", "mdat":
			frags = append(frags, b[pos:pos+size]...)
		}
		pos += size
	}
	cfg, err := boxContent(moov, configBox)
	if err != nil {
		return v, err
	}
	v.Config = cfg
	mdhd, err := boxContent(moov, "mdhd")
	if err != nil {
		return v, err
	}
	timescale := int64(binary.BigEndian.Uint32(mdhd[12:])) // version 0 layout
	if mdhd[0] == 1 {
		timescale = int64(binary.BigEndian.Uint32(mdhd[20:]))
	}
	if timescale == 0 {
		return v, fmt.Errorf("mdhd timescale 0")
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(frags); err != nil {
		return v, err
	}
	var dts uint64
	first := true
	for _, p := range parts {
		for _, tr := range p.Tracks {
			if first {
				dts, first = tr.BaseTime, false
			}
			for _, s := range tr.Samples {
				v.Frames = append(v.Frames, Frame{
					DTSms: int64(dts) * 1000 / timescale,
					CTSms: int32(int64(s.PTSOffset) * 1000 / timescale),
					Key:   !s.IsNonSyncSample,
					Data:  s.Payload,
				})
				dts += uint64(s.Duration)
			}
		}
	}
	if len(v.Frames) == 0 {
		return v, fmt.Errorf("no frames")
	}
	// Sync-sample flags of ffmpeg's fragments are not reliable through the
	// fMP4 reader: take keyframes from the bitstream.
	for i := range v.Frames {
		f := &v.Frames[i]
		switch configBox {
		case "hvcC":
			f.Key = av.IsH265Keyframe(f.Data)
		case "avcC":
			f.Key = av.IsH264Keyframe(f.Data)
		case "av1C":
			var tu av1.Bitstream
			if err := tu.Unmarshal(f.Data); err != nil {
				return v, fmt.Errorf("frame %d: %w", i, err)
			}
			f.Key = av1.IsRandomAccess2(tu)
		}
	}
	if configBox == "av1C" && len(v.Config) == 0 {
		// ffmpeg 5.1 writes an empty av1C with empty_moov: build the record
		// (AV1-ISOBMFF §2.3) from the first keyframe's sequence header OBU,
		// for 8-bit 4:2:0 profile 0 as libaom makes here.
		seq, err := av1SequenceHeaderOBU(v.Frames[0].Data)
		if err != nil {
			return v, err
		}
		v.Config = append([]byte{0x81, 0x00, 0x0C, 0x00}, seq...)
	}
	return v, nil
}

// av1SequenceHeaderOBU returns the first sequence header OBU (with its
// header and size field) of a low-overhead-format temporal unit.
func av1SequenceHeaderOBU(tu []byte) ([]byte, error) {
	for pos := 0; pos < len(tu); {
		h := tu[pos]
		hdr := 1 + int(h>>2&1)
		if h>>1&1 == 0 {
			return nil, fmt.Errorf("OBU without size field")
		}
		size, n := 0, 0
		for i := 0; i < 8; i++ {
			if pos+hdr+i >= len(tu) {
				return nil, fmt.Errorf("truncated OBU size")
			}
			b := tu[pos+hdr+i]
			size |= int(b&0x7f) << (7 * i)
			n++
			if b&0x80 == 0 {
				break
			}
		}
		end := pos + hdr + n + size
		if end > len(tu) {
			return nil, fmt.Errorf("truncated OBU")
		}
		if h>>3&0xF == 1 {
			return tu[pos:end], nil
		}
		pos = end
	}
	return nil, fmt.Errorf("no sequence header OBU")
}

// boxContent finds the first box of type typ inside b and returns its
// payload (after the 8-byte header).
func boxContent(b []byte, typ string) ([]byte, error) {
	for i := 4; i+4 <= len(b); i++ {
		if string(b[i:i+4]) != typ {
			continue
		}
		size := int(binary.BigEndian.Uint32(b[i-4:]))
		if size >= 8 && i-4+size <= len(b) {
			return b[i+4 : i-4+size], nil
		}
	}
	return nil, fmt.Errorf("box %s not found", typ)
}
