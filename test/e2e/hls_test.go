package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// hlsGet fetches url and returns status, headers and body.
func hlsGet(t *testing.T, ctx context.Context, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, url)
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	require.NoError(t, err, url)
	return resp.StatusCode, resp.Header, b
}

// waitForPlaylist polls the playlist until it answers 200 with a segment
// or part listed.
func waitForPlaylist(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		status, _, body := hlsGet(t, ctx, url)
		cancel()
		if status == http.StatusOK && (strings.Contains(string(body), "#EXTINF") || strings.Contains(string(body), "#EXT-X-PART:")) {
			return string(body)
		}
		last = fmt.Sprintf("%d %s", status, body)
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("playlist %s not ready within 30s; last answer: %s", url, last)
	return ""
}

func TestHLSVariantsDecode(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	for _, variant := range []string{"lowlatency", "fmp4", "mpegts"} {
		t.Run(variant, func(t *testing.T) {
			s := testutil.StartSluice(t, []string{"SLUICE_HLS_VARIANT=" + variant})
			pub := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/t", testutil.PublishOptions{})
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("publisher stderr: %s", pub.Stderr())
				}
			})
			waitForStream(t, s, "live/t")
			url := "http://" + s.HTTPAddr + "/live/t.m3u8"
			pl := waitForPlaylist(t, url)
			t.Logf("%s playlist:\n%s", variant, pl)

			streams, err := testutil.Probe(t, url, 30*time.Second)
			require.NoError(t, err)
			requireH264AAC(t, url, streams)

			res, err := testutil.Decode(t, url, 5*time.Second)
			require.NoError(t, err)
			require.Empty(t, res.Errors, "%s: ffmpeg reported decode errors", url)
			require.GreaterOrEqual(t, res.VideoFrames, 100, "%s: decoded video frames in 5 s at 25 fps", url)
		})
	}
}

// llPlaylist is what the LL-HLS checker reads from a media playlist.
type llPlaylist struct {
	target, partTarget float64
	mediaSeq           uint64
	segments           []llSegment
	parts              []llPart
	mapURIs            []string
	hint               string
	raw                string
}

type llSegment struct {
	msn      uint64
	duration float64
	uri      string
}

type llPart struct {
	msn      uint64
	index    int
	duration float64
	uri      string
}

func attr(line, name string) string {
	i := strings.Index(line, name+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(name)+1:]
	if strings.HasPrefix(v, `"`) {
		v = v[1:]
		return v[:strings.IndexByte(v, '"')]
	}
	if j := strings.IndexByte(v, ','); j >= 0 {
		v = v[:j]
	}
	return v
}

// partPos parses the MSN and index out of a part URI ("…_partM.I.m4s").
func partPos(t *testing.T, uri string) (uint64, int) {
	t.Helper()
	var msn uint64
	var idx int
	name := uri[strings.LastIndex(uri, "_part")+len("_part"):]
	_, err := fmt.Sscanf(name, "%d.%d.m4s", &msn, &idx)
	require.NoError(t, err, uri)
	return msn, idx
}

func parseLL(t *testing.T, body string) llPlaylist {
	t.Helper()
	pl := llPlaylist{raw: body}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	require.Equal(t, "#EXTM3U", lines[0])
	msn := uint64(0)
	var extinf float64 = -1
	for _, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, "#EXT-X-TARGETDURATION:"):
			fmt.Sscanf(l, "#EXT-X-TARGETDURATION:%g", &pl.target)
		case strings.HasPrefix(l, "#EXT-X-PART-INF:"):
			fmt.Sscanf(attr(l, "PART-TARGET"), "%g", &pl.partTarget)
		case strings.HasPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"):
			fmt.Sscanf(l, "#EXT-X-MEDIA-SEQUENCE:%d", &pl.mediaSeq)
			msn = pl.mediaSeq
		case strings.HasPrefix(l, "#EXT-X-SKIP:"):
			var n uint64
			fmt.Sscanf(attr(l, "SKIPPED-SEGMENTS"), "%d", &n)
			msn += n
		case strings.HasPrefix(l, "#EXT-X-MAP:"):
			pl.mapURIs = append(pl.mapURIs, attr(l, "URI"))
		case strings.HasPrefix(l, "#EXT-X-PART:"):
			p := llPart{uri: attr(l, "URI")}
			fmt.Sscanf(attr(l, "DURATION"), "%g", &p.duration)
			p.msn, p.index = partPos(t, p.uri)
			require.Equal(t, msn, p.msn, "part %s listed under segment %d", p.uri, msn)
			pl.parts = append(pl.parts, p)
		case strings.HasPrefix(l, "#EXTINF:"):
			fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ","), "%g", &extinf)
		case strings.HasPrefix(l, "#EXT-X-PRELOAD-HINT:"):
			require.Equal(t, "PART", attr(l, "TYPE"))
			pl.hint = attr(l, "URI")
		case !strings.HasPrefix(l, "#") && l != "":
			require.GreaterOrEqual(t, extinf, 0.0, "URI without EXTINF: %s", l)
			pl.segments = append(pl.segments, llSegment{msn: msn, duration: extinf, uri: l})
			msn++
			extinf = -1
		}
	}
	return pl
}

func TestHLSLowLatencyPlaylistChecker(t *testing.T) {
	s := testutil.StartSluice(t, []string{"SLUICE_HLS_VARIANT=lowlatency"})
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/t", testutil.PublishOptions{})
	waitForStream(t, s, "live/t")
	base := "http://" + s.HTTPAddr + "/live/"
	url := base + "t.m3u8"
	waitForPlaylist(t, url)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	get := func(u string) (int, http.Header, []byte, time.Duration) {
		start := time.Now()
		st, h, b := hlsGet(t, ctx, u)
		return st, h, b, time.Since(start)
	}
	served := map[string]bool{}
	serve := func(uri string) {
		if served[uri] {
			return
		}
		st, h, b, _ := get(base + uri)
		require.Equal(t, http.StatusOK, st, "GET %s: %s", uri, b)
		require.Equal(t, "video/mp4", h.Get("Content-Type"), uri)
		require.Equal(t, "*", h.Get("Access-Control-Allow-Origin"), uri)
		require.Contains(t, h.Get("Cache-Control"), "immutable", uri)
		require.NotEmpty(t, b, uri)
		served[uri] = true
	}

	type pos struct {
		msn uint64
		idx int
	}
	less := func(a, b pos) bool { return a.msn < b.msn || (a.msn == b.msn && a.idx < b.idx) }
	var (
		lastSeq   uint64
		lastPart  pos
		hints     = map[string]bool{}
		listed    = map[string]bool{}
		playlists int
	)
	deadline := time.Now().Add(11 * time.Second)
	reqURL := url
	for time.Now().Before(deadline) {
		st, h, body, _ := get(reqURL)
		require.Equal(t, http.StatusOK, st, "GET %s: %s", reqURL, body)
		require.Equal(t, "application/vnd.apple.mpegurl", h.Get("Content-Type"))
		require.Equal(t, "no-cache", h.Get("Cache-Control"))
		require.Equal(t, "*", h.Get("Access-Control-Allow-Origin"))
		pl := parseLL(t, string(body))
		playlists++
		require.Contains(t, pl.raw, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,")
		require.Contains(t, pl.raw, "PART-HOLD-BACK=")
		require.Contains(t, pl.raw, "CAN-SKIP-UNTIL=")
		require.Contains(t, pl.raw, "#EXT-X-PROGRAM-DATE-TIME:")
		require.Greater(t, pl.partTarget, 0.0)
		require.GreaterOrEqual(t, pl.mediaSeq, lastSeq, "media sequence went backwards")
		lastSeq = pl.mediaSeq
		for _, seg := range pl.segments {
			// RFC 8216bis §4.4.3.1: EXTINF rounded to the nearest integer
			// ≤ TARGETDURATION; our 2 s GOPs make them exactly 2 s.
			require.LessOrEqual(t, seg.duration, pl.target, "segment %s", seg.uri)
			serve(seg.uri)
		}
		prev := pos{}
		for i, p := range pl.parts {
			require.LessOrEqual(t, p.duration, pl.partTarget, "part %s", p.uri)
			cur := pos{p.msn, p.index}
			if i > 0 {
				require.True(t, less(prev, cur), "parts out of order: %v then %v", prev, cur)
				if cur.msn == prev.msn {
					require.Equal(t, prev.idx+1, cur.idx, "part numbering has a gap at %s", p.uri)
				} else {
					require.Equal(t, 0, cur.idx, "segment %d starts with part %d", cur.msn, cur.idx)
				}
			}
			prev = cur
			listed[p.uri] = true
			serve(p.uri)
		}
		for _, m := range pl.mapURIs {
			serve(m)
		}
		require.NotEmpty(t, pl.parts)
		require.False(t, less(prev, lastPart), "newest part went backwards: %v after %v", prev, lastPart)
		lastPart = prev
		require.NotEmpty(t, pl.hint)
		hm, hi := partPos(t, pl.hint)
		require.True(t, (hm == prev.msn && hi == prev.idx+1) || (hm == prev.msn+1 && hi == 0),
			"preload hint %s is not the part after %v", pl.hint, prev)
		hints[pl.hint] = true
		// Next: a blocking reload for the hinted part, as LL clients do.
		reqURL = fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", url, hm, hi)
	}
	require.GreaterOrEqual(t, playlists, 30, "about 5 parts per second over 10 s")
	// Every hinted part became a listed part (the last hint may still be
	// pending).
	missing := 0
	for h := range hints {
		if !listed[h] {
			missing++
		}
	}
	require.LessOrEqual(t, missing, 1, "preload hints that never became parts")
	t.Logf("checked %d playlists, %d URIs", playlists, len(served))

	// A blocking reload for a part two ahead returns when (and not before)
	// that part exists: about two part durations later, listing it. The
	// hinted part was still being written when the playlist was fetched,
	// so the one after it cannot be complete until at least a whole part
	// duration after that fetch began — timed from there, not from the
	// blocking request, which a loaded machine may send late.
	fetched := time.Now()
	_, _, body, _ := get(url)
	pl := parseLL(t, string(body))
	hm, hi := partPos(t, pl.hint)
	want := pos{hm, hi + 1}
	st, _, body, took := get(fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", url, want.msn, want.idx))
	require.Equal(t, http.StatusOK, st, string(body))
	pl = parseLL(t, string(body))
	var got []pos
	for _, p := range pl.parts {
		got = append(got, pos{p.msn, p.index})
	}
	last := got[len(got)-1]
	if last.msn == want.msn {
		require.Equal(t, want, last, "the response holds the requested part and nothing newer")
	} // else the segment ended early and the next one started: also "or later".
	sinceFetch := time.Since(fetched)
	require.GreaterOrEqual(t, sinceFetch, 150*time.Millisecond, "returned %s after the playlist fetch: before the part could exist", sinceFetch)
	require.Less(t, took, 6*time.Second)

	// The preload-hinted part request blocks until the part is published.
	_, _, body, _ = get(url)
	pl = parseLL(t, string(body))
	st, _, b, hintTook := get(base + pl.hint)
	require.Equal(t, http.StatusOK, st, string(b))
	require.NotEmpty(t, b)
	require.Less(t, hintTook, 2*time.Second)
	t.Logf("blocking reload two parts ahead took %s; hinted part took %s", took, hintTook)

	// Requests too far ahead or malformed are refused at once.
	for _, q := range []string{
		fmt.Sprintf("_HLS_msn=%d", hm+10), "_HLS_part=1", "_HLS_msn=x", "_HLS_msn=1&_HLS_skip=maybe",
	} {
		st, _, b, took := get(url + "?" + q)
		require.Equal(t, http.StatusBadRequest, st, "%s: %s", q, b)
		require.Less(t, took, time.Second, q)
	}
	// Delta update: EXT-X-SKIP once the window is longer than
	// CAN-SKIP-UNTIL (12 s of 14 s): not yet necessarily; at least valid.
	st, _, b, _ = get(url + "?_HLS_skip=YES")
	require.Equal(t, http.StatusOK, st)
	parseLL(t, string(b))
	// Unknown streams are 404 at once.
	st, _, _, took = get(base + "nope.m3u8")
	require.Equal(t, http.StatusNotFound, st)
	require.Less(t, took, time.Second)
}
