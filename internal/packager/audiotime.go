package packager

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/sluicemedia/sluice/internal/av"
)

// Audio frames have a duration fixed by the codec, but RTMP/FLV carries
// their timestamps in whole milliseconds: 1024 samples at 48 kHz are
// 21.33 ms, sent as 21 or 22 ms, which made 1008/1056-tick sample
// durations in fMP4 (players hear the jitter, MSE splices). The packager
// instead counts samples: an audio frame starts where the previous one
// ended as long as its own timestamp agrees within half a frame, and only
// a larger gap or overlap (a lost packet, a publisher's jump) moves it.

// aacFrameSamples returns the samples per AAC frame of an
// AudioSpecificConfig at its core sampling rate (ISO 14496-3 §4.5.1.1
// GASpecificConfig frameLengthFlag: 960 instead of 1024); 1024 when the
// config cannot be parsed (mediacommon reads LC/HE-AAC only; Main and LTP
// use 1024 too).
func aacFrameSamples(config []byte) int64 {
	var asc mpeg4audio.AudioSpecificConfig
	if err := asc.Unmarshal(config); err == nil && asc.FrameLengthFlag {
		return 960
	}
	return 1024
}

// opusPacketSamples returns the duration of an Opus packet in 48 kHz
// samples from its TOC byte (RFC 6716 §3.1: the configuration number gives
// the frame size, the code c the frame count, for c = 3 in the second
// byte, §3.2.5), or 0 for a packet too short to say.
func opusPacketSamples(pkt []byte) int64 {
	if len(pkt) == 0 {
		return 0
	}
	config := int(pkt[0] >> 3)
	var frame int64 // samples at 48 kHz (480 = 10 ms)
	switch {
	case config < 12: // SILK-only: 10, 20, 40, 60 ms
		frame = [4]int64{480, 960, 1920, 2880}[config%4]
	case config < 16: // Hybrid: 10, 20 ms
		frame = [2]int64{480, 960}[config%2]
	default: // CELT-only: 2.5, 5, 10, 20 ms
		frame = [4]int64{120, 240, 480, 960}[config%4]
	}
	switch pkt[0] & 3 {
	case 0:
		return frame
	case 1, 2:
		return 2 * frame
	default:
		if len(pkt) < 2 {
			return 0
		}
		n := int64(pkt[1] & 0x3f)
		if n == 0 || n*frame > 5760 { // §3.2.5: at most 120 ms
			return 0
		}
		return n * frame
	}
}

// audioFrameTicks returns the duration of one audio packet in its track's
// timescale (the sampling rate), or 0 when the codec does not fix it.
func audioFrameTicks(ts *trackState, pkt *av.Packet) int64 {
	switch ts.track.Codec {
	case av.CodecAAC:
		return ts.aacFrame
	case av.CodecOpus:
		return opusPacketSamples(pkt.Data) // timescale 48 kHz
	case av.CodecMP3:
		// One packet may hold several frames (FLV allows it); timescale
		// is the sampling rate.
		return int64(av.MP3FrameCount(pkt.Data) * av.MP3FrameSamples(ts.track))
	}
	return 0
}

// audioDTS returns the decode time, in ticks, of an audio packet whose
// timestamp converts to dts: the end of the previous frame when dts is
// within half a frame of it, else dts (a real gap or jump). It records
// where this frame ends.
func (ts *trackState) audioDTS(pkt *av.Packet, dts int64) int64 {
	n := audioFrameTicks(ts, pkt)
	if n <= 0 {
		ts.haveNext = false
		return dts
	}
	if ts.haveNext {
		if d := dts - ts.nextDTS; d < n/2 && d > -n/2 {
			dts = ts.nextDTS
		}
	}
	ts.nextDTS, ts.haveNext, ts.frameDur = dts+n, true, n
	return dts
}
