package record

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/storage"
)

// FileStore is where closed recordings are uploaded (*storage.S3).
type FileStore interface {
	// PutFile stores the local file path under name; the object must
	// appear only once complete (S3 PutObject does).
	PutFile(ctx context.Context, name, path string, meta storage.Meta) error
}

// uploadedSuffix names the marker written next to a file once it is
// uploaded (FILE.mp4.uploaded, empty): "uploaded" is known locally,
// without asking the store, and survives restarts. A crash between the
// upload and the marker only uploads the file again (a put replaces).
const uploadedSuffix = ".uploaded"

// uploadBackoff is the wait after a failed upload before the next
// attempt, doubled after each further failure up to Options.UploadRetry:
// a failing store is not hammered, and a recovered one is soon used again.
const uploadBackoff = time.Second

// uploadStopWait bounds how long Close lets queued uploads finish; what
// is left is uploaded at the next start.
const uploadStopWait = time.Second

// recordingMeta is the metadata of an uploaded recording: it never
// changes once closed.
var recordingMeta = storage.Meta{ContentType: "video/mp4", CacheControl: "max-age=86400, immutable"}

// ObjectName is the object name (under the store's prefix) of a
// recording file of path: recordings/APP/NAME/FILE.mp4.
func ObjectName(path, file string) string { return "recordings/" + path + "/" + file }

// UploadStats are the upload counters.
type UploadStats struct {
	// OK and Failed count upload attempts (sluice_record_uploads_total).
	OK, Failed uint64
	// Queued counts files waiting or being uploaded
	// (sluice_record_upload_queue).
	Queued int
}

// uploader uploads closed files to a FileStore, one at a time in one
// worker goroutine (recordings do not take the link from the live HLS
// uploads). Files are queued when they close, and a scan at start and
// every Options.UploadRetry queues every closed file without a marker
// (files of an earlier run, files left out of a full queue). Nothing
// blocks a recorder: queueing is a slice append under a mutex, and a full
// queue leaves the file for the next scan. A failed upload leaves the file
// on disk and puts it back at the end of the queue; the worker then waits
// a back-off before its next attempt.
type uploader struct {
	m     *Manager
	store FileStore

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}

	mu     sync.Mutex
	queue  []string        // files to upload, oldest first
	known  map[string]bool // queued or being uploaded
	closed bool

	ok, failed atomic.Uint64
}

func newUploader(m *Manager) *uploader {
	u := &uploader{m: m, store: m.opts.Store, wake: make(chan struct{}, 1), known: map[string]bool{}}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.wg.Add(2)
	go u.work()
	go u.scanLoop()
	return u
}

// enqueue queues a closed file unless it is already queued; a full queue
// leaves it to the next scan.
func (u *uploader) enqueue(name string) {
	u.mu.Lock()
	if u.closed || u.known[name] {
		u.mu.Unlock()
		return
	}
	if len(u.queue) >= u.m.opts.UploadQueue {
		u.mu.Unlock()
		u.m.opts.Logger.Debug("recording upload queue full; the file waits for the next scan", "proto", "record", "file", name)
		return
	}
	u.queue = append(u.queue, name)
	u.known[name] = true
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest queued file.
func (u *uploader) next() (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.queue) == 0 {
		return "", false
	}
	name := u.queue[0]
	u.queue = u.queue[1:]
	return name, true
}

func (u *uploader) work() {
	defer u.wg.Done()
	wait := uploadBackoff
	for {
		name, ok := u.next()
		if !ok {
			select {
			case <-u.wake:
				continue
			case <-u.ctx.Done():
				return
			}
		}
		if u.upload(name) {
			wait = uploadBackoff
			u.mu.Lock()
			delete(u.known, name)
			u.mu.Unlock()
			continue
		}
		// Back at the end of the queue (it stays known, so a scan does
		// not queue it twice): other files get their turn, and the
		// store its rest.
		u.mu.Lock()
		u.queue = append(u.queue, name)
		u.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-u.ctx.Done():
			return
		}
		wait = min(2*wait, max(u.m.opts.UploadRetry, uploadBackoff))
	}
}

// upload sends one file; on success it writes the marker or, with
// DeleteLocalAfterUpload, removes the file. It reports false when the
// upload failed and is to be tried again (the file stays on disk); a
// file gone meanwhile (retention) or being written is done with.
func (u *uploader) upload(name string) bool {
	log := u.m.opts.Logger
	st, err := os.Stat(name)
	if err != nil || u.m.isOpen(name) {
		return true // deleted meanwhile (retention), or being written
	}
	if u.ctx.Err() != nil {
		return false
	}
	path, file, ok := u.m.pathOf(name)
	if !ok {
		return true
	}
	// At least 1 MiB/s: a stalled connection does not hold a worker.
	timeout := time.Minute + time.Duration(st.Size()>>20)*time.Second
	ctx, cancel := context.WithTimeout(u.ctx, timeout)
	err = u.store.PutFile(ctx, ObjectName(path, file), name, recordingMeta)
	cancel()
	if err != nil {
		u.failed.Add(1)
		if u.ctx.Err() == nil {
			log.Warn("recording upload failed; the file stays on disk and is retried", "proto", "record", "path", path,
				"file", name, "err", err.Error())
		}
		return false
	}
	u.ok.Add(1)
	if u.m.opts.DeleteLocalAfterUpload {
		err = os.Remove(name)
		u.m.Catalog.Invalidate(name)
		_ = os.Remove(name + uploadedSuffix)
	} else {
		err = os.WriteFile(name+uploadedSuffix, nil, 0o644)
	}
	if err != nil {
		// The next scan uploads it again, which replaces the object.
		log.Warn("recording uploaded, but marking it so failed", "proto", "record", "path", path, "file", name, "err", err.Error())
		return true
	}
	log.Info("recording uploaded", "proto", "record", "path", path, "file", name, "bytes", st.Size(),
		"deleted_local", u.m.opts.DeleteLocalAfterUpload)
	return true
}

func (u *uploader) scanLoop() {
	defer u.wg.Done()
	u.scan()
	t := time.NewTicker(u.m.opts.UploadRetry)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-t.C:
			u.scan()
		}
	}
}

// scan queues every closed file without a marker, oldest first per path,
// and removes markers whose file is gone.
func (u *uploader) scan() {
	paths, err := u.m.Catalog.Paths()
	if err != nil {
		u.m.opts.Logger.Warn("recording upload: cannot list", "proto", "record", "err", err.Error())
		return
	}
	for _, p := range paths {
		dir := u.m.dirOf(p)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		names := map[string]bool{}
		for _, e := range ents {
			names[e.Name()] = true
		}
		for _, e := range ents { // sorted by name, so by time
			n := e.Name()
			if base, ok := strings.CutSuffix(n, uploadedSuffix); ok && ValidFileName(base) && !names[base] {
				_ = os.Remove(filepath.Join(dir, n))
				continue
			}
			if !e.Type().IsRegular() || !ValidFileName(n) || names[n+uploadedSuffix] {
				continue
			}
			if name := filepath.Join(dir, n); !u.m.isOpen(name) {
				u.enqueue(name)
			}
		}
		if u.ctx.Err() != nil {
			return
		}
	}
}

func (u *uploader) stats() UploadStats {
	u.mu.Lock()
	n := len(u.known)
	u.mu.Unlock()
	return UploadStats{OK: u.ok.Load(), Failed: u.failed.Load(), Queued: n}
}

// close lets the queued uploads finish within wait, then cancels the
// one under way (no partial object is left) and stops.
func (u *uploader) close(wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		u.mu.Lock()
		idle := len(u.known) == 0
		u.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.cancel()
	u.wg.Wait()
}

// pathOf splits a file under Dir into its stream path and file name.
func (m *Manager) pathOf(name string) (path, file string, ok bool) {
	rel, err := filepath.Rel(m.opts.Dir, name)
	if err != nil {
		return "", "", false
	}
	rel = filepath.ToSlash(rel)
	i := strings.LastIndexByte(rel, '/')
	if i < 0 || strings.HasPrefix(rel, "../") {
		return "", "", false
	}
	return rel[:i], rel[i+1:], true
}

// UploadStats returns the upload counters; zero without Options.Store.
func (m *Manager) UploadStats() UploadStats {
	if m.up == nil {
		return UploadStats{}
	}
	return m.up.stats()
}
