package av

import "fmt"

// MPEG audio frame header fields (ISO 11172-3 §2.4.1.3, ISO 13818-3 §2.4.2.3
// for the lower sampling frequencies; "MPEG 2.5" is the common extension to
// 8/11.025/12 kHz).
var mp3SampleRates = [4][3]int{
	{11025, 12000, 8000},  // version bits 00: MPEG 2.5
	{},                    // 01: reserved
	{22050, 24000, 16000}, // 10: MPEG-2
	{44100, 48000, 32000}, // 11: MPEG-1
}

// MP3Config returns the parameters of the MPEG audio frame header at the
// start of frame normalized into a 4-byte Track.Config: sync, version and
// layer, sampling frequency and channel mode — the fields that stay the
// same for a stream — with bitrate, padding and the other per-frame bits
// cleared, so frames of one stream give equal configs. It fails unless
// frame starts with a valid Layer III header.
func MP3Config(frame []byte) ([]byte, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("mp3 frame of %d bytes: no header", len(frame))
	}
	h := frame[:4]
	version, layer, rate := h[1]>>3&3, h[1]>>1&3, h[2]>>2&3
	switch {
	case h[0] != 0xFF || h[1]&0xE0 != 0xE0:
		return nil, fmt.Errorf("mp3 frame header % x: no frame sync", h)
	case version == 1:
		return nil, fmt.Errorf("mp3 frame header % x: reserved MPEG version", h)
	case layer != 1: // 01 is Layer III
		return nil, fmt.Errorf("mp3 frame header % x: not Layer III", h)
	case rate == 3:
		return nil, fmt.Errorf("mp3 frame header % x: reserved sampling frequency", h)
	}
	return []byte{0xFF, 0xE0 | version<<3 | layer<<1 | 1, rate << 2, h[3] & 0xC0}, nil
}

// parseMP3 reads a config made by MP3Config; without one the stream's
// parameters are unknown (0) and the codec string is MPEG-1's.
func (t *Track) parseMP3() error {
	t.CodecString = "mp4a.6B" // RFC 6381 §3.3: MPEG-1 audio (ISO 11172-3)
	if len(t.Config) == 0 {
		return nil
	}
	c, err := MP3Config(t.Config)
	if err != nil {
		return err
	}
	version, rate := c[1]>>3&3, c[2]>>2&3
	t.SampleRate = mp3SampleRates[version][rate]
	t.Channels = 2
	if c[3]>>6 == 3 { // channel mode 11: single channel
		t.Channels = 1
	}
	if version != 3 {
		t.CodecString = "mp4a.69" // MPEG-2 audio (ISO 13818-3) lower sampling frequencies
	}
	return nil
}
