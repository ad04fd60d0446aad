package av

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Hand-made configurations. avcConfig is x264's record for a 320x240 High
// profile stream (level 1.3).
var (
	avcSPS    = []byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfa, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60}
	avcPPS    = []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	avcConfig = buildAVCRecord(avcSPS, avcPPS)
	aacLC48k2 = []byte{0x11, 0x90}
)

func buildAVCRecord(sps, pps []byte) []byte {
	b := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

func TestNewTrackH264(t *testing.T) {
	tr, err := NewTrack(CodecH264, avcConfig)
	require.NoError(t, err)
	require.Equal(t, 320, tr.Width)
	require.Equal(t, 240, tr.Height)
	require.Equal(t, "avc1.64000d", tr.CodecString)
	require.Equal(t, KindVideo, tr.Kind())

	sps, pps, err := H264ParameterSets(avcConfig)
	require.NoError(t, err)
	require.Equal(t, [][]byte{avcSPS}, sps)
	require.Equal(t, [][]byte{avcPPS}, pps)
	require.Equal(t, 4, NALULengthSize(CodecH264, avcConfig))
}

func TestNewTrackAAC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config []byte
		rate   int
		ch     int
		codecs string
	}{
		{"LC 48k stereo", aacLC48k2, 48000, 2, "mp4a.40.2"},
		{"LC 44.1k mono", []byte{0x12, 0x08}, 44100, 1, "mp4a.40.2"},
		// HE-AAC, explicit SBR: object 5, 24 kHz core, stereo, ext 48 kHz, LC.
		{"HE explicit", []byte{0x2b, 0x11, 0x88, 0x00}, 24000, 2, "mp4a.40.5"},
		// AAC Main (object 1): not parsed by mediacommon, fallback path.
		{"Main fallback", []byte{0x0a, 0x10}, 44100, 2, "mp4a.40.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTrack(CodecAAC, tc.config)
			require.NoError(t, err)
			require.Equal(t, tc.rate, tr.SampleRate)
			require.Equal(t, tc.ch, tr.Channels)
			require.Equal(t, tc.codecs, tr.CodecString)
			require.Equal(t, KindAudio, tr.Kind())
		})
	}
}

func TestNewTrackOpus(t *testing.T) {
	tr, err := NewTrack(CodecOpus, nil)
	require.NoError(t, err)
	require.Equal(t, 48000, tr.SampleRate)
	require.Equal(t, 2, tr.Channels)
	require.Equal(t, "opus", tr.CodecString)

	tr, err = NewTrack(CodecOpus, OpusHead(1))
	require.NoError(t, err)
	require.Equal(t, 1, tr.Channels)
	require.Equal(t, 48000, tr.SampleRate)
}

func TestHEVCCodecString(t *testing.T) {
	rec := make([]byte, 23)
	rec[0] = 1
	rec[1] = 0x01 // space 0, tier Main, profile 1
	rec[2] = 0x60 // compat flags 1 and 2
	rec[6] = 0xb0 // progressive, non-packed, frame-only
	rec[12] = 93  // level 3.1
	require.Equal(t, "hvc1.1.6.L93.B0", hevcCodecString(rec))
	rec[1] = 0x22               // space 0, tier High, profile 2
	rec[2], rec[3] = 0x20, 0x00 // compat flag 2
	rec[7] = 0x01               // second constraint byte kept, trailing zeros cut
	rec[12] = 120
	require.Equal(t, "hvc1.2.4.H120.B0.01", hevcCodecString(rec))
	rec[1] = 0x41 // profile space 1 -> "A"
	require.Equal(t, "hvc1.A1.4.L120.B0.01", hevcCodecString(rec))
}

func TestNewTrackMalformed(t *testing.T) {
	for _, tc := range []struct {
		codec  Codec
		config []byte
	}{
		{CodecH264, nil},
		{CodecH264, []byte{1, 0x64, 0, 0x0d, 0xff, 0xe1, 0, 50}},      // SPS longer than record
		{CodecH264, []byte{2, 0x64, 0, 0x0d, 0xff, 0xe0, 0}},          // bad version
		{CodecH264, []byte{1, 0x64, 0, 0x0d, 0xff, 0xe0, 0}},          // no SPS
		{CodecH264, buildAVCRecord([]byte{0x67, 0x64, 0, 0x0d}, nil)}, // truncated SPS
		{CodecH265, make([]byte, 10)},
		{CodecH265, append([]byte{1}, make([]byte, 22)...)}, // no SPS
		{CodecAV1, []byte{0x81, 0, 0}},
		{CodecAV1, []byte{0x01, 0, 0, 0}},
		{CodecAV1, []byte{0x81, 0, 0, 0, 0x0a, 0x20, 0}}, // sequence header OBU longer than record
		{CodecAAC, nil},
		{CodecAAC, []byte{0x17}},
		{CodecAAC, []byte{0x17, 0x80}}, // sampling index 14
		{CodecOpus, []byte("OpusHead")},
		{CodecOpus, append([]byte("OpusHeaX"), make([]byte, 11)...)},
		{CodecUnknown, nil},
	} {
		_, err := NewTrack(tc.codec, tc.config)
		require.Error(t, err, "%s %x", tc.codec, tc.config)
	}
	_, err := NewTrack(CodecH264, nil)
	require.ErrorIs(t, err, ErrMalformedConfig)
	require.ErrorContains(t, err, "av: h264 config")
}

func TestAVCCAnnexB(t *testing.T) {
	avcc := []byte{0, 0, 0, 2, 0x65, 0xaa, 0, 0, 0, 1, 0x06}
	annexb, err := AVCCToAnnexB([]byte("x"), avcc)
	require.NoError(t, err)
	require.Equal(t, []byte{'x', 0, 0, 0, 1, 0x65, 0xaa, 0, 0, 0, 1, 0x06}, annexb)

	back, err := AnnexBToAVCC(nil, annexb[1:])
	require.NoError(t, err)
	require.Equal(t, avcc, back)

	// 3-byte start codes are accepted too.
	back, err = AnnexBToAVCC(nil, []byte{0, 0, 1, 0x65, 0xaa, 0, 0, 1, 0x06})
	require.NoError(t, err)
	require.Equal(t, avcc, back)

	_, err = AVCCToAnnexB(nil, []byte{0, 0, 0, 9, 1})
	require.Error(t, err)
	_, err = AVCCToAnnexB(nil, []byte{0, 0})
	require.Error(t, err)
	_, err = AnnexBToAVCC(nil, []byte{1, 2, 3})
	require.Error(t, err)
}

func TestKeyframes(t *testing.T) {
	nal := func(hdr ...byte) []byte { return append([]byte{0, 0, 0, byte(len(hdr))}, hdr...) }
	require.True(t, IsH264Keyframe(append(nal(0x09, 0x10), nal(0x65, 0x88)...)))
	require.False(t, IsH264Keyframe(nal(0x41, 0x9a)))
	require.False(t, IsH264Keyframe([]byte{0, 0, 0, 9, 0x65}))
	require.False(t, IsH264Keyframe(nil))

	require.True(t, IsH265Keyframe(nal(19<<1, 1)))  // IDR_W_RADL
	require.True(t, IsH265Keyframe(nal(21<<1, 1)))  // CRA
	require.True(t, IsH265Keyframe(nal(16<<1, 1)))  // BLA_W_LP
	require.False(t, IsH265Keyframe(nal(1<<1, 1)))  // TRAIL_R
	require.False(t, IsH265Keyframe(nal(32<<1, 1))) // VPS alone
}

// --- real encoder output -------------------------------------------------

type clipSet struct {
	avcC, hvcC, av1C, opusHead, asc []byte
	probe                           map[string]map[string]string // file -> ffprobe key -> value
}

var (
	clipsOnce sync.Once
	clips     *clipSet
	clipsErr  error
)

// realClips encodes short clips once with ffmpeg and extracts their decoder
// configurations; tests skip when ffmpeg is missing.
func realClips(t *testing.T) *clipSet {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	clipsOnce.Do(func() { clips, clipsErr = makeClips() })
	if clipsErr != nil {
		t.Fatal(clipsErr)
	}
	return clips
}

func makeClips() (*clipSet, error) {
	dir, err := os.MkdirTemp("", "sluice-av-clips")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"}
	av1Enc := []string{"-c:v", "libaom-av1", "-cpu-used", "8"}
	if out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output(); !bytes.Contains(out, []byte("libaom-av1")) {
		av1Enc = []string{"-c:v", "libsvtav1", "-preset", "12"}
	}
	jobs := map[string][]string{
		"h264.mp4": append(append([]string{}, src...), "-t", "0.4", "-c:v", "libx264", "-profile:v", "high"),
		"h265.mp4": append(append([]string{}, src...), "-t", "0.4", "-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1"),
		"av1.mp4":  append(append(append([]string{}, src...), "-t", "0.2"), av1Enc...),
		"aac.mp4":  {"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "0.3", "-c:a", "aac", "-ac", "2"},
		"opus.ogg": {"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "0.3", "-c:a", "libopus", "-ac", "2"},
	}
	c := &clipSet{probe: map[string]map[string]string{}}
	for name, args := range jobs {
		path := filepath.Join(dir, name)
		cmd := exec.Command("ffmpeg", append(append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...), path)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ffmpeg %s: %w: %s", name, err, out)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		c.probe[name] = ffprobe(path)
		switch name {
		case "h264.mp4":
			c.avcC = mp4Config(data, "avc1", "avcC")
		case "h265.mp4":
			c.hvcC = mp4Config(data, "hvc1", "hvcC")
		case "av1.mp4":
			c.av1C = mp4Config(data, "av01", "av1C")
		case "aac.mp4":
			c.asc = ascFromESDS(mp4Config(data, "mp4a", "esds"))
		case "opus.ogg":
			// The first Ogg packet is the 19-byte OpusHead (mapping family 0).
			if i := bytes.Index(data, []byte("OpusHead")); i >= 0 && len(data) >= i+19 {
				c.opusHead = data[i : i+19]
			}
		}
	}
	return c, nil
}

// ffprobe returns the first stream's properties as key=value pairs.
func ffprobe(path string) map[string]string {
	m := map[string]string{}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries",
		"stream=codec_name,profile,level,width,height,sample_rate,channels", "-of", "default=nw=1", path).Output()
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			if _, dup := m[k]; !dup {
				m[k] = v
			}
		}
	}
	return m
}

// mp4Config walks moov/trak/mdia/minf/stbl/stsd/<entry>/<box> and returns
// the payload of the configuration box.
func mp4Config(b []byte, entry, box string) []byte {
	path := []string{"moov", "trak", "mdia", "minf", "stbl", "stsd", entry, box}
	skip := map[string]int{"stsd": 8, "avc1": 78, "hvc1": 78, "av01": 78, "mp4a": 28}
	var walk func(b []byte, depth int) []byte
	walk = func(b []byte, depth int) []byte {
		for len(b) >= 8 {
			size := int(binary.BigEndian.Uint32(b))
			if size < 8 || size > len(b) {
				return nil
			}
			typ, payload := string(b[4:8]), b[8:size]
			b = b[size:]
			if typ != path[depth] {
				continue
			}
			if depth == len(path)-1 {
				return payload
			}
			if n := skip[typ]; n <= len(payload) {
				if r := walk(payload[n:], depth+1); r != nil {
					return r
				}
			}
		}
		return nil
	}
	return walk(b, 0)
}

// ascFromESDS digs the DecoderSpecificInfo (tag 5) out of an esds payload.
func ascFromESDS(esds []byte) []byte {
	if len(esds) < 4 {
		return nil
	}
	b := esds[4:] // version/flags
	for len(b) > 2 {
		tag := b[0]
		b = b[1:]
		size := 0
		for len(b) > 0 {
			c := b[0]
			b = b[1:]
			size = size<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		switch tag {
		case 3: // ES_Descriptor: ES_ID(2), flags(1), then children
			if len(b) < 3 {
				return nil
			}
			b = b[3:]
		case 4: // DecoderConfigDescriptor: 13 fixed bytes, then children
			if len(b) < 13 {
				return nil
			}
			b = b[13:]
		case 5:
			if size > len(b) {
				return nil
			}
			return b[:size]
		default:
			if size > len(b) {
				return nil
			}
			b = b[size:]
		}
	}
	return nil
}

func TestNewTrackRealClips(t *testing.T) {
	c := realClips(t)

	t.Run("h264", func(t *testing.T) {
		p := c.probe["h264.mp4"]
		require.Equal(t, "High", p["profile"])
		tr, err := NewTrack(CodecH264, c.avcC)
		require.NoError(t, err)
		require.Equal(t, 320, tr.Width)
		require.Equal(t, 240, tr.Height)
		level, err := strconv.Atoi(p["level"])
		require.NoError(t, err)
		// x264 High profile sets no constraint flags.
		require.Equal(t, "avc1.6400"+strconv.FormatInt(int64(level)+0x100, 16)[1:], tr.CodecString)
	})

	t.Run("h265", func(t *testing.T) {
		p := c.probe["h265.mp4"]
		require.Equal(t, "Main", p["profile"])
		tr, err := NewTrack(CodecH265, c.hvcC)
		require.NoError(t, err)
		require.Equal(t, 320, tr.Width)
		require.Equal(t, 240, tr.Height)
		// Main (compatible with Main and Main 10), progressive frame-only.
		require.Equal(t, "hvc1.1.6.L"+p["level"]+".90", tr.CodecString)
		vps, sps, pps, err := H265ParameterSets(c.hvcC)
		require.NoError(t, err)
		require.Len(t, vps, 1)
		require.Len(t, sps, 1)
		require.Len(t, pps, 1)
		require.Equal(t, 4, NALULengthSize(CodecH265, c.hvcC))
	})

	t.Run("av1", func(t *testing.T) {
		p := c.probe["av1.mp4"]
		require.Equal(t, "Main", p["profile"])
		tr, err := NewTrack(CodecAV1, c.av1C)
		require.NoError(t, err)
		require.Equal(t, 320, tr.Width)
		require.Equal(t, 240, tr.Height)
		level, err := strconv.Atoi(p["level"])
		require.NoError(t, err)
		require.Equal(t, "av01.0."+twoDigits(level)+"M.08", tr.CodecString)
	})

	t.Run("aac", func(t *testing.T) {
		p := c.probe["aac.mp4"]
		require.Equal(t, "LC", p["profile"])
		tr, err := NewTrack(CodecAAC, c.asc)
		require.NoError(t, err)
		require.Equal(t, 48000, tr.SampleRate)
		require.Equal(t, 2, tr.Channels)
		require.Equal(t, "mp4a.40.2", tr.CodecString)
	})

	t.Run("opus", func(t *testing.T) {
		tr, err := NewTrack(CodecOpus, c.opusHead)
		require.NoError(t, err)
		require.Equal(t, 48000, tr.SampleRate)
		require.Equal(t, 2, tr.Channels)
		require.Equal(t, "opus", tr.CodecString)
	})
}

func twoDigits(n int) string {
	s := strconv.Itoa(n)
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

// --- fuzzing ---------------------------------------------------------------

func fuzzTrack(f *testing.F, codec Codec, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config []byte) {
		tr, err := NewTrack(codec, config)
		if err != nil {
			require.Nil(t, tr)
			return
		}
		require.Equal(t, codec, tr.Codec)
		require.GreaterOrEqual(t, tr.Width, 0)
		require.GreaterOrEqual(t, tr.Height, 0)
	})
}

func FuzzNewTrackH264(f *testing.F) {
	fuzzTrack(f, CodecH264, avcConfig, avcConfig[:10], nil)
}

func FuzzNewTrackH265(f *testing.F) {
	rec := make([]byte, 23)
	rec[0] = 1
	fuzzTrack(f, CodecH265, rec, append(rec[:22:22], 1, 0xa1, 0, 1, 0, 2, 0x42, 0x01))
}

func FuzzNewTrackAV1(f *testing.F) {
	fuzzTrack(f, CodecAV1, []byte{0x81, 0, 0x0c, 0}, []byte{0x81, 0, 0x0c, 0, 0x0a, 0x0b, 0, 0, 0, 0x24, 0xcf, 0x7f, 0x0d, 0xbf, 0xff, 0x30, 0x08})
}

func FuzzNewTrackAAC(f *testing.F) {
	fuzzTrack(f, CodecAAC, aacLC48k2, []byte{0x2b, 0x11, 0x88, 0x00}, []byte{0x0a, 0x10})
}

func FuzzNewTrackOpus(f *testing.F) {
	fuzzTrack(f, CodecOpus, OpusHead(2), nil)
}

func FuzzNewTrackMP3(f *testing.F) {
	fuzzTrack(f, CodecMP3, []byte{0xFF, 0xFB, 0x90, 0x64}, []byte{0xFF, 0xE3, 0x88, 0x04}, nil)
}

func FuzzAVCC(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0x65, 0xaa, 0, 0, 0, 1, 0x06})
	f.Add([]byte{0, 0, 1, 0x65, 0, 0, 0, 1, 0x41})
	f.Fuzz(func(t *testing.T, b []byte) {
		IsH264Keyframe(b)
		IsH265Keyframe(b)
		if annexb, err := AVCCToAnnexB(nil, b); err == nil && len(annexb) > 0 {
			_, _ = AnnexBToAVCC(nil, annexb)
		}
		_, _ = AnnexBToAVCC(nil, b)
	})
}
