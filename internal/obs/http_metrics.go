package obs

import "github.com/prometheus/client_golang/prometheus"

// HTTPConnSnapshot is the HTTP listeners' connection counts at scrape time.
type HTTPConnSnapshot struct {
	// Open is the HTTP and HTTPS connections open now.
	Open int
	// RefusedMax and RefusedPerIP count connections refused by
	// http.max_connections and http.max_connections_per_ip.
	RefusedMax, RefusedPerIP uint64
	// WriteTimeouts counts connections dropped by http.write_timeout.
	WriteTimeouts uint64
	// IdleTimeouts counts keep-alive connections closed by
	// http.idle_timeout; HeaderTimeouts, connections closed by
	// http.read_header_timeout.
	IdleTimeouts, HeaderTimeouts uint64
}

// HTTPConnCollector exports the HTTP connection limits, read at scrape
// time:
//
//	http_connections                         gauge    open HTTP + HTTPS connections
//	http_connections_refused_total{reason}   counter  max_connections | max_connections_per_ip
//	http_timeouts_total{kind}                counter  write | idle | read_header
type HTTPConnCollector struct {
	src                     func() HTTPConnSnapshot
	open, refused, timeouts *prometheus.Desc
}

var _ prometheus.Collector = (*HTTPConnCollector)(nil)

// NewHTTPConnCollector returns a collector calling src at every scrape.
func NewHTTPConnCollector(src func() HTTPConnSnapshot) *HTTPConnCollector {
	name := func(n string) string { return prometheus.BuildFQName(MetricsNamespace, "http", n) }
	return &HTTPConnCollector{
		src:  src,
		open: prometheus.NewDesc(name("connections"), "Open HTTP and HTTPS connections.", nil, nil),
		refused: prometheus.NewDesc(name("connections_refused_total"),
			"HTTP and HTTPS connections closed at accept by a cap: max_connections or max_connections_per_ip.",
			[]string{"reason"}, nil),
		timeouts: prometheus.NewDesc(name("timeouts_total"),
			"HTTP and HTTPS connections closed by a timeout: write (client stopped reading), idle (keep-alive), read_header (request not sent in time).",
			[]string{"kind"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *HTTPConnCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.refused
	ch <- c.timeouts
}

// Collect implements prometheus.Collector.
func (c *HTTPConnCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src()
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.Open))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.RefusedMax), "max_connections")
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.RefusedPerIP), "max_connections_per_ip")
	ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(s.WriteTimeouts), "write")
	ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(s.IdleTimeouts), "idle")
	ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(s.HeaderTimeouts), "read_header")
}
