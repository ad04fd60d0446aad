package webrtc

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/sluicemedia/sluice/internal/av"
)

// videoIngest turns a WHIP video track's in-order RTP packets into hub
// packets: push reassembles access units (one per RTP timestamp, ended by
// the marker bit), convert turns one into hub payload, keyframe flag and
// track (nil until the decoder configuration was seen in band).
type videoIngest interface {
	push(p *rtp.Packet, lostBefore bool, now time.Time, emit func(au accessUnit))
	convert(au accessUnit) (data []byte, key bool, track *av.Track)
}

// rtpFrames groups in-order RTP packets into access units: one per
// timestamp, ended by the marker bit or by the next timestamp (then it is
// broken: its last packet was lost), broken too when a packet before or in
// it was lost.
type rtpFrames struct {
	cur      accessUnit
	active   bool
	size     int
	lostNext bool
}

func (f *rtpFrames) push(p *rtp.Packet, lostBefore bool, now time.Time, emit func(au accessUnit)) {
	if f.active && p.Timestamp != f.cur.ts {
		f.cur.broken = true // its marker packet never came
		f.flush(emit)
	}
	if lostBefore {
		if f.active {
			f.cur.broken = true
		} else {
			f.lostNext = true
		}
	}
	if !f.active {
		f.active, f.size = true, 0
		f.cur = accessUnit{ts: p.Timestamp, broken: f.lostNext}
		f.lostNext = false
	}
	f.cur.arrival = now
	if f.size += len(p.Payload); f.size > maxAUSize || len(p.Payload) == 0 {
		f.cur.broken = true
	} else if !f.cur.broken {
		f.cur.nalus = append(f.cur.nalus, bytes.Clone(p.Payload))
	}
	if p.Marker {
		f.flush(emit)
	}
}

func (f *rtpFrames) flush(emit func(au accessUnit)) {
	au := f.cur
	f.active, f.cur = false, accessUnit{}
	if len(au.nalus) == 0 {
		au.broken = true
	}
	emit(au)
}

// H.265 NAL unit types (H.265 Table 7-1).
const (
	h265BLAWLP  = 16 // first IRAP type
	h265RsvIRAP = 23 // last IRAP type
	h265VPS     = 32
	h265SPS     = 33
	h265PPS     = 34
	h265AUD     = 35
	h265FD      = 38
)

// h265Video is RFC 7798 ingest through pion's depacketizer: AVCC data
// without in-band parameter sets, and the track built from the latest VPS,
// SPS and PPS (WebRTC senders repeat them before every IRAP picture).
type h265Video struct {
	rtpFrames
	vps, sps, pps []byte
	track         *av.Track
}

func (g *h265Video) convert(au accessUnit) (data []byte, key bool, track *av.Track) {
	var dp codecs.H265Depacketizer
	var annexB []byte
	for _, pl := range au.nalus {
		out, err := dp.Unmarshal(pl)
		if err != nil {
			return nil, false, g.track
		}
		annexB = append(annexB, out...)
	}
	avcc, err := av.AnnexBToAVCC(nil, annexB)
	if err != nil {
		return nil, false, g.track
	}
	data = make([]byte, 0, len(avcc))
	changed := false
	for b := avcc; len(b) >= 4; {
		n := int(binary.BigEndian.Uint32(b))
		if n < 2 || n > len(b)-4 {
			return nil, false, g.track
		}
		nalu := b[4 : 4+n]
		b = b[4+n:]
		switch typ := nalu[0] >> 1 & 0x3f; {
		case typ == h265VPS:
			changed = g.setParam(&g.vps, nalu) || changed
			continue
		case typ == h265SPS:
			changed = g.setParam(&g.sps, nalu) || changed
			continue
		case typ == h265PPS:
			changed = g.setParam(&g.pps, nalu) || changed
			continue
		case typ == h265AUD, typ == h265FD:
			continue
		case typ >= h265BLAWLP && typ <= h265RsvIRAP:
			key = true
		}
		data = binary.BigEndian.AppendUint32(data, uint32(len(nalu)))
		data = append(data, nalu...)
	}
	if changed {
		g.track = nil
	}
	if g.track == nil && key && g.vps != nil && g.sps != nil && g.pps != nil {
		if cfg, err := av.HEVCConfigRecord(g.vps, g.sps, g.pps); err == nil {
			if t, err := av.NewTrack(av.CodecH265, cfg); err == nil {
				g.track = t
			}
		}
	}
	return data, key, g.track
}

func (g *h265Video) setParam(dst *[]byte, nalu []byte) bool {
	if bytes.Equal(*dst, nalu) {
		return false
	}
	*dst = bytes.Clone(nalu)
	return true
}

// av1Video is AV1 RTP ingest through pion's depacketizer: temporal units
// in low-overhead format without temporal delimiters, and the track built
// from the latest sequence header OBU.
type av1Video struct {
	rtpFrames
	seqHdr []byte
	track  *av.Track
}

func (g *av1Video) convert(au accessUnit) (data []byte, key bool, track *av.Track) {
	var dp codecs.AV1Depacketizer
	var tu []byte
	for _, pl := range au.nalus {
		out, err := dp.Unmarshal(pl)
		if err != nil {
			return nil, false, g.track
		}
		tu = append(tu, out...)
	}
	data = make([]byte, 0, len(tu))
	var seqHdr []byte
	err := av.ForEachOBU(tu, func(typ byte, header, payload []byte) bool {
		switch typ {
		case av.OBUTemporalDelimiter: // not carried in the hub (nor in RTP)
			return true
		case av.OBUSequenceHeader:
			// Senders put one before every keyframe: a temporal unit with
			// one is a random access point (as mediacommon decides too).
			key = true
			seqHdr = av.AppendOBU(nil, header, payload)
		}
		data = av.AppendOBU(data, header, payload)
		return true
	})
	if err != nil || len(data) == 0 {
		return nil, false, g.track
	}
	if seqHdr != nil && !bytes.Equal(seqHdr, g.seqHdr) {
		g.seqHdr = seqHdr
		g.track = nil
	}
	if g.track == nil && key {
		_ = av.ForEachOBU(g.seqHdr, func(_ byte, header, payload []byte) bool {
			if cfg, err := av.AV1ConfigRecord(header, payload); err == nil {
				if t, err := av.NewTrack(av.CodecAV1, cfg); err == nil {
					g.track = t
				}
			}
			return false
		})
	}
	return data, key, g.track
}
