package record

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/storage"
)

// fakeStore keeps uploaded files in memory. The first failFirst puts
// fail; while block is open every put waits for it (or its context).
type fakeStore struct {
	failFirst int32
	block     chan struct{}

	attempts atomic.Int32
	mu       sync.Mutex
	objects  map[string][]byte
	metas    map[string]storage.Meta
}

func (s *fakeStore) PutFile(ctx context.Context, name, path string, meta storage.Meta) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.attempts.Add(1) <= s.failFirst {
		return errors.New("injected: store unavailable")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objects == nil {
		s.objects, s.metas = map[string][]byte{}, map[string]storage.Meta{}
	}
	s.objects[name], s.metas[name] = b, meta
	return nil
}

func (s *fakeStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects)
}

// recordThreeFiles records 6 s of live/a in 2 s files and waits until
// every file is closed. It returns the rig and the number of files: at
// least 3 (the recorder may cut an extra file where it joins the burst).
func recordThreeFiles(t *testing.T, opts Options) (*rig, int) {
	var closed atomic.Int32
	opts.PartDuration, opts.SegmentDuration = 500*time.Millisecond, 2*time.Second
	opts.OnSegment = func(Segment) { closed.Add(1) }
	opts.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRig(t, opts)
	video, audio := testTracks(t)
	p := r.publish(t, "live/a")
	feed(t, p, video, audio, 0, 150, 25)
	p.Kick("test over")
	require.Eventually(t, func() bool {
		if closed.Load() < 3 {
			return false
		}
		files, err := r.m.Catalog.Files("live/a")
		return err == nil && len(files) == int(closed.Load())
	}, 5*time.Second, 5*time.Millisecond, "expected ≥ 3 files, all closed")
	return r, int(closed.Load())
}

// testLog writes log lines to the test's log (shown when it fails).
type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func TestUploadRetriesFailedFiles(t *testing.T) {
	dir := t.TempDir()
	store := &fakeStore{failFirst: 2}
	r, n := recordThreeFiles(t, Options{Dir: dir, Store: store})
	// Two failures: back-offs of 1 s and 2 s before the last attempts.
	require.Eventually(t, func() bool { return store.count() == n }, 15*time.Second, 20*time.Millisecond,
		"expected 3 objects after the retries")

	files, err := r.m.Catalog.Files("live/a")
	require.NoError(t, err)
	require.Len(t, files, n, "the files stay on disk: %v", files)
	for _, f := range files {
		name := filepath.Join(dir, "live", "a", f)
		want, err := os.ReadFile(name)
		require.NoError(t, err)
		store.mu.Lock()
		got, meta := store.objects["recordings/live/a/"+f], store.metas["recordings/live/a/"+f]
		store.mu.Unlock()
		require.Equal(t, want, got, "object of %s holds the file", f)
		require.Equal(t, "video/mp4", meta.ContentType)
		require.FileExists(t, name+uploadedSuffix, "the marker of an uploaded file")
	}
	s := r.m.UploadStats()
	require.Equal(t, UploadStats{OK: uint64(n), Failed: 2, Queued: 0}, s)

	// A restart finds every file marked: nothing is uploaded again.
	again := &fakeStore{}
	m2 := New(r.h, Options{Dir: dir, Store: again, Logger: quiet, Enabled: func(string) bool { return false }})
	m2.up.scan()
	m2.Close(time.Second)
	require.Equal(t, int32(0), again.attempts.Load(), "marked files are not uploaded again")
}

func TestUploadNeverBlocksRecordingAndDeletesLocal(t *testing.T) {
	dir := t.TempDir()
	store := &fakeStore{block: make(chan struct{})}
	// recordThreeFiles returns once the files are closed: the recorder
	// did not wait for the stalled store.
	r, n := recordThreeFiles(t, Options{Dir: dir, Store: store, DeleteLocalAfterUpload: true})
	require.Equal(t, n, r.m.UploadStats().Queued, "the files wait for the store")
	files, err := r.m.Catalog.Files("live/a")
	require.NoError(t, err)
	require.Len(t, files, n, "kept until uploaded")

	close(store.block)
	require.Eventually(t, func() bool { return store.count() == n }, 5*time.Second, 20*time.Millisecond,
		"expected 3 objects")
	require.Eventually(t, func() bool {
		files, _ = r.m.Catalog.Files("live/a")
		return len(files) == 0
	}, 5*time.Second, 20*time.Millisecond, "expected the local files deleted after upload")
	ents, err := os.ReadDir(filepath.Join(dir, "live", "a"))
	require.NoError(t, err)
	require.Empty(t, ents, "no file nor marker left")
}

// TestRetentionKeepsFilesNotUploaded: with record.upload, retention never
// deletes the only copy of a file the store has not taken yet (store
// down); once a file is uploaded, retention deletes it as before.
func TestRetentionKeepsFilesNotUploaded(t *testing.T) {
	dir := t.TempDir()
	store := &fakeStore{failFirst: 1 << 30} // the store is down for good
	r, n := recordThreeFiles(t, Options{Dir: dir, Store: store, DeleteAfter: time.Millisecond})
	time.Sleep(10 * time.Millisecond) // every file is past DeleteAfter
	require.Zero(t, r.m.Sweep(), "nothing is deleted before it is uploaded")
	files, err := r.m.Catalog.Files("live/a")
	require.NoError(t, err)
	require.Len(t, files, n, "the files stay while the store is down")

	// One file got uploaded (its marker): that one goes.
	name := filepath.Join(dir, "live", "a", files[0])
	require.NoError(t, os.WriteFile(name+uploadedSuffix, nil, 0o644))
	require.Equal(t, 1, r.m.Sweep())
	require.NoFileExists(t, name)
	require.NoFileExists(t, name+uploadedSuffix)
	files, err = r.m.Catalog.Files("live/a")
	require.NoError(t, err)
	require.Len(t, files, n-1)
}
