package app

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/obs"
	srtserver "github.com/sluicemedia/sluice/internal/server/srt"
)

// newSRT builds the SRT server and binds srt.listen (UDP); srt.listen ""
// leaves SRT off.
func (a *App) newSRT() error {
	c := a.cfg.SRT
	if c.Listen == "" {
		return nil
	}
	s := &srtserver.Server{
		Hub:              a.hub,
		Latency:          c.Latency.Duration,
		HandshakeTimeout: c.HandshakeTimeout.Duration,
		IdleTimeout:      c.IdleTimeout.Duration,
		MaxConnections:   c.MaxConnections,
		MaxPESSize:       c.MaxPESSize,
		Passphrase:       func(path string) string { return a.cfg.PathSettings(path).SRTPassphrase },
		Auth:             a.auth,
		Logger:           a.log.With("component", "srt"),
	}
	if err := s.Listen(c.Listen); err != nil {
		return fmt.Errorf("srt.listen %q: %w", c.Listen, err)
	}
	a.srt = s
	return nil
}

// serveSRT runs the SRT server with Run's serve.
func (a *App) serveSRT(serve func(func() error)) {
	if a.srt != nil {
		serve(a.srt.Serve)
	}
}

// closeSRT stops the SRT server (also on a failed New).
func (a *App) closeSRT() {
	if a.srt != nil {
		_ = a.srt.Close()
	}
}

// logSRT logs the SRT listener's line with the URLs to use.
func (a *App) logSRT() {
	if a.srt == nil {
		a.log.Info("srt off", "proto", "srt", "reason", "srt.listen is empty")
		return
	}
	h := urlHost(a.srt.Addr())
	a.log.Info("srt listening", "proto", "srt", "addr", a.srt.Addr().String(), "transport", "udp",
		"publish", "srt://"+h+"?streamid=publish:"+exampleStream,
		"play", "srt://"+h+"?streamid=read:"+exampleStream)
}

// srtListeners lists the SRT listener for the API.
func (a *App) srtListeners() []api.Listener {
	if a.srt == nil {
		return nil
	}
	return []api.Listener{{Name: "srt", Addr: a.srt.Addr().String()}}
}

// srtCollector exports, read at scrape time:
//
//	sluice_srt_connections{state="handshake"|"publish"|"read"}  gauge
//	sluice_srt_refused_total{reason}                           counter
//
// reason: overload, bad_streamid, passphrase, auth, busy, not_found, other.
func srtCollector(a *App) prometheus.Collector {
	return &srtMetrics{
		a: a,
		conns: prometheus.NewDesc(prometheus.BuildFQName(obs.MetricsNamespace, "srt", "connections"),
			"SRT connections by state: handshake (being decided), publish, read.", []string{"state"}, nil),
		refused: prometheus.NewDesc(prometheus.BuildFQName(obs.MetricsNamespace, "srt", "refused_total"),
			"SRT handshakes rejected, by reason.", []string{"reason"}, nil),
	}
}

type srtMetrics struct {
	a              *App
	conns, refused *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (m *srtMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.conns; ch <- m.refused }

// Collect implements prometheus.Collector.
func (m *srtMetrics) Collect(ch chan<- prometheus.Metric) {
	if m.a.srt == nil {
		return
	}
	st := m.a.srt.Stats()
	for state, n := range map[string]int{"handshake": st.Handshakes, "publish": st.Publishers, "read": st.Readers} {
		ch <- prometheus.MustNewConstMetric(m.conns, prometheus.GaugeValue, float64(n), state)
	}
	for reason, n := range st.Refused {
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(n), reason)
	}
}
