package storage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

func TestS3PutListDelete(t *testing.T) {
	srv := testutil.StartS3(t)
	s, err := NewS3(S3Options{Endpoint: srv.Endpoint, Bucket: srv.Bucket, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Prefix: "p/", Insecure: true})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, "live/a/x.m3u8", []byte("#EXTM3U\n"), Meta{ContentType: "application/vnd.apple.mpegurl", CacheControl: "max-age=1"}))
	require.NoError(t, s.Put(ctx, "live/a/1.ts", []byte("seg"), Meta{ContentType: "video/mp2t"}))
	names, err := s.List(ctx, "live/a/", 100)
	require.NoError(t, err)
	sort.Strings(names)
	require.Equal(t, []string{"live/a/1.ts", "live/a/x.m3u8"}, names)

	// Anonymous HTTP read, as a CDN origin fetch.
	resp, err := http.Get(srv.URL("p/live/a/x.m3u8"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Equal(t, "#EXTM3U\n", string(body))
	require.Equal(t, "max-age=1", resp.Header.Get("Cache-Control"))

	require.NoError(t, s.Delete(ctx, "live/a/1.ts"))
	require.NoError(t, s.Delete(ctx, "live/a/missing.ts"), "deleting a missing object is no error")
	names, err = s.List(ctx, "live/a/", 100)
	require.NoError(t, err)
	require.Equal(t, []string{"live/a/x.m3u8"}, names)
}

// flakyStore is a hand fake: it records operations and fails or stalls on
// demand.
type flakyStore struct {
	mu      sync.Mutex
	ops     []string
	failN   int           // fail the next failN calls
	stall   chan struct{} // when set, calls block until it is closed
	entered chan struct{}
}

func (f *flakyStore) do(name string) error {
	f.mu.Lock()
	stall, entered := f.stall, f.entered
	f.mu.Unlock()
	if stall != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-stall
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failN > 0 {
		f.failN--
		return errors.New("injected failure")
	}
	f.ops = append(f.ops, name)
	return nil
}

func (f *flakyStore) Put(_ context.Context, name string, _ []byte, _ Meta) error {
	return f.do("put " + name)
}
func (f *flakyStore) Delete(_ context.Context, name string) error         { return f.do("del " + name) }
func (f *flakyStore) List(context.Context, string, int) ([]string, error) { return nil, nil }

func (f *flakyStore) done() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestUploaderOrderRetryAndCoalesce(t *testing.T) {
	st := &flakyStore{failN: 2}
	u := NewUploader(st, UploaderOptions{Backoff: time.Millisecond, Logger: quiet()})
	defer u.Close()
	u.Put("seg1", nil, Meta{})
	u.Put("index.m3u8", []byte("1"), Meta{})
	u.Put("seg2", nil, Meta{})
	u.Put("index.m3u8", []byte("2"), Meta{})
	u.Delete("seg0")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.Eventually(t, func() bool { return len(st.done()) >= 4 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, u.Flush(ctx))
	got := st.done()
	// The first playlist may have gone out before the second was queued;
	// either way every segment precedes the playlist version naming it.
	if len(got) == 4 {
		require.Equal(t, []string{"put seg1", "put seg2", "put index.m3u8", "del seg0"}, got)
	} else {
		require.Equal(t, []string{"put seg1", "put index.m3u8", "put seg2", "put index.m3u8", "del seg0"}, got)
	}
	s := u.Stats()
	require.Equal(t, uint64(2), s.Retries, "two injected failures, retried")
	require.Zero(t, s.Failed)
}

func TestUploaderSlowStoreDropsOldestNeverBlocks(t *testing.T) {
	st := &flakyStore{stall: make(chan struct{}), entered: make(chan struct{}, 1)}
	u := NewUploader(st, UploaderOptions{MaxQueue: 16, Logger: quiet()})
	defer u.Close()
	u.Put("first", nil, Meta{})
	<-st.entered // the worker is stuck in the store
	start := time.Now()
	for i := 0; i < 1000; i++ {
		u.Put("seg"+string(rune('a'+i%26))+string(rune('a'+i/26)), nil, Meta{})
	}
	require.Less(t, time.Since(start), time.Second, "queueing must not wait for the store")
	s := u.Stats()
	require.Equal(t, 16, s.Queued)
	require.Equal(t, uint64(1000-16), s.Dropped)
	close(st.stall)
	st.mu.Lock()
	st.stall = nil
	st.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, u.Flush(ctx))
	require.Eventually(t, func() bool { return u.Stats().OK == 17 }, 5*time.Second, 5*time.Millisecond)
}

func TestUploaderGivesUpAfterAttempts(t *testing.T) {
	st := &flakyStore{failN: 100}
	u := NewUploader(st, UploaderOptions{Attempts: 3, Backoff: time.Millisecond, Logger: quiet()})
	defer u.Close()
	u.Put("x", nil, Meta{})
	require.Eventually(t, func() bool { return u.Stats().Failed == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(2), u.Stats().Retries)
}
