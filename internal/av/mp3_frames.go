package av

// MP3FrameSamples returns the samples per frame of an MP3 track: 1152 for
// MPEG-1 Layer III (ISO 11172-3 §2.4.2.1), 576 for the lower sampling
// frequencies of MPEG-2 and MPEG 2.5 (ISO 13818-3 §2.4.2.1: LSF frames
// carry one granule). A track without parameters counts as MPEG-1.
func MP3FrameSamples(t *Track) int {
	if MP3IsLSF(t) {
		return 576
	}
	return 1152
}

// MP3IsLSF reports whether t is MP3 at an MPEG-2 or MPEG 2.5 lower sampling
// frequency (8 to 24 kHz) rather than MPEG-1 (32, 44.1 or 48 kHz).
func MP3IsLSF(t *Track) bool {
	return t != nil && t.Codec == CodecMP3 && t.SampleRate > 0 && t.SampleRate < 32000
}

// Layer III bitrates in kbit/s by bitrate_index (ISO 11172-3 §2.4.2.3,
// ISO 13818-3 §2.4.2.3 for the lower sampling frequencies); index 0 is
// "free format" and 15 is forbidden.
var (
	mp3BitratesV1  = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}
	mp3BitratesLSF = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}
)

// MP3FrameCount returns how many whole Layer III frames data holds, walking
// frame headers by their lengths (bitrate, sampling frequency, padding
// bit). It stops at the first byte that does not start a valid frame, so
// 0 means data does not start with one (or uses free format, whose frame
// length the header does not give).
func MP3FrameCount(data []byte) int {
	n := 0
	for len(data) >= 4 {
		l := mp3FrameLen(data)
		if l <= 0 || l > len(data) {
			break
		}
		n++
		data = data[l:]
	}
	return n
}

// mp3FrameLen returns the length in bytes of the Layer III frame whose
// header starts h, or 0 when h is not such a header (or is free format).
func mp3FrameLen(h []byte) int {
	if _, err := MP3Config(h); err != nil {
		return 0
	}
	version, bi, ri, pad := h[1]>>3&3, h[2]>>4, h[2]>>2&3, int(h[2]>>1&1)
	rate := mp3SampleRates[version][ri]
	if version == 3 {
		kbps := mp3BitratesV1[bi]
		if kbps == 0 {
			return 0
		}
		return 144*kbps*1000/rate + pad
	}
	kbps := mp3BitratesLSF[bi]
	if kbps == 0 {
		return 0
	}
	return 72*kbps*1000/rate + pad
}
