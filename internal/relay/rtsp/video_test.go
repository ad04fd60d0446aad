package rtsp

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
	"github.com/sluicemedia/sluice/internal/relay/ingest"
)

// Parameter sets x264 wrote for a 64x48 picture, and slices whose headers
// the DTS extractor reads (first_mb_in_slice 0, slice_type, pps_id 0,
// frame_num 0, idr_pic_id 0, POC lsb 0).
var (
	sps264 = mustHex("6742c00ada11ec0440000003004000000c83c489a8")
	pps264 = mustHex("68ce0fc8")
	idr264 = []byte{0x65, 0x88, 0x84, 0x00, 0x00}
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// testWriter returns a Writer on a fresh hub stream and a reader of it.
func testWriter(t testing.TB) (*ingest.Writer, *hub.Reader) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet})
	t.Cleanup(h.Close)
	pub, err := h.Publish("live/t", hub.ClientInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	pub.Announce(true, false)
	rd, err := h.Subscribe(context.Background(), "live/t", hub.ClientInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.Close)
	return ingest.NewWriter(pub, &relay.Stats{}, quiet), rd
}

// published returns what rd has, without waiting for more (Read returns
// what the ring holds before it looks at the context).
func published(rd *hub.Reader) []*av.Packet {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []*av.Packet
	for {
		pkts, err := rd.Read(ctx, make([]*av.Packet, 0, 64))
		out = append(out, pkts...)
		if err != nil || len(pkts) == 0 {
			return out
		}
	}
}

// TestInBandParameterSets is a camera whose SDP has no
// sprop-parameter-sets: the track comes from the SPS and PPS it sends
// before its first IDR picture, and nothing is published before that.
func TestInBandParameterSets(t *testing.T) {
	w, rd := testWriter(t)
	v, err := newVideoTrack(&format.H264{PayloadTyp: 96, PacketizationMode: 1}, w)
	if err != nil || v == nil {
		t.Fatalf("newVideoTrack: %v %v", v, err)
	}
	v.accessUnit([][]byte{{0x41, 0x9a, 0x02, 0x04}}, 0) // a P slice first: dropped
	if got := published(rd); len(got) != 0 {
		t.Fatalf("published %d packets before any parameter set", len(got))
	}
	v.accessUnit([][]byte{sps264, pps264, idr264}, 3600)
	got := published(rd)
	if len(got) != 1 {
		t.Fatalf("published %d packets after SPS+PPS+IDR, want 1 (writer error %v)", len(got), w.Err())
	}
	p := got[0]
	if !p.Key || p.Track == nil || p.Track.Codec != av.CodecH264 || p.Track.Width != 64 || p.Track.Height != 48 {
		t.Errorf("packet key %v track %+v, want a 64x48 H.264 keyframe", p.Key, p.Track)
	}
	if n := binary.BigEndian.Uint32(p.Data); int(n) != len(idr264) || len(p.Data) != 4+len(idr264) {
		t.Errorf("payload % x, want only the length-prefixed IDR slice", p.Data)
	}
}

// TestSDPParameterSets is a camera that sends SPS/PPS only in the SDP:
// the first IDR picture is published with the SDP's track (the DTS
// extractor gets the parameter sets prepended).
func TestSDPParameterSets(t *testing.T) {
	w, rd := testWriter(t)
	v, _ := newVideoTrack(&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps264, PPS: pps264}, w)
	v.accessUnit([][]byte{idr264}, 0)
	got := published(rd)
	if len(got) != 1 || !got[0].Key || got[0].Track == nil {
		t.Fatalf("published %v (writer error %v), want one keyframe with a track", got, w.Err())
	}
}

// TestRTPDepacketizing runs real RTP packets through the handler: an
// IDR access unit fragmented as FU-A by gortsplib's encoder arrives as one
// packet in the hub.
func TestRTPDepacketizing(t *testing.T) {
	w, rd := testWriter(t)
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps264, PPS: pps264}
	v, _ := newVideoTrack(f, w)
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1, PayloadMaxSize: 100}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	big := append([]byte{0x65, 0x88, 0x84, 0x00, 0x00}, make([]byte, 500)...)
	for i := 5; i < len(big); i++ {
		big[i] = byte(i) | 1 // no start code emulation
	}
	pkts, err := enc.Encode([][]byte{big})
	if err != nil || len(pkts) < 3 {
		t.Fatalf("encode: %d packets, %v", len(pkts), err)
	}
	for _, p := range pkts {
		v.handle(p, 0)
	}
	got := published(rd)
	if len(got) != 1 || len(got[0].Data) != 4+len(big) {
		t.Fatalf("published %d packets (first %d bytes), want one of %d", len(got), len(got[0].Data), 4+len(big))
	}
}

// FuzzVideoAccessUnits feeds remote-controlled access units (NAL units
// with 2-byte lengths, and a PTS step) to the H.264 and H.265 paths,
// parameter set learning and DTS recovery included: nothing may panic, and
// whatever is published has DTS <= PTS and DTS increasing.
func FuzzVideoAccessUnits(f *testing.F) {
	au := func(nalus ...[]byte) []byte {
		var b []byte
		for _, n := range nalus {
			b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
			b = append(b, n...)
		}
		return b
	}
	f.Add(au(sps264, pps264, idr264), uint16(3600), false)
	f.Add(au([]byte{0x41, 0x9a, 0x02, 0x04}), uint16(3600), false)
	f.Add(au(mustHex("40010c01ffff01600000030090000003000003001e959809"),
		mustHex("42010101600000030090000003000003001ea02083165959ae4caf016808000003000800000300c840"),
		mustHex("4401c173d089"), []byte{0x28, 0x01, 0xaf, 0x00}), uint16(3600), true)
	f.Fuzz(func(t *testing.T, b []byte, step uint16, h265 bool) {
		w, rd := testWriter(t)
		codec := av.CodecH264
		if h265 {
			codec = av.CodecH265
		}
		v := &videoTrack{w: w, ing: &av.NALUIngest{Codec: codec}}
		var nalus [][]byte
		for len(b) >= 2 {
			n := min(int(binary.BigEndian.Uint16(b)), len(b)-2)
			nalus = append(nalus, b[2:2+n])
			b = b[2+n:]
		}
		// One access unit repeated: later ones see the parameter sets
		// and DTS state the first left.
		for i := range 4 {
			v.accessUnit(nalus, int64(i)*int64(step))
		}
		var last time.Duration = -1
		for _, p := range published(rd) {
			if p.DTS > p.PTS || p.DTS <= last {
				t.Fatalf("published DTS %v PTS %v after DTS %v", p.DTS, p.PTS, last)
			}
			last = p.DTS
		}
	})
}
