package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/packager"
	dashserver "github.com/sluicemedia/sluice/internal/server/dash"
	hlsserver "github.com/sluicemedia/sluice/internal/server/hls"
	"github.com/sluicemedia/sluice/internal/storage"
)

// Object metadata: media names carry the packager session and sequence
// number, so media never changes once stored and a CDN may cache it for
// long; a playlist changes every segment.
var (
	playlistMeta = storage.Meta{ContentType: "application/vnd.apple.mpegurl", CacheControl: "max-age=1"}
	initMeta     = storage.Meta{ContentType: "video/mp4", CacheControl: "max-age=86400, immutable"}
	fmp4Meta     = storage.Meta{ContentType: "video/iso.segment", CacheControl: "max-age=86400, immutable"}
	tsMeta       = storage.Meta{ContentType: "video/mp2t", CacheControl: "max-age=86400, immutable"}
)

// storedPlaylistName is the object name of a stream's playlist under its
// path: PREFIX + APP/NAME/index.m3u8; storedMPDName its DASH MPD's (fMP4
// variants only: DASH media are per-track fMP4).
const (
	storedPlaylistName = "index.m3u8"
	storedMPDName      = "manifest.mpd"
)

var mpdMeta = storage.Meta{ContentType: "application/dash+xml", CacheControl: "max-age=1"}

// keepBehind is how many segments that left the playlist stay stored, for
// viewers (and CDN caches) holding a playlist one or two versions old.
const keepBehind = 2

// hlsUploads mirrors the HLS of every path with hls.upload to object
// storage: one follower per stream holds a packager (like a viewer) and
// queues, per completed segment, the init section if new, the segment,
// then the playlist naming it, and deletes of segments that left the
// window. The live path never waits: the Uploader's queue is bounded.
type hlsUploads struct {
	cfg    *config.Config
	pm     *packager.Manager
	up     *storage.Uploader
	format packager.Format
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	active map[string]bool // paths with a follower
	again  map[string]bool // a new stream started while the old follower ran
}

// newUploads builds the uploads from storage.*, or nil without
// storage.s3.endpoint.
func newUploads(cfg *config.Config, pm *packager.Manager, log *slog.Logger) (*hlsUploads, error) {
	s3 := cfg.Storage.S3
	if s3.Endpoint == "" {
		return nil, nil
	}
	store, err := storage.NewS3(storage.S3Options{Endpoint: s3.Endpoint, Bucket: s3.Bucket, Region: s3.Region,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Prefix: s3.Prefix, Insecure: s3.Insecure})
	if err != nil {
		return nil, err
	}
	log = log.With("component", "upload")
	// Classic playlists only: LL-HLS blocking reloads and parts cannot be
	// served from a bucket; lowlatency uploads its fMP4 segments.
	format := packager.FormatFMP4
	if cfg.HLS.Variant == config.HLSMPEGTS {
		format = packager.FormatMPEGTS
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &hlsUploads{cfg: cfg, pm: pm, format: format, log: log, ctx: ctx, cancel: cancel,
		up:     storage.NewUploader(store, storage.UploaderOptions{MaxQueue: cfg.Storage.MaxQueue, Logger: log}),
		active: map[string]bool{}, again: map[string]bool{}}, nil
}

// StreamStarted starts mirroring path if its settings say hls.upload.
func (u *hlsUploads) StreamStarted(path string) {
	if u == nil || !u.cfg.PathSettings(path).HLS.Upload {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ctx.Err() != nil {
		return
	}
	if u.active[path] {
		u.again[path] = true
		return
	}
	u.active[path] = true
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			u.follow(path)
			u.mu.Lock()
			if u.again[path] && u.ctx.Err() == nil {
				delete(u.again, path)
				u.mu.Unlock()
				continue
			}
			delete(u.active, path)
			u.mu.Unlock()
			return
		}
	}()
}

// acquire gets path's packager, waiting up to 10 s for the stream to
// announce its tracks.
func (u *hlsUploads) acquire(path string) (*packager.Packager, func(), error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, release, err := u.pm.Acquire(u.ctx, path, u.format)
		if err == nil || errors.Is(err, packager.ErrUnsupportedCodec) || time.Now().After(deadline) || u.ctx.Err() != nil {
			return p, release, err
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-u.ctx.Done():
		}
	}
}

// follow mirrors one packager session of path until it ends.
func (u *hlsUploads) follow(path string) {
	p, release, err := u.acquire(path)
	if err != nil {
		u.log.Warn("hls upload not started", "path", path, "error", err)
		return
	}
	defer release()
	log := u.log.With("path", path, "session", p.SessionID())
	log.Info("hls upload started")
	base := path + "/"
	ts := u.format == packager.FormatMPEGTS
	inits := map[int]bool{}
	stored := map[uint64][]string{} // segment objects (HLS, DASH tracks) by MSN
	var last uint64
	have := false
	for {
		snap := p.Snapshot()
		changed := false
		for _, s := range snap.Segments {
			if !s.Complete || s.Gap || (have && s.MSN <= last) {
				continue
			}
			if s.Init != nil && !inits[s.Init.ID] {
				u.up.Put(base+hlsserver.StoredInitName(snap.SessionID, s.Init.ID), s.Init.Data, initMeta)
				if !ts {
					for _, o := range dashserver.StoredInits(snap.SessionID, s.Init) {
						u.up.Put(base+o.Name, o.Data, initMeta)
					}
				}
				inits[s.Init.ID] = true
			}
			name := base + hlsserver.StoredSegmentName(snap.SessionID, s.MSN, ts)
			if ts {
				u.up.Put(name, s.TS, tsMeta)
			} else {
				u.up.Put(name, segmentBytes(s), fmp4Meta)
			}
			names := []string{name}
			if !ts {
				for _, o := range dashserver.StoredSegment(snap.SessionID, &s) {
					u.up.Put(base+o.Name, o.Data, fmp4Meta)
					names = append(names, base+o.Name)
				}
			}
			stored[s.MSN] = names
			last, have, changed = s.MSN, true, true
		}
		if changed || snap.Ended {
			// After the segments they name: the queue keeps the order.
			u.up.Put(base+storedPlaylistName, hlsserver.StoredPlaylist(snap), playlistMeta)
			if !ts {
				if mpd, err := dashserver.StoredMPD(snap, time.Now()); err == nil {
					u.up.Put(base+storedMPDName, mpd, mpdMeta)
				} else {
					log.Warn("dash upload: MPD not rendered", "error", err)
				}
			}
		}
		if len(snap.Segments) > 0 {
			first := snap.Segments[0].MSN
			for msn, names := range stored {
				if msn+keepBehind < first {
					for _, name := range names {
						u.up.Delete(name)
					}
					delete(stored, msn)
				}
			}
		}
		if snap.Ended {
			log.Info("hls upload ended")
			return
		}
		var next uint64
		if have {
			next = last + 1
		}
		if !p.WaitSegment(u.ctx, next) && u.ctx.Err() != nil {
			return
		}
	}
}

// segmentBytes concatenates an fMP4 segment's parts.
func segmentBytes(s packager.Segment) []byte {
	out := make([]byte, 0, s.Size())
	for _, part := range s.Parts {
		out = append(out, part.Data...)
	}
	return out
}

// Stats returns the upload counters; zero without storage.
func (u *hlsUploads) Stats() storage.UploadStats {
	if u == nil {
		return storage.UploadStats{}
	}
	return u.up.Stats()
}

// Close lets the followers queue their final playlists (the hub has ended
// the streams), sends what is queued within timeout, and stops.
func (u *hlsUploads) Close(timeout time.Duration) {
	if u == nil {
		return
	}
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	u.mu.Lock()
	u.cancel()
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = u.up.Flush(ctx)
	u.up.Close()
	<-done
}
