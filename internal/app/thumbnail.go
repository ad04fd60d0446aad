package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/obs"
	"github.com/sluicemedia/sluice/internal/thumbnail"
)

// newThumbnails builds the maker of GET /APP/NAME.jpg over the hub's GOP
// caches (config "thumbnail").
func newThumbnails(cfg *config.Config, h *hub.Hub, log *slog.Logger) *thumbnail.Maker {
	return thumbnail.New(thumbnail.Options{
		Source:        hubKeyframes{h},
		CacheFor:      cfg.Thumbnail.Cache.Duration,
		MaxConcurrent: cfg.Thumbnail.MaxConcurrent,
		Timeout:       cfg.Thumbnail.Timeout.Duration,
		Logger:        log.With("component", "thumbnail", "proto", "thumbnail"),
	})
}

// hubKeyframes is the thumbnail.Source of the hub.
type hubKeyframes struct{ h *hub.Hub }

var _ thumbnail.Source = hubKeyframes{}

// LatestKeyframe implements thumbnail.Source.
func (k hubKeyframes) LatestKeyframe(path string) (*av.Packet, bool) {
	s := k.h.Stream(path)
	if s == nil || s.Ended() {
		return nil, false
	}
	return s.LatestKeyframe(), true
}

// serveThumbnail answers an authorized GET /APP/NAME.jpg.
func (h *httpRoutes) serveThumbnail(w http.ResponseWriter, r *http.Request, path string) {
	// A thumbnail takes at most thumbnail.timeout; a client that leaves
	// stops only its own wait.
	jpeg, err := h.thumbs.Get(r.Context(), path)
	switch {
	case err == nil:
	case errors.Is(err, thumbnail.ErrNoStream):
		h.refuse(w, r, slog.LevelDebug, "thumbnail", path, http.StatusNotFound, "no such stream")
		return
	case errors.Is(err, thumbnail.ErrNoKeyframe), errors.Is(err, thumbnail.ErrBusy):
		w.Header().Set("Retry-After", "1")
		h.refuse(w, r, slog.LevelDebug, "thumbnail", path, http.StatusServiceUnavailable, err.Error())
		return
	case errors.Is(err, context.Canceled):
		return // the client left
	default:
		// The maker logged the failure (once per run, not per waiter).
		http.Error(w, "thumbnail failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(jpeg)))
	// Browsers may reuse it as long as the server would.
	w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(int(h.thumbCache/time.Second)))
	_, _ = w.Write(jpeg)
}

// thumbnailsCollector exports sluice_thumbnails_total{result="made"|
// "failed"|"cached"} (counter), read from the maker at scrape time.
func thumbnailsCollector(m *thumbnail.Maker) prometheus.Collector {
	return &countersCollector{
		desc: prometheus.NewDesc(prometheus.BuildFQName(obs.MetricsNamespace, "", "thumbnails_total"),
			"Thumbnail requests (GET /APP/NAME.jpg) by result: made (one ffmpeg run), failed (ffmpeg failed or timed out), cached (served from the cache or a run in flight).",
			[]string{"result"}, nil),
		values: func() map[string]float64 {
			s := m.Stats()
			return map[string]float64{"made": float64(s.Made), "failed": float64(s.Failed), "cached": float64(s.Cached)}
		},
	}
}

// countersCollector exports one counter per label value, read at scrape
// time.
type countersCollector struct {
	desc   *prometheus.Desc
	values func() map[string]float64
}

// Describe implements prometheus.Collector.
func (c *countersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *countersCollector) Collect(ch chan<- prometheus.Metric) {
	for label, v := range c.values() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, v, label)
	}
}
