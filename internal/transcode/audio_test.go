package transcode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// clickInterval is the period of the test clip's clicks: 5 ms bursts that
// make the audio's position on the timeline measurable.
const clickInterval = 500 * time.Millisecond

// clickPackets makes a click track with ffmpeg in codec c (Opus in Ogg or
// AAC in ADTS, as a WHIP or RTMP publisher would send) and returns its
// frames as hub packets timed by their sample counts from 0, which is how
// a player renders them: every decoded sample, the encoder's priming
// included.
func clickPackets(t *testing.T, c av.Codec, dur time.Duration) []*av.Packet {
	t.Helper()
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	src := fmt.Sprintf("aevalsrc=if(lt(mod(t\\,%g)\\,0.005)\\,0.8\\,0):s=48000:c=stereo:d=%g",
		clickInterval.Seconds(), dur.Seconds())
	file := filepath.Join(t.TempDir(), "clip")
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", src}
	switch c {
	case av.CodecOpus:
		args = append(args, "-c:a", "libopus", "-b:a", "96k", "-frame_duration", "20", "-f", "ogg", file)
	case av.CodecMP3:
		// CBR 128 kb/s at 48 kHz: every frame is 384 bytes; no ID3 or Xing
		// frame, as an RTMP encoder sends it.
		args = append(args, "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", "-id3v2_version", "0", "-f", "mp3", file)
	default:
		args = append(args, "-c:a", "aac", "-b:a", "128k", "-f", "adts", file)
	}
	out, err := exec.Command(ffmpeg, args...).CombinedOutput()
	require.NoError(t, err, "ffmpeg: %s", out)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	br := bufio.NewReader(bytes.NewReader(data))
	var pkts []*av.Packet
	if c == av.CodecMP3 {
		cfg, err := av.MP3Config(data)
		require.NoError(t, err)
		track, err := av.NewTrack(av.CodecMP3, cfg)
		require.NoError(t, err)
		const frameSize, frameSamples = 384, 1152 // MPEG-1 Layer III, 128 kb/s, 48 kHz
		for n := 0; (n+1)*frameSize <= len(data); n++ {
			pts := time.Duration(n) * frameSamples * time.Second / 48000
			pkts = append(pkts, &av.Packet{Track: track, PTS: pts, DTS: pts, Key: true, Data: data[n*frameSize : (n+1)*frameSize]})
		}
	} else if c == av.CodecOpus {
		r := newOggReader(br)
		head, err := r.next()
		require.NoError(t, err)
		track, err := av.NewTrack(av.CodecOpus, head)
		require.NoError(t, err)
		_, err = r.next() // OpusTags
		require.NoError(t, err)
		var samples int64
		for {
			p, err := r.next()
			if err != nil {
				break
			}
			pts := time.Duration(samples) * time.Second / av.OpusSampleRate
			samples += int64(opusPacketSamples(p))
			pkts = append(pkts, &av.Packet{Track: track, PTS: pts, DTS: pts, Key: true, Data: p})
		}
	} else {
		r := newADTSReader(br)
		var track *av.Track
		for n := 0; ; n++ {
			f, err := r.next()
			if err != nil {
				break
			}
			if track == nil {
				cfg, err := f.config.Marshal()
				require.NoError(t, err)
				track, err = av.NewTrack(av.CodecAAC, cfg)
				require.NoError(t, err)
			}
			pts := time.Duration(n) * 1024 * time.Second / time.Duration(track.SampleRate)
			pkts = append(pkts, &av.Packet{Track: track, PTS: pts, DTS: pts, Key: true, Data: f.au})
		}
	}
	require.Greater(t, len(pkts), 20, "frames in the %s clip", c)
	return pkts
}

// clickTimes decodes packets (timed as on the stream) with ffmpeg, playing
// every sample as a player does, and returns when each click starts on the
// stream's timeline.
func clickTimes(t *testing.T, pkts []*av.Packet) []time.Duration {
	t.Helper()
	tw, err := newTSAudioWriter(pkts[0].Track)
	require.NoError(t, err)
	var ts bytes.Buffer
	require.NoError(t, tw.start(&ts))
	for _, p := range pkts {
		require.NoError(t, tw.write(p))
	}
	cmd := exec.Command(testutil.RequireTool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error",
		"-f", "mpegts", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "pipe:1")
	cmd.Stdin = &ts
	var pcm, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &pcm, &stderr
	require.NoError(t, cmd.Run(), "decode: %s", stderr.String())
	samples := pcm.Bytes()
	var out []time.Duration
	quiet := 0
	for i := 0; i+1 < len(samples); i += 2 {
		v := int16(binary.LittleEndian.Uint16(samples[i:]))
		if math.Abs(float64(v)) > 8000 {
			if quiet > 4800 { // ≥ 100 ms of quiet before: a new click
				out = append(out, pkts[0].PTS+time.Duration(i/2)*time.Second/48000)
			}
			quiet = 0
		} else {
			quiet++
		}
	}
	return out
}

// offsetOf returns the median and the largest distance from each derived
// click to the nearest original click.
func offsetOf(t *testing.T, original, derived []time.Duration) (median, worst time.Duration) {
	t.Helper()
	require.NotEmpty(t, original)
	require.GreaterOrEqual(t, len(derived), 3, "clicks heard in the derived audio")
	var d []time.Duration
	for _, x := range derived {
		best := time.Hour
		for _, o := range original {
			if diff := x - o; diff.Abs() < best.Abs() {
				best = diff
			}
		}
		d = append(d, best)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	worst = d[0]
	if d[len(d)-1].Abs() > worst.Abs() {
		worst = d[len(d)-1]
	}
	return d[len(d)/2], worst
}

// bridgeLatency returns the median and largest delay from the arrival of
// the original packet holding a derived packet's first sample to the
// arrival of that derived packet.
func bridgeLatency(t *testing.T, original, derived []*av.Packet) (median, worst time.Duration) {
	t.Helper()
	var d []time.Duration
	for _, p := range derived {
		i := sort.Search(len(original), func(i int) bool { return original[i].PTS > p.PTS }) - 1
		if i < 0 {
			continue // primed samples before the first original packet
		}
		d = append(d, p.Arrival.Sub(original[i].Arrival))
	}
	require.NotEmpty(t, d)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)-1]
}

// runBridge publishes pkts (with a video track, as a real stream has) in
// real time into a fresh hub, bridges them to codec to, and returns the
// derived packets a reader preferring to received.
func runBridge(t *testing.T, pkts []*av.Packet, to av.Codec, auto bool) []*av.Packet {
	t.Helper()
	h := hub.New(hub.Options{Logger: quietLogger()})
	pub, err := h.Publish("live/bridge", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	pub.Announce(false, true)
	st := pub.Stream()
	bridges := &AudioBridges{Hub: h, Logger: quietLogger()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if auto {
		go bridges.StreamStarted("live/bridge")
	} else {
		release := bridges.Acquire(st, to)
		defer release()
	}
	r, err := st.Subscribe(ctx, hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer r.Close()
	r.PreferAudio(to)

	got := make(chan []*av.Packet, 1)
	go func() {
		var derived []*av.Packet
		buf := make([]*av.Packet, 0, 64)
		for {
			batch, err := r.Read(ctx, buf[:0])
			for _, p := range batch {
				if p.Track.Derived {
					derived = append(derived, p)
				}
			}
			if err != nil {
				got <- derived
				return
			}
		}
	}()
	start := time.Now()
	for _, p := range pkts {
		time.Sleep(time.Until(start.Add(p.PTS)))
		require.NoError(t, pub.WritePacket(p))
	}
	time.Sleep(300 * time.Millisecond) // the last frames through ffmpeg
	pub.Kick("test over")
	derived := <-got
	bridges.Close()
	return derived
}

func TestAudioBridgeOpusToAACKeepsTiming(t *testing.T) {
	src := clickPackets(t, av.CodecOpus, 3*time.Second)
	// WebRTC senders stop sending in silence (DTX): a 300 ms hole (between
	// two clicks) must not pull the later audio earlier. The reference is
	// the clip without the hole, decoded as is.
	var holed []*av.Packet
	for _, p := range src {
		if p.PTS < 1100*time.Millisecond || p.PTS >= 1400*time.Millisecond {
			holed = append(holed, p)
		}
	}
	derived := runBridge(t, holed, av.CodecAAC, true)
	require.NotEmpty(t, derived, "derived AAC packets")
	tr := derived[0].Track
	require.Equal(t, av.CodecAAC, tr.Codec)
	require.Equal(t, 48000, tr.SampleRate)
	require.Equal(t, 2, tr.Channels)
	for i := 1; i < len(derived); i++ {
		require.Greater(t, derived[i].PTS, derived[i-1].PTS, "derived timestamps increase")
	}
	checkBridgeTiming(t, "Opus→AAC", src, holed, derived)
}

// checkBridgeTiming asserts that every click of the reference clip sits at
// the same place in the derived audio (within 5 ms) and logs the offset
// and the bridge's delay (published are the packets that were sent).
func checkBridgeTiming(t *testing.T, name string, reference, published, derived []*av.Packet) {
	t.Helper()
	original, heard := clickTimes(t, reference), clickTimes(t, derived)
	median, worst := offsetOf(t, original, heard)
	t.Logf("%s bridge: %d %s packets, %d clicks; audio offset derived − original: median %v, worst %v",
		name, len(derived), derived[0].Track.Codec, len(heard), median, worst)
	require.Less(t, worst.Abs(), 5*time.Millisecond, "every derived click must sit where the original one does")
	lm, lw := bridgeLatency(t, published, derived)
	t.Logf("%s bridge latency (original arrival → derived arrival): median %v, max %v", name, lm, lw)
	require.Less(t, lm, 500*time.Millisecond)
}

func TestAudioBridgeAACToOpusKeepsTiming(t *testing.T) {
	src := clickPackets(t, av.CodecAAC, 3*time.Second)
	derived := runBridge(t, src, av.CodecOpus, false)
	require.NotEmpty(t, derived, "derived Opus packets")
	require.Equal(t, av.CodecOpus, derived[0].Track.Codec)
	checkBridgeTiming(t, "AAC→Opus", src, src, derived)
}

// TestAudioBridgeMP3ToOpusKeepsTiming: WHEP viewers of an RTMP publisher
// sending MP3 get Opus derived from it, on time.
func TestAudioBridgeMP3ToOpusKeepsTiming(t *testing.T) {
	src := clickPackets(t, av.CodecMP3, 3*time.Second)
	derived := runBridge(t, src, av.CodecOpus, false)
	require.NotEmpty(t, derived, "derived Opus packets")
	require.Equal(t, av.CodecOpus, derived[0].Track.Codec)
	checkBridgeTiming(t, "MP3→Opus", src, src, derived)
}

func TestAudioBridgeIdleForSameCodec(t *testing.T) {
	src := clickPackets(t, av.CodecOpus, time.Second)
	derived := runBridge(t, src[:20], av.CodecOpus, false)
	require.Empty(t, derived, "an Opus publisher needs no Opus bridge")
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// An MP3 stream the MPEG-TS muxer cannot take (MPEG-2 lower sampling
// frequencies) stops the bridge for good instead of restarting ffmpeg.
func TestAudioBridgeCannotBridgeLowRateMP3(t *testing.T) {
	cfg, err := av.MP3Config([]byte{0xFF, 0xF3, 0x80, 0x04}) // MPEG-2, 22.05 kHz
	require.NoError(t, err)
	track, err := av.NewTrack(av.CodecMP3, cfg)
	require.NoError(t, err)
	_, err = newTSAudioWriter(track)
	require.ErrorIs(t, err, errCannotBridge)
}

// TestBridgeSkipsNonFrameMP3: a packet of an MP3 track that holds no frame
// (a broken or hostile publisher) is left out of ffmpeg's input instead of
// failing the bridge, even as the first packet after the tables.
func TestBridgeSkipsNonFrameMP3(t *testing.T) {
	hdr := []byte{0xFF, 0xFB, 0x90, 0x64} // MPEG-1 Layer III, 128 kb/s, 44.1 kHz: 417-byte frames
	cfg, err := av.MP3Config(hdr)
	require.NoError(t, err)
	track, err := av.NewTrack(av.CodecMP3, cfg)
	require.NoError(t, err)
	tw, err := newTSAudioWriter(track)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, tw.start(&out))
	tables := out.Len()
	require.NoError(t, tw.write(&av.Packet{Track: track, Data: []byte{1, 2, 3, 4, 5}}))
	require.Equal(t, tables, out.Len(), "nothing written for a packet that is no frame")
	frame := append(append([]byte{}, hdr...), make([]byte, 413)...)
	require.NoError(t, tw.write(&av.Packet{Track: track, PTS: 26 * time.Millisecond, Data: frame}))
	require.Greater(t, out.Len(), tables, "a real frame is written")
}
