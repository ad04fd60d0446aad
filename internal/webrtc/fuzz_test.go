package webrtc

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/sluicemedia/sluice/internal/av"
)

// WHIP publishers send arbitrary RTP payloads: every video ingest must
// survive any sequence of them (no panic, bounded output).

// fuzzPackets encodes payloads for fuzzIngest: per packet a 2-byte length,
// a flag byte (1: marker, 2: loss before, 4: next timestamp) and the
// payload.
func fuzzPackets(payloads [][]byte) []byte {
	var b []byte
	for i, p := range payloads {
		flags := byte(0)
		if i == len(payloads)-1 {
			flags = 1 | 4
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, flags)
		b = append(b, p...)
	}
	return b
}

func fuzzIngest(f *testing.F, newIngest func() videoIngest, seeds ...[][]byte) {
	for _, s := range seeds {
		f.Add(fuzzPackets(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := newIngest()
		var ts uint32
		emit := func(au accessUnit) {
			if au.broken {
				return
			}
			d, _, tr := in.convert(au)
			if len(d) > 2*maxAUSize {
				t.Fatalf("access unit of %d bytes from %d input bytes", len(d), len(data))
			}
			if tr != nil && tr.Kind() != av.KindVideo {
				t.Fatalf("video ingest made a %s track", tr.Codec)
			}
		}
		for len(data) >= 3 {
			n := int(binary.BigEndian.Uint16(data))
			flags := data[2]
			data = data[3:]
			n = min(n, len(data))
			in.push(&rtp.Packet{Header: rtp.Header{Timestamp: ts, Marker: flags&1 != 0}, Payload: data[:n]}, flags&2 != 0, time.Time{}, emit)
			data = data[n:]
			if flags&4 != 0 {
				ts += 3000
			}
		}
	})
}

func FuzzWHIPIngestH264(f *testing.F) {
	au := packetizeSeed(annexB(testSPS, testPPS, append([]byte{0x65, 0x88}, make([]byte, 2000)...)))
	fuzzIngest(f, func() videoIngest { return &h264Video{} }, au)
}

// packetizeSeed packetizes an H.264 Annex-B access unit with pion (for
// seeds only).
func packetizeSeed(annexB []byte) [][]byte {
	return (&codecs.H264Payloader{}).Payload(1200, annexB)
}

func FuzzWHIPIngestH265(f *testing.F) {
	// VPS, SPS, PPS and an IDR_W_RADL slice (types 32, 33, 34, 19), as a
	// payloader splits and aggregates them.
	au := []byte{0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, 0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01, 0x60,
		0, 0, 0, 1, 0x44, 0x01, 0xc1, 0, 0, 0, 1, 0x26, 0x01}
	au = append(au, make([]byte, 3000)...)
	fuzzIngest(f, func() videoIngest { return &h265Video{} }, (&codecs.H265Payloader{}).Payload(1200, au))
}

func FuzzWHIPIngestAV1(f *testing.F) {
	// A sequence header OBU and a frame OBU, both with size fields.
	tu := []byte{0x0a, 0x0b, 0x00, 0x00, 0x00, 0x24, 0xc4, 0xff, 0xdf, 0x00, 0x68, 0x02, 0x10, 0x32, 0x05, 1, 2, 3, 4, 5}
	fuzzIngest(f, func() videoIngest { return &av1Video{} }, (&codecs.AV1Payloader{}).Payload(1200, tu))
}

func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(testSessionHead + testICE + testFingerprint + videoSection(h264Mode1Lines)))
	f.Add([]byte("v=0\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, publish := range []bool{false, true} {
			off, err := parseOfferFor(data, publish)
			if err != nil {
				continue
			}
			if !off.hasVideo && !off.hasAudio {
				t.Fatal("accepted an offer with no usable section")
			}
			if publish {
				_, _ = planIngest(off)
			}
		}
	})
}
