package flv

import (
	"fmt"

	"github.com/sluicemedia/sluice/internal/av"
)

// PacketType is the role of an audio or video tag, unified over the legacy
// AVCPacketType/AACPacketType and the Enhanced RTMP packet types.
type PacketType uint8

// Packet types.
const (
	// SequenceHeader carries the decoder configuration (legacy packet type
	// 0, Enhanced SequenceStart).
	SequenceHeader PacketType = iota
	// Coded carries one coded frame (legacy NALU/raw, Enhanced CodedFrames
	// and CodedFramesX).
	Coded
	// EndOfSequence ends the sequence (legacy AVC end of sequence, Enhanced
	// SequenceEnd); it has no payload.
	EndOfSequence
	// Metadata carries side information: Enhanced video Metadata (AMF0
	// "colorInfo") or Enhanced audio MultichannelConfig.
	Metadata
	// Command is a video info/command frame (FrameType 5); Data holds the
	// command byte (0 start of client-side seeking, 1 end).
	Command
)

var packetTypeNames = [...]string{"sequence header", "coded", "end of sequence", "metadata", "command"}

// String returns the packet type's name, e.g. "sequence header".
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return fmt.Sprintf("PacketType(%d)", uint8(t))
}

// Video FrameType values (FLV v10.1 §E.4.3.1).
const (
	frameKey          = 1
	frameInter        = 2
	frameGeneratedKey = 4
	frameCommand      = 5
)

// Legacy video CodecID values. 12 for HEVC is not in Adobe's spec but is what
// Chinese CDNs, SRS and OBS forks send.
const (
	codecIDAVC  = 7
	codecIDHEVC = 12
)

// Enhanced RTMP v2 VideoPacketType values.
const (
	videoSequenceStart        = 0
	videoCodedFrames          = 1
	videoSequenceEnd          = 2
	videoCodedFramesX         = 3
	videoMetadata             = 4
	videoMPEG2TSSequenceStart = 5
	videoMultitrack           = 6
	videoModEx                = 7
)

// isExHeader is the IsExHeader bit of an enhanced video tag's first byte.
const isExHeader = 0x80

// VideoTag is a parsed video tag body.
type VideoTag struct {
	// Codec is the video codec; CodecUnknown only for an enhanced Command.
	Codec av.Codec
	// Key is true for key frames (FrameType 1 or 4).
	Key bool
	// PacketType tells configuration, frames and the rest apart.
	PacketType PacketType
	// CTS is the composition time offset PTS-DTS in milliseconds (only for
	// Coded H.264/H.265; 0 otherwise).
	CTS int32
	// Data is the payload; it aliases the parsed body. SequenceHeader: the
	// decoder configuration record. Coded: AVCC NAL units (H.264/H.265) or
	// low-overhead OBUs (AV1).
	Data []byte
	// TrackID is the Enhanced RTMP multitrack track id (0 for the default
	// track and for every non-multitrack tag).
	TrackID uint8
}

// ParseVideo parses a video tag body (an FLV video tag's data or an RTMP
// video message). Legacy: CodecID 7 (AVC) and 12 (HEVC) with AVCPacketType
// and SI24 CompositionTime. Enhanced RTMP v2: ModEx and Multitrack wrappers
// and FourCC avc1, hvc1 (CodedFrames with SI24 CompositionTime, CodedFramesX
// without) and av01 (no CompositionTime). Other codecs yield an error
// wrapping ErrUnsupportedCodec. It never panics and does not copy.
func ParseVideo(body []byte) (VideoTag, error) {
	if len(body) == 0 {
		return VideoTag{}, fmt.Errorf("flv: video tag: %w: empty body", ErrTruncated)
	}
	if body[0]&isExHeader != 0 {
		v, err := parseExVideo(body)
		if err != nil {
			return VideoTag{}, fmt.Errorf("flv: enhanced video tag: %w", err)
		}
		return v, nil
	}
	frameType, codecID := body[0]>>4, body[0]&0x0f
	var v VideoTag
	switch codecID {
	case codecIDAVC:
		v.Codec = av.CodecH264
	case codecIDHEVC:
		v.Codec = av.CodecH265
	}
	if frameType == frameCommand {
		v.PacketType, v.Data = Command, body[1:]
		return v, nil
	}
	if v.Codec == av.CodecUnknown {
		return VideoTag{}, fmt.Errorf("flv: video tag: %w: CodecID %d", ErrUnsupportedCodec, codecID)
	}
	if len(body) < 5 {
		return VideoTag{}, fmt.Errorf("flv: %s video tag: %w: %d bytes", v.Codec, ErrTruncated, len(body))
	}
	v.Key = frameType == frameKey || frameType == frameGeneratedKey
	v.Data = body[5:]
	switch body[1] {
	case 0:
		v.PacketType = SequenceHeader
	case 1:
		v.PacketType = Coded
		v.CTS = si24(body[2:5])
	case 2:
		v.PacketType = EndOfSequence
	default:
		return VideoTag{}, fmt.Errorf("flv: %s video tag: %w: AVCPacketType %d", v.Codec, ErrUnsupportedPacketType, body[1])
	}
	return v, nil
}

// parseExVideo parses an Enhanced RTMP v2 ExVideoTagHeader and body.
func parseExVideo(b []byte) (VideoTag, error) {
	frameType := (b[0] >> 4) & 0x07
	pos, pt, err := skipModEx(b, 1, b[0]&0x0f, videoModEx)
	if err != nil {
		return VideoTag{}, err
	}
	if frameType == frameCommand && pt != videoMetadata {
		if pos >= len(b) {
			return VideoTag{}, fmt.Errorf("VideoCommand: %w", ErrTruncated)
		}
		return VideoTag{PacketType: Command, Data: b[pos : pos+1]}, nil
	}
	x, err := parseExBody(b, pos, pt, videoMultitrack)
	if err != nil {
		return VideoTag{}, err
	}
	v := VideoTag{
		Codec:   fourCCCodec(x.fourCC),
		Key:     frameType == frameKey || frameType == frameGeneratedKey,
		Data:    x.payload,
		TrackID: x.trackID,
	}
	if v.Codec == av.CodecUnknown || v.Codec.Kind() != av.KindVideo {
		return VideoTag{}, fmt.Errorf("%w: FourCC %q", ErrUnsupportedCodec, x.fourCC)
	}
	switch x.pt {
	case videoSequenceStart:
		v.PacketType = SequenceHeader
	case videoCodedFrames:
		v.PacketType = Coded
		if v.Codec == av.CodecH264 || v.Codec == av.CodecH265 {
			if len(v.Data) < 3 {
				return VideoTag{}, fmt.Errorf("%s CompositionTime: %w", x.fourCC, ErrTruncated)
			}
			v.CTS, v.Data = si24(v.Data), v.Data[3:]
		}
	case videoCodedFramesX:
		v.PacketType = Coded
	case videoSequenceEnd:
		v.PacketType = EndOfSequence
	case videoMetadata:
		v.PacketType = Metadata
	default:
		return VideoTag{}, fmt.Errorf("%w: VideoPacketType %d (%s)", ErrUnsupportedPacketType, x.pt, x.fourCC)
	}
	return v, nil
}

// AppendVideo appends the tag body for v to dst. H.264 is written as legacy
// AVC (CodecID 7) so that every player understands it, except Metadata which
// only exists in Enhanced RTMP. H.265 and AV1 are written as Enhanced RTMP
// v2: hvc1 Coded as CodedFrames with CompositionTime, or CodedFramesX when CTS
// is 0; av01 Coded as CodedFrames. A Command writes FrameType 5 and the
// command byte Data[0]. Other codecs append nothing.
func AppendVideo(dst []byte, v VideoTag) []byte {
	frameType := byte(frameInter)
	if v.Key {
		frameType = frameKey
	}
	switch v.Codec {
	case av.CodecH264:
		if v.PacketType == Metadata {
			break
		}
		if v.PacketType == Command {
			return append(dst, frameCommand<<4|codecIDAVC, commandByte(v.Data))
		}
		var pt byte
		cts := int32(0)
		switch v.PacketType {
		case SequenceHeader:
			frameType, pt = frameKey, 0
		case Coded:
			pt, cts = 1, v.CTS
		case EndOfSequence:
			frameType, pt = frameKey, 2
		}
		dst = append(dst, frameType<<4|codecIDAVC, pt)
		dst = appendSI24(dst, cts)
		return append(dst, v.Data...)
	case av.CodecH265, av.CodecAV1:
	default:
		return dst
	}
	if v.PacketType == Command {
		return append(dst, isExHeader|frameCommand<<4|videoCodedFrames, commandByte(v.Data))
	}
	var pt byte
	withCTS := false
	switch v.PacketType {
	case SequenceHeader:
		frameType, pt = frameKey, videoSequenceStart
	case EndOfSequence:
		frameType, pt = frameKey, videoSequenceEnd
	case Metadata:
		frameType, pt = frameKey, videoMetadata
	default: // Coded
		pt = videoCodedFrames
		if v.Codec == av.CodecH264 || v.Codec == av.CodecH265 {
			if v.CTS == 0 {
				pt = videoCodedFramesX
			} else {
				withCTS = true
			}
		}
	}
	dst = append(dst, isExHeader|frameType<<4|pt)
	dst = append(dst, codecFourCC(v.Codec)...)
	if withCTS {
		dst = appendSI24(dst, v.CTS)
	}
	if v.PacketType == EndOfSequence {
		return dst
	}
	return append(dst, v.Data...)
}

// commandByte returns the first byte of data, 0 when empty.
func commandByte(data []byte) byte {
	if len(data) == 0 {
		return 0
	}
	return data[0]
}
