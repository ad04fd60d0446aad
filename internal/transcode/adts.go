package transcode

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// ADTS (ISO 14496-3 §1.A.2) is how ffmpeg hands us the AAC it encodes:
// self-delimiting frames, each out as soon as it is encoded.

// adtsFrame is one AAC frame read from an ADTS stream.
type adtsFrame struct {
	// config is the AudioSpecificConfig its header describes.
	config mpeg4audio.AudioSpecificConfig
	// au is the raw frame without the ADTS header.
	au []byte
}

// adtsReader splits an ADTS stream into frames.
type adtsReader struct {
	r   *bufio.Reader
	hdr [9]byte
}

func newADTSReader(r *bufio.Reader) *adtsReader { return &adtsReader{r: r} }

// next returns the next frame; its au is freshly allocated (it goes into
// the hub, which never copies).
func (a *adtsReader) next() (adtsFrame, error) {
	h := a.hdr[:7]
	if _, err := io.ReadFull(a.r, h); err != nil {
		return adtsFrame{}, err
	}
	if h[0] != 0xff || h[1]&0xf6 != 0xf0 { // syncword, layer 0
		return adtsFrame{}, errors.New("adts: bad syncword")
	}
	protectionAbsent := h[1]&1 == 1
	frameLen := int(h[3]&3)<<11 | int(h[4])<<3 | int(h[5]>>5)
	hdrLen := 7
	if !protectionAbsent {
		hdrLen = 9
	}
	if h[6]&3 != 0 {
		return adtsFrame{}, errors.New("adts: more than one raw data block per frame is not supported")
	}
	if frameLen <= hdrLen {
		return adtsFrame{}, fmt.Errorf("adts: frame length %d shorter than its header", frameLen)
	}
	if !protectionAbsent {
		if _, err := io.ReadFull(a.r, a.hdr[7:9]); err != nil {
			return adtsFrame{}, fmt.Errorf("adts: crc: %w", err)
		}
	}
	objType := mpeg4audio.ObjectType(h[2]>>6 + 1)
	sfi := int(h[2] >> 2 & 0x0f)
	chanCfg := h[2]&1<<2 | h[3]>>6
	if sfi >= len(adtsSampleRates) {
		return adtsFrame{}, fmt.Errorf("adts: sampling frequency index %d", sfi)
	}
	if chanCfg == 0 {
		return adtsFrame{}, errors.New("adts: channel configuration 0 (PCE) is not supported")
	}
	au := make([]byte, frameLen-hdrLen)
	if _, err := io.ReadFull(a.r, au); err != nil {
		return adtsFrame{}, fmt.Errorf("adts: payload: %w", err)
	}
	return adtsFrame{
		config: mpeg4audio.AudioSpecificConfig{Type: objType, SampleRate: adtsSampleRates[sfi], ChannelConfig: chanCfg},
		au:     au,
	}, nil
}

// adtsSampleRates is the ADTS sampling_frequency_index table
// (ISO 14496-3 §1.6.3.4).
var adtsSampleRates = []int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
