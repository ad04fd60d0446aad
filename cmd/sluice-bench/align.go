package main

import (
	"hash/maphash"
	"time"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/replay"
)

// Aligning a viewer's timeline with the publisher's.
//
// FLV and RTMP viewers get the publisher's RTMP timestamps back unchanged,
// so a frame is matched to its send time by timestamp alone. HLS and WebRTC
// viewers get the frame on another timeline that differs from the RTMP one
// by a constant the server picks: Sluice's fMP4 parts use the RTMP time in
// 90 kHz ticks, its MPEG-TS segments add 1 s (90000 ticks) so that the PCR
// stays positive, nginx-rtmp's MPEG-TS adds its own 700 ms (63000 ticks),
// and RTP timestamps start at a random value. That constant cannot be
// recovered from timestamps alone: the clip's frame times repeat with a
// period of 100 ms (30 fps: +33, +34, +33 ms) and its keyframes every 2 s,
// which is the size of the latency being measured, so every multiple of
// 100 ms would look like a plausible offset.
//
// Instead the first video frame a viewer receives is identified by its
// content: the bench process loaded the clip itself, so it hashes the first
// coded slice (VCL NAL unit) of every video frame of the clip; the same
// slice bytes arrive in fMP4 samples (AVCC), MPEG-TS PES (Annex B) and RTP
// (FU-A reassembled), whatever the container. That gives the frame's time
// within one loop of the clip (10 s); the loop is the latest one the
// publisher already sent that frame in (true whenever the latency is below
// the clip's length). Then offset = viewer timestamp − RTMP timestamp, and
// every later frame is matched by timestamp through the send log like the
// FLV viewers do. A frame whose shifted timestamp was never sent (a server
// restart or timeline reset) triggers a new alignment on that frame.

// hashSeed is fixed for the process, so the clip's hashes and the viewers'
// agree.
var hashSeed = maphash.MakeSeed()

// clipIndex maps the first VCL NAL unit of every video frame of the clip
// to that frame's timestamp within one loop.
type clipIndex struct {
	loopMS uint32
	byHash map[uint64]uint32
}

// newClipIndex indexes the clip's H.264 frames (legacy FLV AVC tags).
func newClipIndex(c *replay.Clip) *clipIndex {
	ix := &clipIndex{loopMS: uint32(c.Duration / time.Millisecond), byHash: map[uint64]uint32{}}
	lenSize := 4
	for _, t := range c.Config {
		// AVC sequence header: FrameType|CodecID, AVCPacketType 0, CTS,
		// AVCDecoderConfigurationRecord (lengthSizeMinusOne in byte 4).
		if t.Type == flv.TagVideo && len(t.Body) > 9 && t.Body[0]&0x0f == 7 && t.Body[1] == 0 {
			lenSize = int(t.Body[9]&3) + 1
		}
	}
	dup := map[uint64]bool{}
	for _, t := range c.Media {
		if t.Type != flv.TagVideo || len(t.Body) < 5 || t.Body[0]&0x0f != 7 || t.Body[1] != 1 {
			continue
		}
		vcl := firstVCLLengthPrefixed(t.Body[5:], lenSize)
		if vcl == nil {
			continue
		}
		h := maphash.Bytes(hashSeed, vcl)
		if _, ok := ix.byHash[h]; ok {
			dup[h] = true // identical frames cannot be told apart
		}
		ix.byHash[h] = t.Timestamp
	}
	for h := range dup {
		delete(ix.byHash, h)
	}
	return ix
}

// isVCL reports whether an H.264 NAL unit header byte is a coded slice.
func isVCL(b byte) bool { t := b & 0x1f; return t >= 1 && t <= 5 }

// firstVCLLengthPrefixed returns the first coded slice of an AVCC access
// unit (NAL units prefixed by lenSize-byte lengths), or nil.
func firstVCLLengthPrefixed(b []byte, lenSize int) []byte {
	for len(b) >= lenSize {
		var n uint64
		for i := range lenSize {
			n = n<<8 | uint64(b[i])
		}
		b = b[lenSize:]
		if n > uint64(len(b)) {
			return nil
		}
		if n > 0 && isVCL(b[0]) {
			return b[:n]
		}
		b = b[n:]
	}
	return nil
}

// firstVCL returns the first coded slice of an access unit given as NAL
// units, or nil.
func firstVCL(au [][]byte) []byte {
	for _, n := range au {
		if len(n) > 0 && isVCL(n[0]) {
			return n
		}
	}
	return nil
}

// locate returns the RTMP timestamp the publisher sent the frame whose
// first coded slice is vcl with: the latest send of that clip frame at or
// before now.
func (ix *clipIndex) locate(sends *sendLog, vcl []byte, now time.Time) (uint32, bool) {
	if ix == nil || vcl == nil || ix.loopMS == 0 {
		return 0, false
	}
	rel, ok := ix.byHash[maphash.Bytes(hashSeed, vcl)]
	if !ok {
		return 0, false
	}
	last := sends.latest()
	for k := int64(last / ix.loopMS); k >= 0 && k >= int64(last/ix.loopMS)-2; k-- {
		ts := uint32(k)*ix.loopMS + rel
		if sent, ok := sends.lookup(ts); ok && !sent.After(now) {
			return ts, true
		}
	}
	return 0, false
}

// aligner maps one viewer's media timestamps (milliseconds on the server's
// timeline) to RTMP timestamps.
type aligner struct {
	ix      *clipIndex
	sends   *sendLog
	ok      bool
	offset  int64 // viewer ms − RTMP ms
	retries int
}

// rtmpTS returns the RTMP timestamp of a received video frame at viewer time
// ms; vcl is called only when the frame must be identified by content.
func (a *aligner) rtmpTS(ms int64, now time.Time, vcl func() []byte) (uint32, bool) {
	if a.ok {
		for _, d := range [...]int64{0, -1, 1} { // tolerate a rounding of the tick → ms conversion
			ts := ms - a.offset + d
			if ts >= 0 && ts <= 0xffffffff {
				if _, ok := a.sends.lookup(uint32(ts)); ok {
					return uint32(ts), true
				}
			}
		}
	}
	if a.retries > 1000 { // content that is not the clip's: stop hashing
		return 0, false
	}
	ts, ok := a.ix.locate(a.sends, vcl(), now)
	if !ok {
		a.retries++
		return 0, false
	}
	a.ok, a.offset = true, ms-int64(ts)
	return ts, true
}
