package main

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/stretchr/testify/require"
)

const llPlaylist = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=0.600
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI="cam1/hls/s_init0.mp4"
#EXTINF:2.00000,
cam1/hls/s_seg10.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="cam1/hls/s_init1.mp4"
#EXT-X-PART:DURATION=0.20000,URI="cam1/hls/s_part11.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="cam1/hls/s_part11.1.m4s"
#EXTINF:0.40000,
cam1/hls/s_seg11.m4s
#EXT-X-PART:DURATION=0.20000,URI="cam1/hls/s_part12.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="cam1/hls/s_part12.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="cam1/hls/s_part12.2.m4s"
`

func TestParseLLPlaylist(t *testing.T) {
	var p hlsPlaylist
	require.NoError(t, p.parse(llPlaylist))
	require.Equal(t, 2*time.Second, p.targetDur)
	require.True(t, p.canBlock)
	require.Len(t, p.segments, 2)
	require.Equal(t, hlsSegment{msn: 11, uri: "cam1/hls/s_seg11.m4s", dur: 400 * time.Millisecond, mapURI: "cam1/hls/s_init1.mp4"}, p.segments[1])
	require.Len(t, p.parts, 4)
	require.Equal(t, hlsPart{msn: 12, idx: 1, uri: "cam1/hls/s_part12.1.m4s", dur: 200 * time.Millisecond, mapURI: "cam1/hls/s_init1.mp4"}, p.parts[3])
	require.True(t, p.parts[2].indep)
	require.Equal(t, "cam1/hls/s_part12.2.m4s", p.hintURI)
	require.Equal(t, uint64(12), p.hintMSN)
	require.Equal(t, 2, p.hintIdx)
	h := &hlsViewer{pl: p}
	require.Equal(t, partKey{12, 0}, h.startPart())
}

func TestParseClassicPlaylist(t *testing.T) {
	var p hlsPlaylist
	require.NoError(t, p.parse("#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-MEDIA-SEQUENCE:5\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:2.000,\r\nh3-5.ts\r\n#EXTINF:1.933,\r\nh3-6.ts\r\n#EXT-X-ENDLIST\r\n"))
	require.False(t, p.canBlock)
	require.Empty(t, p.parts)
	require.Equal(t, []hlsSegment{{msn: 5, uri: "h3-5.ts", dur: 2 * time.Second}, {msn: 6, uri: "h3-6.ts", dur: 1933 * time.Millisecond}}, p.segments)
	require.True(t, p.ended)
	require.Error(t, p.parse("no playlist"))
}

func TestAttr(t *testing.T) {
	line := `#EXT-X-PART:DURATION=0.2,URI="a,b=c.m4s",INDEPENDENT=YES`
	require.Equal(t, "0.2", attr(line, "DURATION"))
	require.Equal(t, "a,b=c.m4s", attr(line, "URI"))
	require.Equal(t, "YES", attr(line, "INDEPENDENT"))
	require.Equal(t, "", attr(line, "GAP"))
}

func TestFirstVCL(t *testing.T) {
	avcc := []byte{0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 2, 0x41, 9}
	require.Equal(t, []byte{0x65, 1, 2}, firstVCLLengthPrefixed(avcc, 4))
	require.Nil(t, firstVCLLengthPrefixed([]byte{0, 0, 0, 9, 0x65}, 4))
	require.Equal(t, []byte{0x41, 7}, firstVCL([][]byte{{0x06, 1}, {0x41, 7}}))
}

// fakeFrames is a synthetic clip: 30 frames 33 ms apart whose slices
// differ, and a send log as if the publisher looped it twice.
func fakeFrames(t *testing.T) (*clipIndex, *sendLog, [][]byte, time.Time) {
	t.Helper()
	ix := &clipIndex{loopMS: 1000, byHash: map[uint64]uint32{}}
	var slices [][]byte
	for i := range 30 {
		s := []byte{0x41, byte(i), 0xaa, 0x55}
		if i == 0 {
			s[0] = 0x65
		}
		slices = append(slices, s)
		ix.byHash[maphash.Bytes(hashSeed, s)] = uint32(i * 33)
	}
	sends := &sendLog{sent: map[uint32]time.Time{}}
	t0 := time.Now().Add(-3 * time.Second)
	for loop := range 2 {
		for i := range 30 {
			ts := uint32(loop*1000 + i*33)
			sends.record(ts, t0.Add(time.Duration(ts)*time.Millisecond))
		}
	}
	return ix, sends, slices, t0
}

func TestAligner(t *testing.T) {
	ix, sends, slices, _ := fakeFrames(t)
	a := aligner{ix: ix, sends: sends}
	// The second loop's frame 3 arrives with a 700 ms container offset.
	ts, ok := a.rtmpTS(1000+99+700, time.Now(), func() []byte { return slices[3] })
	require.True(t, ok)
	require.Equal(t, uint32(1099), ts)
	require.Equal(t, int64(700), a.offset)
	// Later frames by timestamp alone.
	ts, ok = a.rtmpTS(1000+132+700, time.Now(), func() []byte { panic("not needed") })
	require.True(t, ok)
	require.Equal(t, uint32(1132), ts)
	// Unknown content is not aligned.
	b := aligner{ix: ix, sends: sends}
	_, ok = b.rtmpTS(5, time.Now(), func() []byte { return []byte{0x41, 0xff} })
	require.False(t, ok)
}

// TestClassicHLSViewer plays an MPEG-TS playlist (nginx-rtmp style: 63000
// ticks added to the timestamps) and matches its frames to their sends.
func TestClassicHLSViewer(t *testing.T) {
	ix, sends, slices, _ := fakeFrames(t)
	var seg bytes.Buffer
	track := &mpegts.Track{Codec: &mpegts.CodecH264{}}
	w := &mpegts.Writer{W: &seg, Tracks: []*mpegts.Track{track}}
	require.NoError(t, w.Initialize())
	for i := range 30 { // the second loop of the clip
		dts := int64(1000+i*33)*90 + 63000
		require.NoError(t, w.WriteH264(track, dts, dts, [][]byte{{0x67, 1}, slices[i]}))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hls/s.m3u8", func(rw http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(rw, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.000,\ns-7.ts\n")
	})
	mux.HandleFunc("/hls/s-7.ts", func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write(seg.Bytes()) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	v := &viewer{url: srv.URL + "/hls/s.m3u8", proto: "hls", sends: sends, client: srv.Client(), clip: ix}
	v.startMeasure(time.Now().Add(-time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	v.run(ctx)
	require.Empty(t, v.err)
	require.Equal(t, "hls mpegts", v.hlsMode)
	require.True(t, v.gotFrame.Load())
	require.Len(t, v.latencies, 30)
	// Frame i was sent at t0 + 1000 + 33i ms, i.e. ~2 s − 33i ms ago.
	require.InDelta(t, 2000, v.latencies[0].Milliseconds(), 300)
	require.InDelta(t, 2000-29*33, v.latencies[29].Milliseconds(), 300)
	require.Zero(t, v.stalls)
}
