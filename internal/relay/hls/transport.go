package hls

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/relay"
)

// Bounds of the playlist reload wait (see transport).
const (
	// maxPlaylistSize bounds a playlist body read into memory (gohlslib's
	// own bound is 1 MiB too).
	maxPlaylistSize = 1 << 20
	// reloadStep is how long the transport waits before fetching an
	// unchanged playlist again.
	reloadStep = 250 * time.Millisecond
	// maxRemembered bounds the playlists whose last body is remembered
	// (one per rendition in use).
	maxRemembered = 16
)

// transport is the HTTP round tripper of a pull: it adds every body byte
// to stats.Bytes, and it makes playlist reloads wait for news. gohlslib
// reloads a live media playlist right after fetching a segment and fails
// ("next segment not found") when the next segment is not listed yet,
// which happens whenever a source publishes a little slower than real
// time (an encoder under load, a drifting clock). So a playlist whose
// body is identical to the previous fetch of the same URL is fetched
// again every reloadStep, for up to 1.5 target durations (RFC 8216 §6.3.4
// has clients wait that long before calling a playlist stalled); only
// then is the unchanged playlist returned.
type transport struct {
	base  http.RoundTripper
	stats *relay.Stats

	mu   sync.Mutex
	last map[string][32]byte // URL → SHA-256 of its last body
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || !strings.HasSuffix(strings.ToLower(r.URL.Path), ".m3u8") {
		return t.counted(t.base.RoundTrip(r))
	}
	key := r.URL.String()
	deadline := time.Time{}
	for {
		res, body, err := t.fetch(r)
		if err != nil || res.StatusCode != http.StatusOK {
			return res, err
		}
		sum := sha256.Sum256(body)
		t.mu.Lock()
		prev, seen := t.last[key]
		t.mu.Unlock()
		if deadline.IsZero() {
			deadline = time.Now().Add(stallWait(body))
		}
		if !seen || prev != sum || bytes.Contains(body, []byte("#EXT-X-ENDLIST")) || time.Now().After(deadline) {
			t.remember(key, sum)
			res.Body = io.NopCloser(bytes.NewReader(body))
			return res, nil
		}
		select {
		case <-r.Context().Done():
			return nil, r.Context().Err()
		case <-time.After(reloadStep):
		}
	}
}

// fetch does one request and reads its body (bounded).
func (t *transport) fetch(r *http.Request) (*http.Response, []byte, error) {
	res, err := t.base.RoundTrip(r.Clone(r.Context()))
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != http.StatusOK {
		res, err = t.counted(res, nil)
		return res, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxPlaylistSize+1))
	t.stats.Bytes.Add(uint64(len(body)))
	if err != nil {
		return nil, nil, fmt.Errorf("read playlist: %w", err)
	}
	if len(body) > maxPlaylistSize {
		return nil, nil, fmt.Errorf("playlist exceeds %d bytes", maxPlaylistSize)
	}
	return res, body, nil
}

func (t *transport) remember(key string, sum [32]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.last[key]; !ok && len(t.last) >= maxRemembered {
		for k := range t.last { // drop any one: a rendition no longer used
			delete(t.last, k)
			break
		}
	}
	t.last[key] = sum
}

// stallWait is 1.5 × the playlist's #EXT-X-TARGETDURATION (RFC 8216
// §4.3.3.1), 3 s when it has none, at most 30 s.
func stallWait(body []byte) time.Duration {
	const tag = "#EXT-X-TARGETDURATION:"
	i := bytes.Index(body, []byte(tag))
	if i < 0 {
		return 3 * time.Second
	}
	v := body[i+len(tag):]
	if j := bytes.IndexAny(v, "\r\n"); j >= 0 {
		v = v[:j]
	}
	sec, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
	switch {
	case err != nil || !(sec > 0): // NaN too
		return 3 * time.Second
	case sec >= 20:
		return 30 * time.Second
	}
	return time.Duration(sec * 1.5 * float64(time.Second))
}

// counted wraps a response body so its bytes add to stats.Bytes.
func (t *transport) counted(res *http.Response, err error) (*http.Response, error) {
	if err == nil && res != nil && res.Body != nil {
		res.Body = &countingBody{rc: res.Body, stats: t.stats}
	}
	return res, err
}

type countingBody struct {
	rc    io.ReadCloser
	stats *relay.Stats
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.stats.Bytes.Add(uint64(n))
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
