package flv

import (
	"fmt"

	"github.com/sluicemedia/sluice/internal/av"
)

// SoundFormat values (FLV v10.1 §E.4.2.1; 9 is Enhanced RTMP's ExHeader).
const (
	soundFormatMP3      = 2
	soundFormatExHeader = 9
	soundFormatAAC      = 10
	soundFormatMP38kHz  = 14
)

// legacyAACHeader is SoundFormat 10, SoundRate 3 (44 kHz), SoundSize 1
// (16-bit), SoundType 1 (stereo): FLV v10.1 §E.4.2.1 requires these fixed
// values for AAC, whose real parameters are in the AudioSpecificConfig.
const legacyAACHeader = soundFormatAAC<<4 | 3<<2 | 1<<1 | 1

// Enhanced RTMP v2 AudioPacketType values.
const (
	audioSequenceStart      = 0
	audioCodedFrames        = 1
	audioSequenceEnd        = 2
	audioMultichannelConfig = 4
	audioMultitrack         = 5
	audioModEx              = 7
)

// AudioTag is a parsed audio tag body.
type AudioTag struct {
	// Codec is CodecAAC, CodecOpus or CodecMP3.
	Codec av.Codec
	// PacketType: SequenceHeader (AAC AudioSpecificConfig, Opus OpusHead),
	// Coded (one raw frame), EndOfSequence, or Metadata (Enhanced
	// MultichannelConfig, Data unparsed). MP3 has only Coded (MPEG frames
	// with their headers: there is no sequence header).
	PacketType PacketType
	// Data is the payload; it aliases the parsed body.
	Data []byte
	// TrackID is the Enhanced RTMP multitrack track id (0 for the default
	// track and for every non-multitrack tag).
	TrackID uint8
}

// ParseAudio parses an audio tag body (an FLV audio tag's data or an RTMP
// audio message): legacy SoundFormat 10 (AAC, AACPacketType 0 config, 1 raw),
// 2 and 14 (MP3, 8 kHz MP3) and Enhanced RTMP v2 ExHeader (SoundFormat 9)
// with ModEx, Multitrack and FourCC Opus, mp4a or .mp3 (coded frames
// only). Other codecs yield an error wrapping
// ErrUnsupportedCodec. It never panics and does not copy.
func ParseAudio(body []byte) (AudioTag, error) {
	if len(body) == 0 {
		return AudioTag{}, fmt.Errorf("flv: audio tag: %w: empty body", ErrTruncated)
	}
	switch format := body[0] >> 4; format {
	case soundFormatAAC:
		if len(body) < 2 {
			return AudioTag{}, fmt.Errorf("flv: aac audio tag: %w: no AACPacketType", ErrTruncated)
		}
		a := AudioTag{Codec: av.CodecAAC, Data: body[2:]}
		switch body[1] {
		case 0:
			a.PacketType = SequenceHeader
		case 1:
			a.PacketType = Coded
		default:
			return AudioTag{}, fmt.Errorf("flv: aac audio tag: %w: AACPacketType %d", ErrUnsupportedPacketType, body[1])
		}
		return a, nil
	case soundFormatMP3, soundFormatMP38kHz:
		return AudioTag{Codec: av.CodecMP3, PacketType: Coded, Data: body[1:]}, nil
	case soundFormatExHeader:
		a, err := parseExAudio(body)
		if err != nil {
			return AudioTag{}, fmt.Errorf("flv: enhanced audio tag: %w", err)
		}
		return a, nil
	default:
		return AudioTag{}, fmt.Errorf("flv: audio tag: %w: SoundFormat %d", ErrUnsupportedCodec, format)
	}
}

// parseExAudio parses an Enhanced RTMP v2 ExAudioTagHeader and body.
func parseExAudio(b []byte) (AudioTag, error) {
	pos, pt, err := skipModEx(b, 1, b[0]&0x0f, audioModEx)
	if err != nil {
		return AudioTag{}, err
	}
	x, err := parseExBody(b, pos, pt, audioMultitrack)
	if err != nil {
		return AudioTag{}, err
	}
	a := AudioTag{Codec: fourCCCodec(x.fourCC), Data: x.payload, TrackID: x.trackID}
	if a.Codec == av.CodecUnknown || a.Codec.Kind() != av.KindAudio {
		return AudioTag{}, fmt.Errorf("%w: FourCC %q", ErrUnsupportedCodec, x.fourCC)
	}
	if a.Codec == av.CodecMP3 && x.pt != audioCodedFrames {
		// MP3 frames carry their parameters: there is nothing else to send.
		return AudioTag{}, fmt.Errorf("%w: AudioPacketType %d (%s)", ErrUnsupportedPacketType, x.pt, x.fourCC)
	}
	switch x.pt {
	case audioSequenceStart:
		a.PacketType = SequenceHeader
	case audioCodedFrames:
		a.PacketType = Coded
	case audioSequenceEnd:
		a.PacketType = EndOfSequence
	case audioMultichannelConfig:
		a.PacketType = Metadata
	default:
		return AudioTag{}, fmt.Errorf("%w: AudioPacketType %d (%s)", ErrUnsupportedPacketType, x.pt, x.fourCC)
	}
	return a, nil
}

// AppendAudio appends the tag body for a to dst. AAC SequenceHeader and
// Coded are written as legacy AAC (0xAF, then AACPacketType), which every
// player understands; AAC EndOfSequence/Metadata and all Opus packets as
// Enhanced RTMP v2 (ExHeader, AudioPacketType, FourCC); MP3 Coded as legacy
// MP3 (SoundFormat 2, or 14 at 8 kHz, flags from the first frame header).
// Other codecs and packet types append nothing.
func AppendAudio(dst []byte, a AudioTag) []byte {
	if a.Codec == av.CodecMP3 {
		if a.PacketType != Coded {
			return dst
		}
		return append(append(dst, mp3SoundFlags(a.Data)), a.Data...)
	}
	if a.Codec != av.CodecAAC && a.Codec != av.CodecOpus {
		return dst
	}
	if a.Codec == av.CodecAAC {
		switch a.PacketType {
		case SequenceHeader:
			return append(append(dst, legacyAACHeader, 0), a.Data...)
		case Coded:
			return append(append(dst, legacyAACHeader, 1), a.Data...)
		}
	}
	var pt byte
	switch a.PacketType {
	case SequenceHeader:
		pt = audioSequenceStart
	case Coded:
		pt = audioCodedFrames
	case EndOfSequence:
		return append(append(dst, soundFormatExHeader<<4|audioSequenceEnd), codecFourCC(a.Codec)...)
	case Metadata:
		pt = audioMultichannelConfig
	default:
		return dst
	}
	dst = append(dst, soundFormatExHeader<<4|pt)
	dst = append(dst, codecFourCC(a.Codec)...)
	return append(dst, a.Data...)
}

// mp3SoundFlags returns the legacy audio tag header byte for MP3 frames:
// SoundFormat 2 (14 for 8 kHz), and SoundRate and SoundType from the first
// frame header (FLV v10.1 §E.4.2.1; players take the real parameters from
// the frames, the flags are the nearest FLV can say). SoundSize is 16-bit.
func mp3SoundFlags(frames []byte) byte {
	const size16 = 1 << 1
	cfg, err := av.MP3Config(frames)
	if err != nil {
		return soundFormatMP3<<4 | 3<<2 | size16 | 1 // 44 kHz stereo
	}
	t, err := av.NewTrack(av.CodecMP3, cfg)
	if err != nil {
		return soundFormatMP3<<4 | 3<<2 | size16 | 1
	}
	stereo := byte(0)
	if t.Channels == 2 {
		stereo = 1
	}
	switch {
	case t.SampleRate == 8000:
		return soundFormatMP38kHz<<4 | 0<<2 | size16 | stereo
	case t.SampleRate <= 12000:
		return soundFormatMP3<<4 | 1<<2 | size16 | stereo
	case t.SampleRate <= 24000:
		return soundFormatMP3<<4 | 2<<2 | size16 | stereo
	}
	return soundFormatMP3<<4 | 3<<2 | size16 | stereo
}
