package packager

import (
	"fmt"

	"github.com/sluicemedia/sluice/internal/av"
)

// SupportsTrack is Supports refined by the track's parameters: mediacommon's
// MPEG-TS writer carries MPEG-1 audio only (stream type 0x03), so MP3 at an
// MPEG-2/2.5 lower sampling frequency (8–24 kHz) is left to fMP4.
func SupportsTrack(f Format, t *av.Track) error {
	if err := Supports(f, t.Codec); err != nil {
		return err
	}
	if f == FormatMPEGTS && av.MP3IsLSF(t) {
		return fmt.Errorf("%w: MPEG-TS carries MP3 at 32, 44.1 or 48 kHz only, not %d Hz (use hls.variant fmp4 or lowlatency)",
			ErrUnsupportedCodec, t.SampleRate)
	}
	return nil
}

// CodecsParam returns the RFC 6381 codecs parameter of t as format f
// carries it (for CODECS in a multivariant playlist and @codecs in an
// MPD). It is t.CodecString except for MP3:
//   - fMP4: "mp4a.6B", the object type indication (ISO 14496-1 Table 5,
//     MPEG-1 audio) that mediacommon writes in the esds box for every MP3
//     stream, the lower sampling frequencies included, so the parameter
//     names what the init section says;
//   - MPEG-TS: "mp4a.40.34" (MPEG-4 audio object type 34, Layer III), the
//     form Apple's HLS authoring spec lists for MP3 and that hls.js maps to
//     an audio/mpeg buffer where MSE takes no MP3 in MP4.
func CodecsParam(f Format, t *av.Track) string {
	if t.Codec != av.CodecMP3 {
		return t.CodecString
	}
	if f == FormatMPEGTS {
		return "mp4a.40.34"
	}
	return "mp4a.6B"
}
