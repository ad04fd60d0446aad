package hls

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/relay"
)

const (
	playlistA = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:1,\na.ts\n"
	playlistB = playlistA + "#EXTINF:1,\nb.ts\n"
)

// serve answers playlist requests with body(n) for the n-th request (from 1).
func serve(t *testing.T, body func(n int64) string) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body(n.Add(1)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/index.m3u8", &n
}

func get(t *testing.T, tr *transport, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func newTransport() *transport {
	return &transport{base: http.DefaultTransport, stats: &relay.Stats{}, last: make(map[string][32]byte)}
}

// A reload that finds the playlist unchanged waits and fetches again until
// the next segment is listed.
func TestReloadWaitsForNewSegment(t *testing.T) {
	url, n := serve(t, func(n int64) string {
		if n < 4 {
			return playlistA
		}
		return playlistB
	})
	tr := newTransport()
	if got := get(t, tr, url); got != playlistA {
		t.Fatalf("first fetch: %q", got)
	}
	start := time.Now()
	if got := get(t, tr, url); got != playlistB {
		t.Fatalf("reload returned %q, want the playlist with the new segment", got)
	}
	if n.Load() != 4 || time.Since(start) < 2*reloadStep {
		t.Errorf("reload took %d requests in %v, want 3 requests ≥ %v apart", n.Load()-1, time.Since(start), reloadStep)
	}
	if tr.stats.Bytes.Load() != uint64(3*len(playlistA)+len(playlistB)) {
		t.Errorf("counted %d bytes, want every body fetched", tr.stats.Bytes.Load())
	}
}

// A playlist that stays unchanged is returned as it is after 1.5 target
// durations (gohlslib then reports the stall); one that has ended at once.
func TestReloadGivesUpOnStalledPlaylist(t *testing.T) {
	url, _ := serve(t, func(int64) string { return playlistA })
	tr := newTransport()
	get(t, tr, url)
	start := time.Now()
	if got := get(t, tr, url); got != playlistA {
		t.Fatalf("stalled reload: %q", got)
	}
	if d := time.Since(start); d < 1400*time.Millisecond || d > 3*time.Second {
		t.Errorf("stalled reload returned after %v, want about 1.5 s (1.5 × target duration 1)", d)
	}

	ended := playlistA + "#EXT-X-ENDLIST\n"
	url, _ = serve(t, func(int64) string { return ended })
	get(t, tr, url)
	start = time.Now()
	get(t, tr, url)
	if d := time.Since(start); d > reloadStep {
		t.Errorf("ended playlist reload waited %v", d)
	}
}

func TestStallWait(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"#EXT-X-TARGETDURATION:2\n":    3 * time.Second,
		"#EXT-X-TARGETDURATION: 4\r\n": 6 * time.Second,
		"#EXT-X-TARGETDURATION:x\n":    3 * time.Second,
		"#EXT-X-TARGETDURATION:1e9\n":  30 * time.Second,
		"":                             3 * time.Second,
	} {
		if got := stallWait([]byte(in)); got != want {
			t.Errorf("stallWait(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzStallWait: the target duration comes from the remote playlist.
func FuzzStallWait(f *testing.F) {
	f.Add([]byte(playlistA))
	f.Add([]byte("#EXT-X-TARGETDURATION:-1\n"))
	f.Add([]byte("#EXT-X-TARGETDURATION:NaN"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d := stallWait(b); d <= 0 || d > 30*time.Second {
			t.Fatalf("stallWait = %v, want within (0, 30s]", d)
		}
	})
}
