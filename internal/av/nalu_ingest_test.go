package av

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
)

// Parameter sets x264 and x265 wrote for a 64x48 picture.
var (
	testSPS264   = mustHex("6742c00ada11ec0440000003004000000c83c489a8")
	testPPS264   = mustHex("68ce0fc8")
	testVPS265   = mustHex("40010c01ffff01600000030090000003000003001e959809")
	testSPS265   = mustHex("42010101600000030090000003000003001ea02083165959ae4caf016808000003000800000300c840")
	testPPS265   = mustHex("4401c173d089")
	testIDR264   = []byte{0x65, 0x88, 0x84, 0x00}
	testP264     = []byte{0x41, 0x9a, 0x02}
	testAUD264   = []byte{0x09, 0xf0}
	testIDR265   = []byte{0x28, 0x01, 0xaf, 0x00} // IDR_N_LP
	testTRAIL265 = []byte{0x02, 0x01, 0xd0, 0x00}
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// avccNALUs splits AVCC data back into NAL units.
func avccNALUs(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("truncated length prefix: % x", b)
		}
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			t.Fatalf("NAL unit of %d bytes exceeds %d", n, len(b)-4)
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out
}

func TestNALUIngestH264InBand(t *testing.T) {
	g := &NALUIngest{Codec: CodecH264}
	// A non-IDR frame before any parameter set: no track, dropped.
	if _, _, tr, err := g.Convert([][]byte{testP264}); tr != nil || err != nil {
		t.Fatalf("P frame before SPS: track %v err %v, want nil, nil", tr, err)
	}
	data, key, tr, err := g.Convert([][]byte{testAUD264, testSPS264, testPPS264, testIDR264})
	if err != nil || !key || tr == nil {
		t.Fatalf("IDR with SPS/PPS: key %v track %v err %v", key, tr, err)
	}
	if tr.Codec != CodecH264 || tr.Width != 64 || tr.Height != 48 || tr.CodecString != "avc1.42c00a" {
		t.Errorf("track %+v, want h264 64x48 avc1.42c00a", tr)
	}
	if n := avccNALUs(t, data); len(n) != 1 || string(n[0]) != string(testIDR264) {
		t.Errorf("payload NAL units %x, want only the IDR slice", n)
	}
	sps, pps, err := H264ParameterSets(tr.Config)
	if err != nil || string(sps[0]) != string(testSPS264) || string(pps[0]) != string(testPPS264) {
		t.Errorf("config record holds SPS %x PPS %x (%v)", sps, pps, err)
	}
	// The next frame keeps the same track.
	_, key, tr2, _ := g.Convert([][]byte{testP264})
	if key || tr2 != tr {
		t.Errorf("P frame: key %v, track changed %v", key, tr2 != tr)
	}
}

func TestNALUIngestOutOfBandAndChange(t *testing.T) {
	g := &NALUIngest{Codec: CodecH264}
	g.SetParams(nil, testSPS264, testPPS264)
	_, _, tr, _ := g.Convert([][]byte{testIDR264})
	if tr == nil {
		t.Fatal("IDR after SetParams: no track")
	}
	// A new PPS in band: the old track until the next keyframe, then a new one.
	newPPS := []byte{0x68, 0xce, 0x0f, 0xc9}
	_, _, tr2, _ := g.Convert([][]byte{newPPS, testP264})
	if tr2 != tr {
		t.Error("track changed before the next keyframe")
	}
	_, _, tr3, _ := g.Convert([][]byte{testIDR264})
	if tr3 == nil || tr3 == tr {
		t.Fatal("no new track at the keyframe after a PPS change")
	}
	if _, pps, _ := H264ParameterSets(tr3.Config); string(pps[0]) != string(newPPS) {
		t.Errorf("new track's PPS %x, want %x", pps[0], newPPS)
	}
}

func TestNALUIngestH265(t *testing.T) {
	g := &NALUIngest{Codec: CodecH265}
	data, key, tr, err := g.Convert([][]byte{testVPS265, testSPS265, testPPS265, testIDR265})
	if err != nil || !key || tr == nil {
		t.Fatalf("IRAP with parameter sets: key %v track %v err %v", key, tr, err)
	}
	if tr.Codec != CodecH265 || tr.Width != 64 || tr.Height != 48 {
		t.Errorf("track %+v, want h265 64x48", tr)
	}
	if n := avccNALUs(t, data); len(n) != 1 {
		t.Errorf("payload has %d NAL units, want the slice only", len(n))
	}
	if _, key, _, _ := g.Convert([][]byte{testTRAIL265}); key {
		t.Error("TRAIL_R picture flagged as a keyframe")
	}
}

func TestNALUIngestRejects(t *testing.T) {
	g := &NALUIngest{Codec: CodecH264}
	if _, _, _, err := g.Convert([][]byte{testIDR264, {}}); !errors.Is(err, ErrAccessUnit) {
		t.Errorf("empty NAL unit: err %v, want ErrAccessUnit", err)
	}
	big := make([]byte, MaxAccessUnitSize)
	big[0] = 0x41
	if _, _, _, err := g.Convert([][]byte{big}); !errors.Is(err, ErrAccessUnit) {
		t.Errorf("oversized access unit: err %v, want ErrAccessUnit", err)
	}
	// A broken SPS never makes a track, and never panics.
	if _, _, tr, _ := g.Convert([][]byte{{0x67, 0x42}, testPPS264, testIDR264}); tr != nil {
		t.Errorf("truncated SPS made track %+v", tr)
	}
}

// FuzzNALUIngest feeds remote-controlled NAL units (an access unit as a
// source sends it: length-prefixed, 2-byte lengths) to both converters:
// whatever they are, Convert must not panic, its payload must be valid
// AVCC, and a track it returns is of its codec.
func FuzzNALUIngest(f *testing.F) {
	seed := func(nalus ...[]byte) []byte {
		var b []byte
		for _, n := range nalus {
			b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
			b = append(b, n...)
		}
		return b
	}
	f.Add(seed(testAUD264, testSPS264, testPPS264, testIDR264))
	f.Add(seed(testP264))
	f.Add(seed(testVPS265, testSPS265, testPPS265, testIDR265))
	f.Add(seed(testTRAIL265))
	f.Add(seed([]byte{0x67, 0x42, 0, 0x0a, 0xff}, testPPS264, testIDR264))
	f.Fuzz(func(t *testing.T, b []byte) {
		var nalus [][]byte
		for len(b) >= 2 {
			n := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			n = min(n, len(b))
			nalus = append(nalus, b[:n])
			b = b[n:]
		}
		for _, c := range []Codec{CodecH264, CodecH265} {
			g := &NALUIngest{Codec: c}
			for range 2 { // the second pass sees the parameter sets of the first
				data, _, tr, err := g.Convert(nalus)
				if err != nil {
					continue
				}
				avccNALUs(t, data)
				if tr != nil && tr.Codec != c {
					t.Fatalf("%s converter made a %s track", c, tr.Codec)
				}
			}
		}
	})
}
