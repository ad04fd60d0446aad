package obs

import "github.com/prometheus/client_golang/prometheus"

// TranscoderSnapshot is one ABR ladder's state at scrape time.
type TranscoderSnapshot struct {
	// Source is the source stream path.
	Source string
	// Running is true while an ffmpeg process is up.
	Running bool
	// Speed is media time transcoded per wall time (1.0 = real time).
	Speed float64
	// Restarts counts ffmpeg restarts.
	Restarts int
}

// TranscoderCollector exports transcoder state, read at scrape time:
//
//	transcoder_running{source}         gauge    1 while ffmpeg runs
//	transcoder_speed{source}           gauge    ×real time
//	transcoder_restarts_total{source}  counter  ffmpeg restarts
type TranscoderCollector struct {
	src                      func() []TranscoderSnapshot
	running, speed, restarts *prometheus.Desc
}

var _ prometheus.Collector = (*TranscoderCollector)(nil)

// NewTranscoderCollector returns a collector calling src at every scrape.
func NewTranscoderCollector(src func() []TranscoderSnapshot) *TranscoderCollector {
	name := func(n string) string { return prometheus.BuildFQName(MetricsNamespace, "", n) }
	label := []string{"source"}
	return &TranscoderCollector{
		src:      src,
		running:  prometheus.NewDesc(name("transcoder_running"), "1 while the ladder's ffmpeg process runs.", label, nil),
		speed:    prometheus.NewDesc(name("transcoder_speed"), "Media time transcoded per wall time (1 = real time).", label, nil),
		restarts: prometheus.NewDesc(name("transcoder_restarts_total"), "ffmpeg restarts of the ladder.", label, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *TranscoderCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.running
	ch <- c.speed
	ch <- c.restarts
}

// Collect implements prometheus.Collector.
func (c *TranscoderCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.src() {
		running := 0.0
		if t.Running {
			running = 1
		}
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, running, t.Source)
		ch <- prometheus.MustNewConstMetric(c.speed, prometheus.GaugeValue, t.Speed, t.Source)
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(t.Restarts), t.Source)
	}
}
