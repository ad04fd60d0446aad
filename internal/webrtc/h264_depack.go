package webrtc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// H.264 NAL unit types used on ingest (H.264 Table 7-1).
const nalIDR = 5

// maxAUSize bounds one reassembled H.264 access unit; a bigger one is
// dropped as broken.
const maxAUSize = 8 << 20

// accessUnit is one access unit as received: the payloads of the RTP
// packets sharing one timestamp (RFC 6184 §5.1, RFC 7798 §4.1, AV1 RTP
// §4.1: the timestamp is the sampling time of the content, the same for
// all packets of an access unit), grouped by rtpFrames.
type accessUnit struct {
	ts uint32
	// nalus holds the RTP payloads in order.
	nalus  [][]byte
	broken bool // packets were lost or malformed: do not decode
	// arrival is when the access unit's last packet arrived.
	arrival time.Time
}

// h264Depacketizer extracts the NAL units of one access unit's RTP
// payloads in packetization-mode=1 (RFC 6184 §6.3): single NAL unit
// packets (§5.6), STAP-A (§5.7.1) and FU-A (§5.8).
type h264Depacketizer struct {
	nalus [][]byte
	size  int
	fua   []byte // FU-A reassembly; nil when none in progress
}

// h264Video is RFC 6184 ingest: access units grouped by rtpFrames, NAL
// units extracted by our depacketizer (it validates what it reassembles),
// then the AVCC conversion.
type h264Video struct {
	rtpFrames
	h264Ingest
}

func (v *h264Video) convert(au accessUnit) (data []byte, key bool, track *av.Track) {
	var d h264Depacketizer
	for _, pl := range au.nalus {
		if err := d.payload(pl); err != nil {
			return nil, false, v.track
		}
	}
	if d.fua != nil || len(d.nalus) == 0 { // a fragmented NAL unit never ended
		return nil, false, v.track
	}
	return v.h264Ingest.convert(d.nalus)
}

var errBadPayload = errors.New("h264 depacketizer: malformed payload")

// payload adds the NAL units of one RTP payload to the current access unit.
func (d *h264Depacketizer) payload(b []byte) error {
	if len(b) < 1 {
		return errBadPayload
	}
	switch typ := b[0] & 0x1f; {
	case typ >= 1 && typ <= 23: // single NAL unit packet, §5.6
		if d.fua != nil {
			return errBadPayload
		}
		return d.add(b)
	case typ == nalSTAPA: // §5.7.1
		for b = b[1:]; len(b) > 0; {
			if len(b) < 2 {
				return errBadPayload
			}
			n := int(binary.BigEndian.Uint16(b))
			if n == 0 || n > len(b)-2 {
				return errBadPayload
			}
			if err := d.add(b[2 : 2+n]); err != nil {
				return err
			}
			b = b[2+n:]
		}
		return nil
	case typ == nalFUA: // §5.8
		if len(b) < 3 {
			return errBadPayload
		}
		fu := b[1]
		start, end := fu&0x80 != 0, fu&0x40 != 0
		switch {
		case start && d.fua != nil, !start && d.fua == nil:
			d.fua = nil
			return errBadPayload
		case start:
			d.fua = append(make([]byte, 0, 4096), b[0]&0xe0|fu&0x1f)
		}
		if len(d.fua)+len(b)-2 > maxAUSize {
			d.fua = nil
			return errBadPayload
		}
		d.fua = append(d.fua, b[2:]...)
		if end {
			nalu := d.fua
			d.fua = nil
			return d.add(nalu)
		}
		return nil
	default: // STAP-B, MTAP, FU-B: interleaved mode only (§6.4); 0, 30, 31 reserved
		return errBadPayload
	}
}

func (d *h264Depacketizer) add(nalu []byte) error {
	if len(nalu) == 0 {
		return errBadPayload
	}
	d.size += 4 + len(nalu)
	if d.size > maxAUSize {
		return errBadPayload
	}
	d.nalus = append(d.nalus, nalu)
	return nil
}

// h264Ingest turns reassembled access units into hub packet payloads: AVCC
// data without in-band SPS, PPS and access unit delimiters, and the track
// built from the latest SPS and PPS seen in-band (WebRTC senders repeat
// them before every IDR picture).
type h264Ingest struct {
	sps, pps []byte
	track    *av.Track
}

// convert returns the AVCC data of an access unit's NAL units, whether it
// is a keyframe (holds an IDR slice), and the track describing it (nil
// until SPS and PPS were seen). A new SPS or PPS creates a new track at
// the next keyframe.
func (g *h264Ingest) convert(nalus [][]byte) (data []byte, key bool, track *av.Track) {
	size := 0
	for _, n := range nalus {
		size += 4 + len(n)
	}
	data = make([]byte, 0, size)
	var newSPS, newPPS []byte
	for _, n := range nalus {
		switch n[0] & 0x1f {
		case nalSPS:
			newSPS = n
			continue
		case nalPPS:
			newPPS = n
			continue
		case nalAUD, nalFiller:
			continue
		case nalIDR:
			key = true
		}
		data = binary.BigEndian.AppendUint32(data, uint32(len(n)))
		data = append(data, n...)
	}
	if newSPS != nil && !bytes.Equal(newSPS, g.sps) {
		g.sps = bytes.Clone(newSPS)
		g.track = nil
	}
	if newPPS != nil && !bytes.Equal(newPPS, g.pps) {
		g.pps = bytes.Clone(newPPS)
		g.track = nil
	}
	if g.track == nil && key && g.sps != nil && g.pps != nil {
		if cfg, err := av.AVCConfigRecord(g.sps, g.pps); err == nil {
			if t, err := av.NewTrack(av.CodecH264, cfg); err == nil {
				g.track = t
			}
		}
	}
	return data, key, g.track
}

// rtpClock maps one track's RTP timestamps to the stream timeline: the
// first packet is placed at its arrival time relative to the session's
// first packet (so audio and video start aligned as received, until sender
// reports align them exactly: av_sync.go), later ones by their RTP
// timestamp distance, unwrapped across 2^32 (RFC 3550 §5.1).
type rtpClock struct {
	rate    int64
	started bool
	last    uint32
	ext     int64 // unwrapped timestamp of last
	first   int64
	offset  time.Duration
}

// pts returns the stream time of RTP timestamp ts. start is called once,
// on the first timestamp, and returns the track's start offset.
func (c *rtpClock) pts(ts uint32, start func() time.Duration) time.Duration {
	if !c.started {
		c.started = true
		c.last, c.ext, c.first = ts, int64(ts), int64(ts)
		c.offset = start()
	}
	c.ext += int64(int32(ts - c.last))
	c.last = ts
	ticks := c.ext - c.first
	return c.offset + time.Duration(ticks/c.rate)*time.Second + time.Duration(ticks%c.rate)*time.Second/time.Duration(c.rate)
}
