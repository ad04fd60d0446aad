package flv

import (
	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/av"
)

// SharedTag returns p as a complete FLV tag (header, body, PreviousTagSize)
// at its DTS in milliseconds. It is built once per packet and shared by every
// FLV viewer; its body is also the RTMP message payload (see TagBody).
func SharedTag(p *av.Packet) []byte {
	return p.Serialized(av.CacheFLVTag, buildTag)
}

func buildTag(p *av.Packet) []byte {
	typ := uint8(TagAudio)
	if p.Kind() == av.KindVideo {
		typ = TagVideo
	}
	body := AppendPacketBody(make([]byte, 0, len(p.Data)+16), p)
	return AppendTag(make([]byte, 0, tagHeaderSize+len(body)+4), typ, TimestampMS(p.DTS), body)
}

const tagHeaderSize = 11

// TagBody returns the body of a complete tag made by AppendTag.
func TagBody(tag []byte) []byte { return tag[tagHeaderSize : len(tag)-4] }

// videoCodecID is the onMetaData videocodecid: the legacy number for H.264,
// the FourCC as a number for Enhanced RTMP codecs (E-RTMP v2, "Metadata").
func videoCodecID(c av.Codec) float64 {
	if c == av.CodecH264 {
		return 7
	}
	return fourCCNumber(codecFourCC(c))
}

func audioCodecID(c av.Codec) float64 {
	switch c {
	case av.CodecAAC:
		return 10
	case av.CodecMP3:
		return 2
	}
	return fourCCNumber(codecFourCC(c))
}

func fourCCNumber(f string) float64 {
	if len(f) != 4 {
		return 0
	}
	return float64(uint32(f[0])<<24 | uint32(f[1])<<16 | uint32(f[2])<<8 | uint32(f[3]))
}

// MetadataBody returns an onMetaData script tag body (also the RTMP data
// message payload) describing the given tracks; either may be nil.
func MetadataBody(video, audio *av.Track) []byte {
	md := amf0.ECMAArray{}
	if video != nil {
		md = append(md,
			amf0.Property{Key: "width", Value: float64(video.Width)},
			amf0.Property{Key: "height", Value: float64(video.Height)},
			amf0.Property{Key: "videocodecid", Value: videoCodecID(video.Codec)})
	}
	if audio != nil {
		md = append(md,
			amf0.Property{Key: "audiocodecid", Value: audioCodecID(audio.Codec)},
			amf0.Property{Key: "audiosamplerate", Value: float64(audio.SampleRate)},
			amf0.Property{Key: "audiochannels", Value: float64(audio.Channels)},
			amf0.Property{Key: "stereo", Value: audio.Channels == 2})
	}
	md = append(md, amf0.Property{Key: "encoder", Value: "Sluice"})
	b, err := amf0.Append(nil, "onMetaData", md)
	if err != nil {
		// Only our own well-typed values are encoded here.
		panic("flv: encode onMetaData: " + err.Error())
	}
	return b
}
