package obs

import (
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsNamespace prefixes every Sluice metric name.
const MetricsNamespace = "sluice"

// StreamSnapshot is what the metrics collector needs to know about one live
// stream. obs is a leaf package and does not import the hub; the app
// converts hub snapshots into these at scrape time.
type StreamSnapshot struct {
	// Path is the stream path, e.g. "live/cam1".
	Path string
	// PublisherProtocol is the publisher's protocol ("rtmp", "rtmps",
	// "whip", ...), or "" while the stream waits for a publisher to
	// reconnect.
	PublisherProtocol string
	// Viewers counts the stream's readers by protocol ("rtmp", "http-flv",
	// "ws-flv", ...).
	Viewers map[string]int
	// BytesIn is the media payload bytes published so far.
	BytesIn uint64
	// PacketsIn is the media packets (access units) published so far.
	PacketsIn uint64
	// Skips is how many times readers jumped ahead to a keyframe.
	Skips uint64
	// Drops is how many readers were disconnected as too slow.
	Drops uint64
	// Republishes is how many times a publisher reconnected within the
	// republish grace period.
	Republishes uint64
	// BufferedBytes is the media payload bytes the stream buffers now.
	BufferedBytes int
}

// StreamSource lists the live streams at scrape time.
type StreamSource interface {
	// StreamSnapshots returns a snapshot of every live stream.
	StreamSnapshots() []StreamSnapshot
}

// StreamSourceFunc adapts a function to StreamSource.
type StreamSourceFunc func() []StreamSnapshot

// StreamSnapshots calls f.
func (f StreamSourceFunc) StreamSnapshots() []StreamSnapshot { return f() }

// StreamCollector is a prometheus.Collector that reads stream snapshots at
// scrape time: the media path makes no metric calls at all.
//
// Metrics (all prefixed "sluice_"):
//
//	streams                          gauge    live streams
//	publishers{protocol}             gauge    connected publishers
//	viewers{protocol}                gauge    connected viewers, all streams
//	stream_viewers{path,protocol}    gauge    connected viewers of one stream
//	stream_bytes_in_total{path}      counter  media payload bytes published
//	stream_packets_in_total{path}    counter  media packets published
//	stream_reader_skips_total{path}  counter  viewer jumps to the newest keyframe
//	stream_reader_drops_total{path}  counter  viewers disconnected as too slow
//	stream_republishes_total{path}   counter  publisher reconnects within the grace period
//	stream_buffered_bytes{path}      gauge    media payload bytes buffered
//
// Per-stream counters restart from 0 when a path is published anew after its
// stream ended, which Prometheus' rate() treats as a counter reset.
type StreamCollector struct {
	src StreamSource

	streams, publishers, viewers             *prometheus.Desc
	streamViewers, bytesIn, packetsIn, skips *prometheus.Desc
	drops, republishes, buffered             *prometheus.Desc
}

var _ prometheus.Collector = (*StreamCollector)(nil)

// NewStreamCollector returns a collector reading src at every scrape.
func NewStreamCollector(src StreamSource) *StreamCollector {
	name := func(n string) string { return prometheus.BuildFQName(MetricsNamespace, "", n) }
	path := []string{"path"}
	return &StreamCollector{
		src:           src,
		streams:       prometheus.NewDesc(name("streams"), "Live streams.", nil, nil),
		publishers:    prometheus.NewDesc(name("publishers"), "Connected publishers by protocol.", []string{"protocol"}, nil),
		viewers:       prometheus.NewDesc(name("viewers"), "Connected viewers of all streams by protocol.", []string{"protocol"}, nil),
		streamViewers: prometheus.NewDesc(name("stream_viewers"), "Connected viewers of one stream by protocol.", []string{"path", "protocol"}, nil),
		bytesIn:       prometheus.NewDesc(name("stream_bytes_in_total"), "Media payload bytes published to the stream.", path, nil),
		packetsIn:     prometheus.NewDesc(name("stream_packets_in_total"), "Media packets (access units) published to the stream.", path, nil),
		skips:         prometheus.NewDesc(name("stream_reader_skips_total"), "Times a viewer of the stream lagged and jumped to the newest keyframe.", path, nil),
		drops:         prometheus.NewDesc(name("stream_reader_drops_total"), "Viewers of the stream disconnected as too slow.", path, nil),
		republishes:   prometheus.NewDesc(name("stream_republishes_total"), "Publisher reconnects within the republish grace period.", path, nil),
		buffered:      prometheus.NewDesc(name("stream_buffered_bytes"), "Media payload bytes the stream buffers (GOP cache and lag window).", path, nil),
	}
}

// Describe sends every metric description.
func (c *StreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.streams, c.publishers, c.viewers, c.streamViewers,
		c.bytesIn, c.packetsIn, c.skips, c.drops, c.republishes, c.buffered} {
		ch <- d
	}
}

// Collect reads one snapshot of every stream and sends the metrics.
func (c *StreamCollector) Collect(ch chan<- prometheus.Metric) {
	snaps := c.src.StreamSnapshots()
	publishers := map[string]int{}
	viewers := map[string]int{}
	ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(len(snaps)))
	for _, s := range snaps {
		if s.PublisherProtocol != "" {
			publishers[s.PublisherProtocol]++
		}
		for proto, n := range s.Viewers {
			viewers[proto] += n
			ch <- prometheus.MustNewConstMetric(c.streamViewers, prometheus.GaugeValue, float64(n), s.Path, proto)
		}
		ch <- prometheus.MustNewConstMetric(c.bytesIn, prometheus.CounterValue, float64(s.BytesIn), s.Path)
		ch <- prometheus.MustNewConstMetric(c.packetsIn, prometheus.CounterValue, float64(s.PacketsIn), s.Path)
		ch <- prometheus.MustNewConstMetric(c.skips, prometheus.CounterValue, float64(s.Skips), s.Path)
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(s.Drops), s.Path)
		ch <- prometheus.MustNewConstMetric(c.republishes, prometheus.CounterValue, float64(s.Republishes), s.Path)
		ch <- prometheus.MustNewConstMetric(c.buffered, prometheus.GaugeValue, float64(s.BufferedBytes), s.Path)
	}
	for _, proto := range sortedKeys(publishers) {
		ch <- prometheus.MustNewConstMetric(c.publishers, prometheus.GaugeValue, float64(publishers[proto]), proto)
	}
	for _, proto := range sortedKeys(viewers) {
		ch <- prometheus.MustNewConstMetric(c.viewers, prometheus.GaugeValue, float64(viewers[proto]), proto)
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NewMetricsRegistry returns a registry holding the stream collector over
// src, the Go runtime (go_*) and process (process_*) collectors,
// go_build_info, and sluice_info{version} (always 1).
func NewMetricsRegistry(src StreamSource, version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewStreamCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   MetricsNamespace,
		Name:        "info",
		Help:        "Sluice server version (always 1).",
		ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	reg.MustRegister(info)
	return reg
}

// MetricsHandler serves reg in the Prometheus text exposition format, for
// GET /metrics.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
