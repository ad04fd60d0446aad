package rtmpserver

import (
	"fmt"
	"strings"

	"github.com/sluicemedia/sluice/internal/rtmp"
)

// Legacy FLV codec numbers Sluice does not carry, by name (FLV v10.1
// §E.4.2.1 SoundFormat, §E.4.3.1 CodecID), for the publisher's warning.
var (
	soundFormatNames = map[byte]string{
		0: "Linear PCM (platform endian)", 1: "ADPCM", 2: "MP3", 3: "Linear PCM (little endian)",
		4: "Nellymoser 16 kHz", 5: "Nellymoser 8 kHz", 6: "Nellymoser", 7: "G.711 A-law",
		8: "G.711 mu-law", 11: "Speex", 14: "MP3 8 kHz", 15: "device-specific sound",
	}
	videoCodecNames = map[byte]string{
		2: "Sorenson H.263", 3: "Screen video", 4: "On2 VP6", 5: "On2 VP6 with alpha", 6: "Screen video v2",
	}
)

// maxDroppedCodecs bounds the codecs a publisher is warned about (FourCCs
// come from the peer: the set of names is otherwise unbounded).
const maxDroppedCodecs = 8

// droppedCodec names the unsupported codec of an audio or video message
// body, and its kind.
func droppedCodec(typ uint8, body []byte, err error) (kind, name string) {
	kind = "video"
	if typ == rtmp.MsgAudio {
		kind = "audio"
	}
	switch {
	case typ == rtmp.MsgAudio && body[0]>>4 != 9: // 9: Enhanced RTMP ExAudioTagHeader
		if n, ok := soundFormatNames[body[0]>>4]; ok {
			return kind, n
		}
		return kind, fmt.Sprintf("SoundFormat %d", body[0]>>4)
	case typ == rtmp.MsgVideo && body[0]&0x80 == 0: // top bit: Enhanced RTMP IsExHeader
		if n, ok := videoCodecNames[body[0]&0x0F]; ok {
			return kind, n
		}
		return kind, fmt.Sprintf("CodecID %d", body[0]&0x0F)
	}
	// Enhanced RTMP: the error names the FourCC.
	s := err.Error()
	if i := strings.LastIndex(s, "unsupported codec: "); i >= 0 {
		s = s[i+len("unsupported codec: "):]
	}
	return kind, s
}

// dropTrack (flv.Ingest.Unsupported) tells the publisher, once per kind and codec, that a track is
// dropped: an onStatus warning (level "warning", which encoders log and do
// not treat as a failure) and one log line.
func (ps *publishSession) dropTrack(typ uint8, body []byte, err error) error {
	kind, name := droppedCodec(typ, body, err)
	key := kind + "/" + name
	if ps.unsupported[key] || len(ps.unsupported) >= maxDroppedCodecs {
		return nil
	}
	ps.unsupported[key] = true
	supported := "H.264, H.265, AV1"
	if kind == "audio" {
		supported = "AAC, Opus"
	}
	desc := fmt.Sprintf("%s codec %s is not supported: this track is dropped, viewers get the stream without it (supported: %s)", kind, name, supported)
	ps.c.log.Warn("rtmp track dropped", "kind", kind, "codec", name, "supported", supported)
	return ps.c.status("warning", "NetStream.Publish.TrackDropped", desc)
}
