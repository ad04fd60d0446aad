package webrtc

import (
	"bytes"
	"testing"

	"github.com/pion/rtp/codecs"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

func avcc(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(b, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
		b = append(b, n...)
	}
	return b
}

// Packetized access units depacketize (pion's RFC 6184 depacketizer) to the
// same NAL units, with SPS and PPS before the IDR and AUD dropped.
func TestPacketizeH264RoundTrip(t *testing.T) {
	big := make([]byte, 5000)
	big[0] = 0x65 // IDR
	for i := 1; i < len(big); i++ {
		big[i] = byte(i)
	}
	small := []byte{0x41, 1, 2, 3}
	au := avcc([]byte{0x09, 0xf0}, big, small)

	payloads, err := packetizeH264(nil, au, [][]byte{testSPS}, [][]byte{testPPS}, true, rtpMTU)
	require.NoError(t, err)
	require.Greater(t, len(payloads), 5)
	var got []byte
	var d codecs.H264Packet
	for _, p := range payloads {
		require.LessOrEqual(t, len(p), rtpMTU)
		out, err := d.Unmarshal(p)
		require.NoError(t, err)
		got = append(got, out...)
	}
	sc := []byte{0, 0, 0, 1}
	want := bytes.Join([][]byte{nil, testSPS, testPPS, big, small}, sc)
	require.Equal(t, want, got)
	require.Equal(t, byte(nalSTAPA), payloads[0][0]&0x1f, "SPS+PPS aggregated")

	// Not a keyframe: no parameter sets prepended.
	payloads, err = packetizeH264(nil, avcc(small), [][]byte{testSPS}, [][]byte{testPPS}, false, rtpMTU)
	require.NoError(t, err)
	require.Equal(t, [][]byte{small}, payloads)

	_, err = packetizeH264(nil, []byte{0, 0, 0, 9, 1}, nil, nil, false, rtpMTU)
	require.Error(t, err)
}

func TestPayloadCacheSharesAndBounds(t *testing.T) {
	tr, err := av.NewTrack(av.CodecH264, avcRecord(testSPS, testPPS))
	require.NoError(t, err)
	c := newPayloadCache()
	p := &av.Packet{Track: tr, Key: true, Data: avcc([]byte{0x65, 1, 2})}
	a, err := c.payloads(p)
	require.NoError(t, err)
	b, err := c.payloads(p)
	require.NoError(t, err)
	require.Same(t, &a[0], &b[0], "second viewer gets the shared payloads")
	for i := 0; i < 2*payloadCacheSize; i++ {
		_, err := c.payloads(&av.Packet{Track: tr, Data: avcc([]byte{0x41, byte(i)})})
		require.NoError(t, err)
	}
	require.Len(t, c.m, payloadCacheSize)
}
