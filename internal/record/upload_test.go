package record

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/storage"
)

// memStore keeps uploaded files in memory; fail makes every put fail,
// block makes puts wait for their context.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	fail    atomic.Bool
	block   atomic.Bool
	puts    atomic.Int64
}

func newMemStore() *memStore { return &memStore{objects: map[string][]byte{}} }

func (s *memStore) PutFile(ctx context.Context, name, path string, _ storage.Meta) error {
	s.puts.Add(1)
	if s.block.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if s.fail.Load() {
		return errors.New("store down")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.objects[name] = b
	s.mu.Unlock()
	return nil
}

func (s *memStore) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.objects {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *memStore) get(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects[name]
}

// recordFiles publishes 6 s at path in 2 s files and ends the stream.
func recordFiles(t *testing.T, r *rig, path string) {
	video, audio := testTracks(t)
	p := r.publish(t, path)
	feed(t, p, video, audio, 0, 150, 25)
	p.Kick("test over")
}

func TestUploadClosedFiles(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	r := newRig(t, Options{Dir: dir, SegmentDuration: 2 * time.Second, Store: store})
	recordFiles(t, r, "live/a")
	require.Eventually(t, func() bool { return len(store.names()) == 3 }, 5*time.Second, 10*time.Millisecond,
		"3 closed files uploaded, got %v", store.names())
	files, err := r.m.Catalog.Files("live/a")
	require.NoError(t, err)
	require.Len(t, files, 3, "kept locally without DeleteLocalAfterUpload")
	for _, f := range files {
		local, err := os.ReadFile(filepath.Join(dir, "live", "a", f))
		require.NoError(t, err)
		require.Equal(t, local, store.get("recordings/live/a/"+f), "object of %s", f)
		require.FileExists(t, filepath.Join(dir, "live", "a", f+uploadedSuffix), "marker of an uploaded file")
	}
	require.Eventually(t, func() bool { return r.m.UploadStats().Queued == 0 }, 2*time.Second, 10*time.Millisecond)
	require.Equal(t, UploadStats{OK: 3}, r.m.UploadStats())
	// A later scan finds nothing to do: the markers say uploaded.
	r.m.up.scan()
	require.Eventually(t, func() bool { return r.m.UploadStats().Queued == 0 }, 2*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 3, store.puts.Load(), "each file uploaded once")
	// The catalog lists recordings only, not markers.
	recs, err := r.m.Catalog.List("live/a")
	require.NoError(t, err)
	require.Len(t, recs, 3)
}

func TestUploadDeletesLocalAfterUpload(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	r := newRig(t, Options{Dir: dir, SegmentDuration: 2 * time.Second, Store: store, DeleteLocalAfterUpload: true})
	recordFiles(t, r, "live/d")
	require.Eventually(t, func() bool {
		files, _ := r.m.Catalog.Files("live/d")
		return len(store.names()) == 3 && len(files) == 0
	}, 5*time.Second, 10*time.Millisecond, "uploaded, then deleted locally")
	ents, err := os.ReadDir(filepath.Join(dir, "live", "d"))
	require.NoError(t, err)
	require.Empty(t, ents, "no file or marker left")
}

func TestUploadFailureRetried(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	store.fail.Store(true)
	r := newRig(t, Options{Dir: dir, SegmentDuration: 2 * time.Second, Store: store, DeleteLocalAfterUpload: true,
		UploadRetry: 100 * time.Millisecond})
	recordFiles(t, r, "live/f")
	require.Eventually(t, func() bool { return r.m.UploadStats().Failed >= 4 }, 10*time.Second, 10*time.Millisecond,
		"each of the 3 files failed, and was tried again")
	files, err := r.m.Catalog.Files("live/f")
	require.NoError(t, err)
	require.Len(t, files, 3, "a file whose upload failed stays on disk")
	store.fail.Store(false)
	require.Eventually(t, func() bool {
		files, _ := r.m.Catalog.Files("live/f")
		return len(store.names()) == 3 && len(files) == 0
	}, 5*time.Second, 10*time.Millisecond, "uploaded once the store is back, got %v", store.names())
	require.EqualValues(t, 3, r.m.UploadStats().OK)
}

func TestUploadStartupScan(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "live", "s")
	require.NoError(t, os.MkdirAll(d, 0o755))
	mk := func(name string, data string) string {
		p := filepath.Join(d, name)
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
		return p
	}
	// An earlier run: one file uploaded (marker), one not (a crash or a
	// store down), one marker whose file was deleted, a foreign file.
	mk("2026-12-02T10-00-00.000Z.mp4", "done")
	mk("2026-12-02T10-00-00.000Z.mp4"+uploadedSuffix, "")
	mk("2026-12-02T11-00-00.000Z.mp4", "pending")
	orphan := mk("2026-12-02T09-00-00.000Z.mp4"+uploadedSuffix, "")
	mk("notes.txt", "x")
	store := newMemStore()
	m := New(nil, Options{Dir: dir, Logger: quiet, Store: store})
	defer m.Close(0)
	require.Eventually(t, func() bool { return len(store.names()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"recordings/live/s/2026-12-02T11-00-00.000Z.mp4"}, store.names(),
		"only the closed file not yet uploaded")
	require.Equal(t, "pending", string(store.get("recordings/live/s/2026-12-02T11-00-00.000Z.mp4")))
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(d, "2026-12-02T11-00-00.000Z.mp4"+uploadedSuffix))
		return err == nil
	}, 2*time.Second, 10*time.Millisecond, "marked once uploaded")
	require.NoFileExists(t, orphan, "a marker without its file is removed")
}

func TestUploadSlowStoreNeverBlocksRecording(t *testing.T) {
	dir := t.TempDir()
	store := newMemStore()
	store.block.Store(true)
	r := newRig(t, Options{Dir: dir, SegmentDuration: time.Second, Store: store, UploadQueue: 2})
	video, audio := testTracks(t)
	p := r.publish(t, "live/slow")
	done := make(chan struct{})
	go func() {
		defer close(done)
		feed(t, p, video, audio, 0, 250, 25) // 10 s in 1 s files
		p.Kick("test over")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher was blocked by a store that never answers")
	}
	require.Eventually(t, func() bool { files, _ := r.m.Catalog.Files("live/slow"); return len(files) == 10 },
		5*time.Second, 10*time.Millisecond, "every file written")
	s := r.m.UploadStats()
	require.LessOrEqual(t, s.Queued, 2, "queue bounded, got %+v", s)
	start := time.Now()
	r.h.Close()
	r.m.Close(time.Second)
	require.Less(t, time.Since(start), 3*time.Second, "close gives up on a stuck store")
	files, _ := r.m.Catalog.Files("live/slow")
	require.Len(t, files, 10, "nothing dropped: the files wait on disk")
}
