package packager

import (
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/sluicemedia/sluice/internal/av"
)

// FMP4Codec is the fMP4 sample description of t, as the packager writes
// it in its init sections; shared with internal/record, so recordings and
// HLS/DASH carry every codec the same way.
func FMP4Codec(t *av.Track) (fmp4.Codec, error) { return initCodec(t) }

// MarshalMuxedInit serializes init (audio and video in one file) with the
// brands of the packager's muxed init sections (iso6, isom, mp41, hlsf).
func MarshalMuxedInit(init fmp4.Init) ([]byte, error) { return marshalInit(init, muxedBrands) }
