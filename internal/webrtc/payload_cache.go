package webrtc

import (
	"fmt"
	"sync"

	"github.com/pion/rtp/codecs"

	"github.com/sluicemedia/sluice/internal/av"
)

// payloadCacheSize is how many access units a payload cache keeps: about
// 10 s of 25 fps video, enough for viewers that are not at the same spot.
const payloadCacheSize = 256

// payloadCache shares the RTP payloads of a stream's video packets between
// its WHEP viewers: each access unit is packetized once, by the first viewer
// that needs it. It is bounded: the oldest entries are evicted first, and a
// viewer behind them packetizes again (costing only CPU).
type payloadCache struct {
	refs int // guarded by Server.mu

	mu    sync.Mutex
	m     map[*av.Packet][][]byte
	ring  [payloadCacheSize]*av.Packet
	next  int
	track *av.Track
	// params are the parameter sets sent before each keyframe: H.264 SPS
	// and PPS, H.265 VPS, SPS and PPS; for AV1 the sequence header OBU.
	params [][]byte
	sps    [][]byte // H.264
	pps    [][]byte // H.264
}

func newPayloadCache() *payloadCache {
	return &payloadCache{m: make(map[*av.Packet][][]byte, payloadCacheSize)}
}

// payloads returns the RTP payloads of the video packet p. The result is
// shared and must not be modified.
func (c *payloadCache) payloads(p *av.Packet) ([][]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pl, ok := c.m[p]; ok {
		return pl, nil
	}
	if p.Track != c.track {
		if err := c.setTrack(p.Track); err != nil {
			return nil, err
		}
	}
	pl, err := c.packetize(p)
	if err != nil {
		return nil, err
	}
	if old := c.ring[c.next]; old != nil {
		delete(c.m, old)
	}
	c.ring[c.next] = p
	c.next = (c.next + 1) % payloadCacheSize
	c.m[p] = pl
	return pl, nil
}

func (c *payloadCache) setTrack(t *av.Track) error {
	c.params, c.sps, c.pps = nil, nil, nil
	switch t.Codec {
	case av.CodecH264:
		sps, pps, err := av.H264ParameterSets(t.Config)
		if err != nil {
			return err
		}
		c.sps, c.pps = sps, pps
	case av.CodecH265:
		vps, sps, pps, err := av.H265ParameterSets(t.Config)
		if err != nil {
			return err
		}
		c.params = append(append(append(c.params, vps...), sps...), pps...)
	case av.CodecAV1:
		// AV1CodecConfigurationRecord: 4 bytes, then configOBUs (the
		// sequence header OBU) (AV1-ISOBMFF §2.3.3).
		if len(t.Config) > 4 {
			c.params = [][]byte{t.Config[4:]}
		}
	default:
		return fmt.Errorf("no RTP packetizer for %s", t.Codec)
	}
	c.track = t
	return nil
}

// packetize makes the RTP payloads of one access unit. Keyframes carry the
// parameter sets in band, so a viewer can start decoding at any of them.
func (c *payloadCache) packetize(p *av.Packet) ([][]byte, error) {
	switch p.Track.Codec {
	case av.CodecH264:
		return packetizeH264(nil, p.Data, c.sps, c.pps, p.Key, rtpMTU)
	case av.CodecH265:
		// RFC 7798 through pion's payloader, which takes Annex-B.
		var annexB []byte
		if p.Key {
			for _, ps := range c.params {
				annexB = append(append(annexB, 0, 0, 0, 1), ps...)
			}
		}
		annexB, err := av.AVCCToAnnexB(annexB, p.Data)
		if err != nil {
			return nil, err
		}
		return (&codecs.H265Payloader{}).Payload(rtpMTU, annexB), nil
	case av.CodecAV1:
		// The AV1 RTP payload format (aomediacodec.github.io/av1-rtp-spec)
		// through pion's payloader, which takes low-overhead OBUs as the
		// hub carries them.
		tu := p.Data
		if p.Key && len(c.params) > 0 && !hasSequenceHeader(tu) {
			tu = append(append([]byte(nil), c.params[0]...), tu...)
		}
		return (&codecs.AV1Payloader{}).Payload(rtpMTU, tu), nil
	}
	return nil, fmt.Errorf("no RTP packetizer for %s", p.Track.Codec)
}

// hasSequenceHeader reports whether a temporal unit holds a sequence
// header OBU.
func hasSequenceHeader(tu []byte) bool {
	found := false
	_ = av.ForEachOBU(tu, func(typ byte, _, _ []byte) bool {
		found = typ == av.OBUSequenceHeader
		return !found
	})
	return found
}
