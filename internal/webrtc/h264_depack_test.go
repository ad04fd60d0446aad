package webrtc

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// rtpPackets packetizes AVCC access units with our RFC 6184 packetizer
// into RTP packets (one timestamp per unit, marker on each last packet).
func rtpPackets(t *testing.T, units [][]byte, keys []bool) []*rtp.Packet {
	t.Helper()
	var out []*rtp.Packet
	seq := uint16(65530) // wraps during the test
	for i, au := range units {
		pls, err := packetizeH264(nil, au, [][]byte{testSPS}, [][]byte{testPPS}, keys[i], rtpMTU)
		require.NoError(t, err)
		for j, pl := range pls {
			out = append(out, &rtp.Packet{
				Header:  rtp.Header{SequenceNumber: seq, Timestamp: 4294967000 + uint32(i*3000), Marker: j == len(pls)-1},
				Payload: pl,
			})
			seq++
		}
	}
	return out
}

func testUnits() ([][]byte, []bool) {
	big := make([]byte, 5000) // FU-A
	for i := range big {
		big[i] = byte(i)
	}
	big[0] = 0x65 // IDR
	small := []byte{0x41, 0x9a, 0x01, 0x02}
	sei := []byte{0x06, 0x05, 0x01, 0x00, 0x80}
	return [][]byte{avcc(sei, big), avcc(small), avcc(small, small), avcc(big)}, []bool{true, false, false, true}
}

type depackResult struct {
	units  [][]byte
	keys   []bool
	tracks []*av.Track
	broken int
	pts    []time.Duration
}

func depackAll(pkts []*rtp.Packet) depackResult {
	var (
		rb    reorderBuffer
		v     h264Video
		clk   = rtpClock{rate: 90000}
		res   depackResult
		start = time.Unix(0, 0)
	)
	for i, p := range pkts {
		now := start.Add(time.Duration(i) * 50 * time.Millisecond)
		rb.push(p, now, func(p *rtp.Packet, lost bool) {
			v.push(p, lost, now, func(au accessUnit) {
				if au.broken {
					res.broken++
					return
				}
				data, key, tr := v.convert(au)
				if data == nil {
					res.broken++ // malformed payloads
					return
				}
				res.units = append(res.units, data)
				res.keys = append(res.keys, key)
				res.tracks = append(res.tracks, tr)
				res.pts = append(res.pts, clk.pts(au.ts, func() time.Duration { return 0 }))
			})
		})
	}
	return res
}

// Our packetizer's output (single NAL units, STAP-A parameter sets, FU-A)
// is reassembled into the same AVCC access units, with the SPS and PPS
// moved into the track, across a sequence number and timestamp wrap.
func TestH264DepacketizeRoundTrip(t *testing.T) {
	units, keys := testUnits()
	res := depackAll(rtpPackets(t, units, keys))
	require.Zero(t, res.broken)
	require.Equal(t, units, res.units)
	require.Equal(t, keys, res.keys)
	require.NotNil(t, res.tracks[0])
	require.Equal(t, avcRecord(testSPS, testPPS), res.tracks[0].Config)
	require.Equal(t, 320, res.tracks[0].Width)
	require.Same(t, res.tracks[0], res.tracks[3], "same SPS/PPS: same track")
	require.Equal(t, []time.Duration{0, time.Second / 30, 2 * time.Second / 30, 3 * time.Second / 30}, res.pts)
}

// Packets reordered within the buffer are put back in order.
func TestH264DepacketizeReordered(t *testing.T) {
	units, keys := testUnits()
	pkts := rtpPackets(t, units, keys)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 1; i+3 < len(pkts); i += 3 { // the first packet sets the start
		j := i + r.IntN(3)
		pkts[i], pkts[j] = pkts[j], pkts[i]
	}
	pkts = append(pkts, pkts[2]) // a duplicate
	res := depackAll(pkts)
	require.Zero(t, res.broken)
	require.Equal(t, units, res.units)
}

// A lost FU-A fragment breaks its access unit: it is reported broken, not
// passed on damaged; the others come through.
func TestH264DepacketizeLoss(t *testing.T) {
	units, keys := testUnits()
	pkts := rtpPackets(t, units, keys)
	// Drop the second packet (the middle of the first unit's FU-A).
	pkts = append(pkts[:2:2], pkts[3:]...)
	// Hold the later packets longer than reorderWait so the gap is given up.
	res := depackAll(append(pkts, make([]*rtp.Packet, 0)...))
	require.Equal(t, 1, res.broken)
	require.Equal(t, units[1:], res.units)
}

func TestReorderBufferBounds(t *testing.T) {
	var rb reorderBuffer
	var got []uint16
	var losses int
	emit := func(p *rtp.Packet, lost bool) {
		got = append(got, p.SequenceNumber)
		if lost {
			losses++
		}
	}
	now := time.Unix(0, 0)
	rb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 10}}, now, emit)
	rb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 12}}, now, emit)
	require.Equal(t, []uint16{10}, got, "12 waits for 11")
	rb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 13}}, now.Add(reorderWait), emit)
	require.Equal(t, []uint16{10, 12, 13}, got, "11 given up after reorderWait")
	require.Equal(t, 1, losses)
	rb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 11}}, now, emit)
	require.Len(t, got, 3, "late packet dropped")
	// Far ahead: flushes instead of growing.
	rb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 20}}, now, emit)
	rb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 20 + 2*reorderSize}}, now, emit)
	require.Equal(t, []uint16{10, 12, 13, 20, 20 + 2*reorderSize}, got)
	require.LessOrEqual(t, rb.held, reorderSize)
	// A restarted sequence resynchronizes.
	rb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 5}}, now, emit)
	require.Equal(t, uint16(5), got[len(got)-1])
	require.Equal(t, 0, rb.held)
}

func TestAVCDecoderConfigHighProfile(t *testing.T) {
	// 640x360 High profile (64001e) x264 SPS.
	sps := mustHex("6764001eacd940a02ff970110000030001000003003c0f162d96")
	cfg, err := av.AVCConfigRecord(sps, testPPS)
	require.NoError(t, err)
	tr, err := av.NewTrack(av.CodecH264, cfg)
	require.NoError(t, err)
	require.Equal(t, "avc1.64001e", tr.CodecString)
	require.True(t, bytes.HasSuffix(cfg, []byte{0xfd, 0xf8, 0xf8, 0}), "chroma 4:2:0, 8 bit, no SPS ext: % x", cfg[len(cfg)-4:])
}
