package webrtc

import (
	"encoding/binary"
	"fmt"
)

// rtpMTU is the largest RTP payload sent: 1200 bytes leaves room for the
// RTP header, SRTP tag, header extensions, UDP/IP and TURN/VPN overheads
// within a 1500-byte path MTU.
const rtpMTU = 1200

// H.264 NAL unit types (H.264 Table 7-1) and RTP payload formats
// (RFC 6184 §5.2).
const (
	nalSPS    = 7
	nalPPS    = 8
	nalAUD    = 9
	nalFiller = 12
	nalSTAPA  = 24
	nalFUA    = 28
)

// packetizeH264 appends the RTP payloads (RFC 6184, packetization-mode=1)
// of one access unit in AVCC form to dst. A keyframe is preceded by the
// track's SPS and PPS aggregated in one STAP-A (§5.7.1), so a viewer can
// start decoding at any IDR. NAL units up to mtu bytes are sent as single
// NAL unit packets (§5.6) that alias au; larger ones as FU-A fragments
// (§5.8). Access unit delimiters and filler data are dropped.
func packetizeH264(dst [][]byte, au []byte, sps, pps [][]byte, key bool, mtu int) ([][]byte, error) {
	if key {
		dst = appendParamSets(dst, append(append([][]byte(nil), sps...), pps...), mtu)
	}
	for b := au; len(b) > 0; {
		if len(b) < 4 {
			return dst, fmt.Errorf("h264 packetizer: %d trailing bytes", len(b))
		}
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return dst, fmt.Errorf("h264 packetizer: NAL unit of %d bytes exceeds %d remaining", l, len(b)-4)
		}
		nalu := b[4 : 4+l]
		b = b[4+l:]
		if len(nalu) == 0 {
			continue
		}
		switch nalu[0] & 0x1f {
		case nalAUD, nalFiller:
			continue
		case nalSPS, nalPPS:
			if key {
				continue // already sent from the track configuration
			}
		}
		if len(nalu) <= mtu {
			dst = append(dst, nalu)
			continue
		}
		dst = appendFUA(dst, nalu, mtu)
	}
	return dst, nil
}

// appendParamSets appends sets as one STAP-A when it fits mtu, else as
// single NAL unit packets.
func appendParamSets(dst [][]byte, sets [][]byte, mtu int) [][]byte {
	size := 1
	var nri byte
	for _, s := range sets {
		if len(s) == 0 {
			continue
		}
		size += 2 + len(s)
		nri = max(nri, s[0]&0x60)
	}
	if size == 1 {
		return dst
	}
	if size > mtu {
		for _, s := range sets {
			if len(s) > 0 && len(s) <= mtu {
				dst = append(dst, s)
			}
		}
		return dst
	}
	p := make([]byte, 1, size)
	p[0] = nri | nalSTAPA
	for _, s := range sets {
		if len(s) > 0 {
			p = binary.BigEndian.AppendUint16(p, uint16(len(s)))
			p = append(p, s...)
		}
	}
	return append(dst, p)
}

// appendFUA fragments one NAL unit into FU-A payloads (RFC 6184 §5.8),
// sharing one backing array.
func appendFUA(dst [][]byte, nalu []byte, mtu int) [][]byte {
	hdr := nalu[0]
	data := nalu[1:]
	chunk := mtu - 2
	n := (len(data) + chunk - 1) / chunk
	buf := make([]byte, 0, len(data)+2*n)
	for i := 0; i < n; i++ {
		part := data[i*chunk : min((i+1)*chunk, len(data))]
		fuHdr := hdr & 0x1f
		if i == 0 {
			fuHdr |= 0x80 // S
		}
		if i == n-1 {
			fuHdr |= 0x40 // E
		}
		start := len(buf)
		buf = append(buf, hdr&0xe0|nalFUA, fuHdr)
		buf = append(buf, part...)
		dst = append(dst, buf[start:len(buf):len(buf)])
	}
	return dst
}
