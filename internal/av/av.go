// Package av is Sluice's codec-agnostic media model: tracks and access units
// (packets) as they travel from an ingest protocol through the hub to every
// egress protocol. It knows no container and no protocol.
package av

import (
	"sync/atomic"
	"time"
)

// Kind tells video from audio.
type Kind uint8

// Track kinds.
const (
	KindVideo Kind = iota
	KindAudio
)

func (k Kind) String() string {
	if k == KindVideo {
		return "video"
	}
	return "audio"
}

// Codec identifies a codec independently of any container's numbering.
type Codec uint8

// Supported codecs.
const (
	CodecUnknown Codec = iota
	CodecH264
	CodecH265
	CodecAV1
	CodecAAC
	CodecOpus
	// CodecMP3 is MPEG-1/2 Audio Layer III (FLV SoundFormat 2 and 14).
	CodecMP3
)

var codecNames = [...]string{"unknown", "h264", "h265", "av1", "aac", "opus", "mp3"}

func (c Codec) String() string {
	if int(c) < len(codecNames) {
		return codecNames[c]
	}
	return "unknown"
}

// Kind returns whether the codec carries video or audio.
func (c Codec) Kind() Kind {
	switch c {
	case CodecAAC, CodecOpus, CodecMP3:
		return KindAudio
	default:
		return KindVideo
	}
}

// Track describes one elementary stream. A Track is immutable once published:
// a change of codec configuration (new SPS, new AudioSpecificConfig) creates a
// new Track, and packets point at the Track that describes them, so every
// reader sees configuration changes in order with the media.
type Track struct {
	Codec Codec
	// Config is the codec's decoder configuration in the form MP4 and FLV
	// carry it: H.264 AVCDecoderConfigurationRecord, H.265
	// HEVCDecoderConfigurationRecord, AV1 AV1CodecConfigurationRecord, AAC
	// AudioSpecificConfig, Opus "OpusHead" identification header (may be nil),
	// MP3: the 4-byte frame header of the stream's frames normalized by
	// MP3Config (may be nil).
	Config []byte

	// Video properties parsed from Config (0 when unknown).
	Width, Height int
	// Audio properties parsed from Config (0 when unknown).
	SampleRate, Channels int
	// CodecString is the RFC 6381 codecs parameter, e.g. "avc1.64001f",
	// "mp4a.40.2"; empty when it cannot be computed.
	CodecString string
	// Derived marks a track the server made from another track of the same
	// stream (e.g. AAC transcoded from the publisher's Opus) so that
	// protocols that cannot carry the original still get audio. Readers
	// receive derived packets only when they ask for that codec.
	Derived bool
}

// Kind returns the track's kind.
func (t *Track) Kind() Kind { return t.Codec.Kind() }

// Packet is one access unit: one video frame or one audio frame (AAC: one
// raw_data_block; Opus: one packet). A Packet is immutable once written to
// the hub and shared by every reader; it must never be modified after that.
type Packet struct {
	// Track describes the packet's codec and configuration.
	Track *Track
	// DTS and PTS on the stream's timeline (starts at 0 for a new stream,
	// continuous across publisher reconnects).
	DTS, PTS time.Duration
	// Key marks a video keyframe (random access point). Audio packets are
	// always independently decodable and have Key set too.
	Key bool
	// Discontinuity marks the first packet after a publisher reconnected.
	Discontinuity bool
	// Data is the codec payload. H.264/H.265: NAL units, each with a 4-byte
	// big-endian length prefix (AVCC). AV1: a temporal unit in low-overhead
	// OBU format (every OBU with obu_has_size_field). AAC: one raw frame
	// without ADTS. Opus: one packet. MP3: one or more whole frames, each
	// with its header.
	Data []byte

	// Arrival is the wall-clock time the packet entered the server, for
	// latency accounting.
	Arrival time.Time

	cache [numCacheSlots]atomic.Pointer[[]byte]
}

// CacheSlot names a serialization of a Packet that is computed once and
// shared by every reader of one output format.
type CacheSlot int

// Cache slots; each belongs to exactly one serializer.
const (
	// CacheFLVTag holds a complete FLV tag (header, body, PreviousTagSize).
	CacheFLVTag CacheSlot = iota
	// CacheRTMPChunks holds the packet as RTMP chunks at the server's
	// outgoing chunk size.
	CacheRTMPChunks
	numCacheSlots
)

// Serialized returns the packet's bytes in the format of slot, computing them
// with build the first time. Concurrent first calls may both run build; one
// result wins and both are identical, so that is harmless and lock-free.
func (p *Packet) Serialized(slot CacheSlot, build func(*Packet) []byte) []byte {
	if b := p.cache[slot].Load(); b != nil {
		return *b
	}
	b := build(p)
	if p.cache[slot].CompareAndSwap(nil, &b) {
		return b
	}
	return *p.cache[slot].Load()
}

// Kind returns the packet's track kind.
func (p *Packet) Kind() Kind { return p.Track.Codec.Kind() }

// CTS returns the composition time offset PTS-DTS.
func (p *Packet) CTS() time.Duration { return p.PTS - p.DTS }
