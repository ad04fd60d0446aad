package hlsserver

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/packager"
)

// A small valid H.264 SPS (High, 1.2: avc1.64000c) and PPS, and an AAC-LC
// 44.1 kHz stereo AudioSpecificConfig.
var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	testPPS = []byte{0x68, 0xee, 0x3c, 0x80}
	testASC = []byte{0x12, 0x10}
)

func testTracks(t testing.TB) (video, audio *av.Track) {
	t.Helper()
	rec := []byte{1, testSPS[1], testSPS[2], testSPS[3], 0xff, 0xe1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(testSPS)))
	rec = append(rec, testSPS...)
	rec = append(rec, 1)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(testPPS)))
	rec = append(rec, testPPS...)
	video, err := av.NewTrack(av.CodecH264, rec)
	require.NoError(t, err)
	audio, err = av.NewTrack(av.CodecAAC, testASC)
	require.NoError(t, err)
	return video, audio
}

// packets returns n ms of 25 fps video (2 s GOP, frames of frameBytes)
// and AAC audio from start, interleaved by DTS.
func packets(video, audio *av.Track, start, n time.Duration, frameBytes int) []*av.Packet {
	var out []*av.Packet
	vt, at := start, start
	aDur := 1024 * time.Second / 44100
	for vt < start+n || at < start+n {
		if vt <= at {
			key := vt%(2*time.Second) == 0
			typ := byte(0x41)
			if key {
				typ = 0x65
			}
			data := make([]byte, 4+frameBytes)
			binary.BigEndian.PutUint32(data, uint32(frameBytes))
			data[4] = typ
			out = append(out, &av.Packet{Track: video, DTS: vt, PTS: vt, Key: key, Data: data})
			vt += 40 * time.Millisecond
		} else {
			out = append(out, &av.Packet{Track: audio, DTS: at, PTS: at, Key: true, Data: []byte{0x21, 0x10, 0x04}})
			at += aDur
		}
	}
	return out
}

// testPackager returns a packager fed 7 s from start.
func testPackager(t *testing.T, video, audio *av.Track, start time.Duration, frameBytes int) *packager.Packager {
	t.Helper()
	p := packager.New(packager.Options{AlignMSN: true})
	require.NoError(t, p.SetTracks(video, audio))
	for _, pkt := range packets(video, audio, start, 7*time.Second, frameBytes) {
		require.NoError(t, p.WritePacket(pkt))
	}
	return p
}

func TestMembersOrderAndURIs(t *testing.T) {
	l := &Ladder{Passthrough: true, Rungs: []Rung{{Name: "360p"}, {Name: "low_q"}}}
	require.Equal(t, []member{
		{path: "live/cam1", uri: "cam1/hls/media.m3u8"},
		{path: "live/cam1_360p", uri: "cam1_360p.m3u8", rung: &l.Rungs[0]},
		{path: "live/cam1_low_q", uri: "cam1_low_q.m3u8", rung: &l.Rungs[1]},
	}, members("live/cam1", l))
	l.Passthrough = false
	require.Len(t, members("live/cam1", l), 2)

	// Every live/* path has the ladder (a glob pattern), but a rendition
	// is never a source.
	s := &Server{Ladder: func(string) *Ladder { return l }}
	src, _, ok := s.renditionOf("live/cam1_low_q")
	require.True(t, ok)
	require.Equal(t, "live/cam1", src)
	require.Nil(t, s.ladderOf("live/cam1_360p"))
	require.NotNil(t, s.ladderOf("live/cam1"))
	_, _, ok = s.renditionOf("live/cam1_720p")
	require.False(t, ok, "no such rung")
	require.NotNil(t, s.ladderOf("live/cam1_720p"), "a stream that merely looks like a rendition")
}

// TestMultivariantGolden: the source and one rung measured from real
// packagers (BANDWIDTH from segment sizes, FRAME-RATE from the frames of a
// segment, CODECS and RESOLUTION from the tracks), a rung not ready yet
// listed from its configuration.
func TestMultivariantGolden(t *testing.T) {
	video, audio := testTracks(t)
	l := &Ladder{Passthrough: true, Rungs: []Rung{
		{Name: "360p", Width: 640, Height: 360, VideoBitrate: 700_000, AudioBitrate: 64_000},
		{Name: "240p", Height: 240, VideoBitrate: 300_000, MaxFPS: 15},
	}}
	ms := members("live/cam1", l)
	src := testPackager(t, video, audio, 10*time.Second, 5000)
	r360 := testPackager(t, video, audio, 10*time.Second, 2000)
	vs := []variant{
		describe(ms[0], src.Snapshot(), video, audio, packager.FormatFMP4),
		describe(ms[1], r360.Snapshot(), video, audio, packager.FormatFMP4),
		fallbackVariant(ms[2]),
	}
	require.InDelta(t, 25.0, vs[0].frameRate, 0.001)
	require.Greater(t, vs[0].bandwidth, int64(25*5000*8), "the peak covers the video bytes")
	require.GreaterOrEqual(t, vs[0].bandwidth, vs[0].average)
	golden(t, "multivariant.m3u8", renderMultivariant(vs))

	// MPEG-TS cannot carry Opus: CODECS lists what the segments hold.
	opus := &av.Track{Codec: av.CodecOpus, CodecString: "opus"}
	v := describe(ms[0], &packager.Snapshot{Format: packager.FormatMPEGTS}, video, opus, packager.FormatMPEGTS)
	require.Equal(t, []string{video.CodecString}, v.codecs)
	require.Zero(t, v.frameRate)

	// MP3 (issue 12): mp4a.6B in fMP4, mp4a.40.34 in MPEG-TS (what hls.js
	// maps to an audio/mpeg buffer); MPEG-2 LSF MP3 only in fMP4.
	mp3, err := av.NewTrack(av.CodecMP3, []byte{0xFF, 0xFB, 0x90, 0x40})
	require.NoError(t, err)
	v = describe(ms[0], &packager.Snapshot{Format: packager.FormatMPEGTS}, video, mp3, packager.FormatMPEGTS)
	require.Equal(t, []string{video.CodecString, "mp4a.40.34"}, v.codecs)
	v = describe(ms[0], &packager.Snapshot{}, video, mp3, packager.FormatFMP4)
	require.Equal(t, []string{video.CodecString, "mp4a.6B"}, v.codecs)
	lsf, err := av.NewTrack(av.CodecMP3, []byte{0xFF, 0xF3, 0x80, 0x00})
	require.NoError(t, err)
	v = describe(ms[0], &packager.Snapshot{Format: packager.FormatMPEGTS}, video, lsf, packager.FormatMPEGTS)
	require.Equal(t, []string{video.CodecString}, v.codecs)
	v = describe(ms[0], &packager.Snapshot{}, video, lsf, packager.FormatFMP4)
	require.Equal(t, []string{video.CodecString, "mp4a.6B"}, v.codecs)
}

func TestRenditionReportsGolden(t *testing.T) {
	o := playlistOptions{lowLatency: true, prefix: "cam1_360p/hls/", reports: []renditionReport{
		{uri: "cam1/hls/media.m3u8", lastMSN: 14, lastPart: 2},
		{uri: "cam1_240p.m3u8", lastMSN: 14, lastPart: 1},
		{uri: "cam1_144p.m3u8", lastMSN: 13, lastPart: -1},
	}}
	golden(t, "lowlatency_reports.m3u8", renderPlaylist(testSnapshot(false), o))
	o.lowLatency = false
	require.NotContains(t, string(renderPlaylist(testSnapshot(false), o)), "RENDITION-REPORT", "LL-HLS only")
	require.NotContains(t, string(renderPlaylist(testSnapshot(true), playlistOptions{lowLatency: true, reports: o.reports})),
		"RENDITION-REPORT", "not in an ended playlist")
}

// fakeTranscoder records Ensure and Touch.
type fakeTranscoder struct {
	mu      sync.Mutex
	ensured []string
	touched map[string]int
	onStart func()
}

func (f *fakeTranscoder) Ensure(source string) bool {
	f.mu.Lock()
	f.ensured = append(f.ensured, source)
	start := f.onStart
	f.onStart = nil
	f.mu.Unlock()
	if start != nil {
		start()
	}
	return true
}

func (f *fakeTranscoder) Touch(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.touched == nil {
		f.touched = map[string]int{}
	}
	f.touched[path]++
}

// publish writes 25 fps video and audio to path at 10× real time until
// ctx ends.
func publish(ctx context.Context, t *testing.T, h *hub.Hub, path string, frameBytes int, wg *sync.WaitGroup) {
	t.Helper()
	video, audio := testTracks(t)
	pub, err := h.Publish(path, hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	pub.Announce(true, true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer pub.Close("done")
		for start := time.Duration(0); ; start += time.Second {
			for _, pkt := range packets(video, audio, start, time.Second, frameBytes) {
				if pub.WritePacket(pkt) != nil {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

// TestServeMultivariant runs the server in process: the first request of
// /live/cam1.m3u8 starts the ladder (Ensure), waits for the renditions and
// lists them; rendition playlists report their siblings; every request
// touches the ladder.
func TestServeMultivariant(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet, MaxLag: time.Minute})
	defer h.Close()
	pm := &packager.Manager{Hub: h, Options: packager.Options{AlignMSN: true}, Logger: quiet}
	defer pm.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	publish(ctx, t, h, "live/cam1", 4000, &wg)
	tc := &fakeTranscoder{onStart: func() { // the ladder's renditions appear
		go func() {
			time.Sleep(300 * time.Millisecond)
			publish(ctx, t, h, "live/cam1_360p", 2000, &wg)
			publish(ctx, t, h, "live/cam1_240p", 1000, &wg)
		}()
	}}
	l := &Ladder{Passthrough: true, Rungs: []Rung{
		{Name: "360p", Width: 640, Height: 360, VideoBitrate: 700_000},
		{Name: "240p", Height: 240, VideoBitrate: 300_000},
	}}
	s := &Server{Packagers: pm, Logger: quiet, Transcoder: tc, Ladder: func(p string) *Ladder {
		if strings.HasPrefix(p, "live/") {
			return l
		}
		return nil
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("/live/{file}", func(w http.ResponseWriter, r *http.Request) {
		s.ServeStream(w, r, "live/"+strings.TrimSuffix(r.PathValue("file"), ".m3u8"), "")
	})
	mux.HandleFunc("/live/{name}/hls/{file}", func(w http.ResponseWriter, r *http.Request) {
		s.ServeStream(w, r, "live/"+r.PathValue("name"), r.PathValue("file"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	status, body := get("/live/cam1.m3u8")
	require.Equal(t, http.StatusOK, status, body)
	t.Logf("multivariant:\n%s", body)
	require.Equal(t, []string{"live/cam1"}, tc.ensured)
	infs := strings.Count(body, "#EXT-X-STREAM-INF:")
	require.Equal(t, 3, infs, body)
	for _, uri := range []string{"\ncam1/hls/media.m3u8\n", "\ncam1_360p.m3u8\n", "\ncam1_240p.m3u8\n"} {
		require.Contains(t, body, uri)
	}
	require.Contains(t, body, `CODECS="avc1.64000c,mp4a.40.2"`)
	require.Contains(t, body, "FRAME-RATE=25.000")
	require.Less(t, strings.Index(body, "cam1/hls/media.m3u8"), strings.Index(body, "cam1_360p.m3u8"), "source first")

	// Media playlists: the rendition's, with reports of its siblings, and
	// the source's under /hls/, with URIs relative to it.
	status, body = get("/live/cam1_360p.m3u8")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "#EXT-X-PART:")
	require.Contains(t, body, `#EXT-X-RENDITION-REPORT:URI="cam1/hls/media.m3u8",LAST-MSN=`)
	require.Contains(t, body, `#EXT-X-RENDITION-REPORT:URI="cam1_240p.m3u8",LAST-MSN=`)
	require.NotContains(t, body, `URI="cam1_360p.m3u8"`, "no report of itself")
	status, body = get("/live/cam1/hls/media.m3u8")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `#EXT-X-RENDITION-REPORT:URI="../../cam1_360p.m3u8",LAST-MSN=`)
	require.Regexp(t, `#EXT-X-MAP:URI="[0-9a-f]+_init0.mp4"`, body)
	tc.mu.Lock()
	require.Positive(t, tc.touched["live/cam1_360p"])
	require.Positive(t, tc.touched["live/cam1"])
	before := tc.touched["live/cam1"]
	tc.mu.Unlock()

	// A media request of a session that is not the packager's keeps no
	// ladder running: such URLs take no credential.
	status, _ = get("/live/cam1/hls/" + strings.Repeat("0", 32) + "_seg1.m4s")
	require.Equal(t, http.StatusNotFound, status)
	tc.mu.Lock()
	require.Equal(t, before, tc.touched["live/cam1"], "touched by a guessed session")
	tc.mu.Unlock()

	// The credential of the request goes on to the media playlists and
	// rendition reports (players resolve them without this query); HLS
	// delivery directives do not.
	status, body = get("/live/cam1.m3u8?key=k%201&x=y")
	require.Equal(t, http.StatusOK, status, body)
	for _, uri := range []string{"\ncam1/hls/media.m3u8?key=k+1&x=y\n", "\ncam1_360p.m3u8?key=k+1&x=y\n", "\ncam1_240p.m3u8?key=k+1&x=y\n"} {
		require.Contains(t, body, uri)
	}
	status, body = get("/live/cam1_360p.m3u8?_HLS_msn=0&key=k")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `#EXT-X-RENDITION-REPORT:URI="cam1_240p.m3u8?key=k",LAST-MSN=`)
}
