package app

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/obs"
	"github.com/sluicemedia/sluice/internal/record"
	"github.com/sluicemedia/sluice/internal/storage"
)

// recordStopWait bounds how long the stop waits for recorders to write
// their last fragment (within the 5 s exit of docs/contract.md).
const recordStopWait = 2 * time.Second

// maxClipDuration bounds one recording.mp4 request.
const maxClipDuration = 24 * time.Hour

// newRecorder builds the recording manager: it records the paths that set
// record: true (not a ladder's renditions, which are derived streams) and
// serves every recording under record.dir for playback.
//
// With record.upload every closed file is uploaded to the bucket as
// PREFIX + recordings/APP/NAME/FILE.mp4.
//
// A cluster edge's copy of a stream another node owns (isEdgeCopy) is not
// recorded unless record.edge_copies: the owner records the original.
func newRecorder(cfg *config.Config, h *hub.Hub, az *auth.Authorizer, isEdgeCopy func(string) bool, log *slog.Logger) (*record.Manager, error) {
	rc := cfg.Record
	opts := record.Options{
		Dir:                    rc.Dir,
		PartDuration:           rc.PartDuration.Duration,
		SegmentDuration:        rc.SegmentDuration.Duration,
		RetryAfter:             rc.RetryAfter.Duration,
		DeleteAfter:            rc.DeleteAfter.Duration,
		DeleteLocalAfterUpload: rc.DeleteLocalAfterUpload,
		Enabled: func(path string) bool {
			if _, rendition := renditionSource(cfg, path); rendition {
				return false
			}
			if !rc.EdgeCopies && isEdgeCopy != nil && isEdgeCopy(path) {
				return false
			}
			return cfg.PathSettings(path).Record
		},
		OnSegment: func(s record.Segment) {
			az.RecordSegment(s.Path, s.File, s.Start, s.Duration)
		},
		Logger: log,
	}
	if rc.MaxBytes > 0 {
		opts.MaxBytes = func(string) int64 { return rc.MaxBytes }
	}
	if s3 := cfg.Storage.S3; rc.Upload && s3.Endpoint != "" {
		store, err := storage.NewS3(storage.S3Options{Endpoint: s3.Endpoint, Bucket: s3.Bucket, Region: s3.Region,
			AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Prefix: s3.Prefix, Insecure: s3.Insecure})
		if err != nil {
			return nil, err
		}
		opts.Store = store
	}
	return record.New(h, opts), nil
}

// recordings lists recordings for GET /api/v1/recordings.
func (a *App) recordings(path string) ([]api.Recording, error) {
	recs, err := a.recorder.Catalog.List(path)
	if err != nil {
		return nil, err
	}
	out := make([]api.Recording, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.Recording{Path: r.Path, File: r.File, Start: r.Start, Duration: r.Duration,
			Size: r.Size, Codecs: r.Codecs})
	}
	return out, nil
}

// recordCollector exports the recorder's counters at scrape time:
// sluice_record_errors_total (write errors that stopped a recording),
// sluice_record_bytes_total, sluice_recordings_active and, with
// storage.s3, sluice_record_uploads_total{result} and
// sluice_record_upload_queue.
type recordCollector struct {
	m                   *record.Manager
	upload              bool
	errs, bytes, recNow *prometheus.Desc
	uploads, upQueue    *prometheus.Desc
}

func newRecordCollector(m *record.Manager, upload bool) *recordCollector {
	name := func(n string) string { return prometheus.BuildFQName(obs.MetricsNamespace, "", n) }
	return &recordCollector{m: m, upload: upload,
		uploads: prometheus.NewDesc(name("record_uploads_total"), "Recording file uploads to storage.s3 by result: ok, failed (the file stays and is retried).", []string{"result"}, nil),
		upQueue: prometheus.NewDesc(name("record_upload_queue"), "Recording files queued or being uploaded to storage.s3.", nil, nil),
		errs:    prometheus.NewDesc(name("record_errors_total"), "Write errors that stopped a recording (it retries after record.retry_after).", nil, nil),
		bytes:   prometheus.NewDesc(name("record_bytes_total"), "Bytes written to recordings.", nil, nil),
		recNow:  prometheus.NewDesc(name("recordings_active"), "Streams being recorded.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *recordCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.errs
	ch <- c.bytes
	ch <- c.recNow
	if c.upload {
		ch <- c.uploads
		ch <- c.upQueue
	}
}

// Collect implements prometheus.Collector.
func (c *recordCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(c.m.Errors()))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(c.m.BytesWritten()))
	ch <- prometheus.MustNewConstMetric(c.recNow, prometheus.GaugeValue, float64(c.m.Active()))
	if c.upload {
		s := c.m.UploadStats()
		ch <- prometheus.MustNewConstMetric(c.uploads, prometheus.CounterValue, float64(s.OK), "ok")
		ch <- prometheus.MustNewConstMetric(c.uploads, prometheus.CounterValue, float64(s.Failed), "failed")
		ch <- prometheus.MustNewConstMetric(c.upQueue, prometheus.GaugeValue, float64(s.Queued))
	}
}

// Playback URLs (streams.go routes them):
//
//	/APP/NAME/recording.mp4?start=RFC3339&duration=D  one fMP4 clip
//	/APP/NAME/vod.m3u8?start=RFC3339&end=RFC3339      HLS VOD playlist
//	/APP/NAME/recordings/FILE                         a recording file (Range)
//
// All three are authorized as a play of the stream; the playlist hands
// its credential (?key= or ?token=) on in the file URIs.
const (
	recordClipDir  = "recording.mp4"
	recordVODDir   = "vod.m3u8"
	recordFilesDir = "recordings"
)

// recordEntry is the entry of the playback URLs.
func (h *httpRoutes) recordEntry(u streamURL) *entry {
	if h.rec == nil {
		return nil
	}
	switch u.dir {
	case recordClipDir:
		return &entry{kind: "record clip", access: accessPlay, proto: "mp4", methods: get, serve: h.serveClip}
	case recordVODDir:
		return &entry{kind: "record vod", access: accessPlay, proto: "hls", methods: getHead, serve: h.serveVOD}
	case recordFilesDir:
		return &entry{kind: "record file", access: accessPlay, proto: "hls", methods: getHead, serve: h.serveRecordFile}
	}
	return nil
}

// parseTimeParam parses an RFC 3339 time query parameter; def if absent.
func parseTimeParam(q url.Values, key string, def time.Time) (time.Time, error) {
	v := q.Get(key)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, errors.New(key + ": want an RFC 3339 time such as 2026-12-02T10:00:00Z")
	}
	return t, nil
}

func (h *httpRoutes) recordError(w http.ResponseWriter, r *http.Request, u streamURL, kind string, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, record.ErrNoRecording) {
		status = http.StatusNotFound
	}
	h.refuse(w, r, slog.LevelDebug, kind, u.path, status, err.Error())
}

func (h *httpRoutes) serveClip(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
	q := r.URL.Query()
	start, err := parseTimeParam(q, "start", time.Time{})
	if err == nil && q.Get("start") == "" {
		err = errors.New("start: required (RFC 3339)")
	}
	var dur time.Duration
	if err == nil {
		dur, err = parseDurationParam(q.Get("duration"))
	}
	if err != nil {
		h.recordError(w, r, u, "record clip", err)
		return
	}
	// Find the media before answering, so a miss is a clean 404.
	var buf strings.Builder
	if err := h.rec.Catalog.WriteVOD(&buf, u.path, start, start.Add(dur), func(string) string { return "" }); err != nil {
		h.recordError(w, r, u, "record clip", err)
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Disposition", `inline; filename="`+strings.ReplaceAll(u.path, "/", "_")+`.mp4"`)
	if err := h.rec.Catalog.WriteClip(w, u.path, start, dur); err != nil {
		h.logger().Debug("record clip ended early", "proto", "mp4", "path", u.path, "remote", r.RemoteAddr, "err", err.Error())
	}
}

// parseDurationParam parses duration=: a Go duration ("90s", "1m30s") or
// seconds ("90").
func parseDurationParam(v string) (time.Duration, error) {
	if v == "" {
		return 0, errors.New("duration: required (e.g. 60s)")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		s, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return 0, errors.New("duration: want a duration such as 60s")
		}
		d = time.Duration(s * float64(time.Second))
	}
	if d <= 0 || d > maxClipDuration {
		return 0, errors.New("duration: want more than 0 and at most 24h")
	}
	return d, nil
}

func (h *httpRoutes) serveVOD(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
	q := r.URL.Query()
	start, err := parseTimeParam(q, "start", time.Time{})
	var end time.Time
	if err == nil {
		end, err = parseTimeParam(q, "end", time.Now().Add(24*time.Hour))
	}
	if err == nil && !end.After(start) {
		err = errors.New("end: must be after start")
	}
	if err != nil {
		h.recordError(w, r, u, "record vod", err)
		return
	}
	// Hand the credential on to the file URIs (relative to this
	// playlist: /APP/NAME/recordings/FILE).
	cred := url.Values{}
	for _, k := range []string{"key", "token"} {
		if v := q.Get(k); v != "" {
			cred.Set(k, v)
		}
	}
	suffix := ""
	if len(cred) > 0 {
		suffix = "?" + cred.Encode()
	}
	var buf strings.Builder
	err = h.rec.Catalog.WriteVOD(&buf, u.path, start, end, func(file string) string {
		return recordFilesDir + "/" + file + suffix
	})
	if err != nil {
		h.recordError(w, r, u, "record vod", err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(buf.String()))
}

func (h *httpRoutes) serveRecordFile(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
	name, err := h.rec.Catalog.FilePath(u.path, u.file)
	if err != nil {
		h.refuse(w, r, slog.LevelDebug, "record file", u.path, http.StatusNotFound, err.Error())
		return
	}
	f, err := os.Open(name)
	if err != nil {
		h.refuse(w, r, slog.LevelDebug, "record file", u.path, http.StatusNotFound, "no such recording")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		h.refuse(w, r, slog.LevelDebug, "record file", u.path, http.StatusNotFound, "no such recording")
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	// Range requests (the VOD playlist's byte ranges) are answered by
	// ServeContent.
	http.ServeContent(w, r, u.file, st.ModTime(), f)
}
