package app

import (
	"context"
	"log/slog"
	"net/url"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/obs"
	"github.com/sluicemedia/sluice/internal/relay"
	hlsrelay "github.com/sluicemedia/sluice/internal/relay/hls"
	rtmprelay "github.com/sluicemedia/sluice/internal/relay/rtmp"
	rtsprelay "github.com/sluicemedia/sluice/internal/relay/rtsp"
	srtrelay "github.com/sluicemedia/sluice/internal/relay/srt"
)

// newRelay builds the relay manager (paths.<path>.source, paths.*.forward)
// with the RTMP/RTMPS/HTTP-FLV, HLS, SRT and RTSP clients. Always-on sources are those of
// exact path patterns without source_on_demand; every source is also
// found on demand by SourceFor.
func newRelay(cfg *config.Config, h *hub.Hub, edge *edgeLocator, log *slog.Logger) (*relay.Manager, error) {
	reg := &relay.Registry{}
	flvPuller := &rtmprelay.Puller{}
	rtmprelay.Register(reg, flvPuller, &rtmprelay.Pusher{WriteTimeout: cfg.Hub.MaxLag.Duration})
	// http(s) carries both HTTP-FLV and HLS sources: the path tells them apart.
	reg.RegisterPuller(httpPuller{flv: flvPuller, hls: hlsrelay.Puller{}}, "http", "https")
	reg.RegisterPuller(rtsprelay.Puller{}, "rtsp", "rtsps")
	srtClient := &srtrelay.Client{}
	reg.RegisterPuller(srtClient, "srt")
	reg.RegisterPusher(srtClient, "srt")
	var always []relay.Source
	patterns := make([]string, 0, len(cfg.Paths))
	for p := range cfg.Paths {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, p := range patterns {
		if pc := cfg.Paths[p]; pc.Source != "" && !pc.SourceOnDemand {
			if src, ok := sourceFor(cfg, p); ok {
				always = append(always, src)
			}
		}
	}
	return relay.New(relay.Options{
		Hub:      h,
		Registry: reg,
		Sources:  always,
		SourceFor: func(path string) (relay.Source, bool) {
			if edge.ownedElsewhere(path) {
				return relay.Source{}, false // pulled from its owner (Locate)
			}
			return sourceFor(cfg, path)
		},
		Locate:      edge.locateFunc(),
		ForwardsFor: func(path string) []*url.URL { return forwardsFor(cfg, path, log) },
		Logger:      log,
	}), nil
}

// httpPuller sends http(s):// sources whose path ends in .m3u8 to the HLS
// client and every other one to the HTTP-FLV client.
type httpPuller struct {
	flv relay.Puller
	hls relay.Puller
}

func (p httpPuller) Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) error {
	if strings.HasSuffix(strings.ToLower(src.Path), ".m3u8") {
		return p.hls.Pull(ctx, src, pub, stats, log)
	}
	return p.flv.Pull(ctx, src, pub, stats, log)
}

// sourceFor returns the source of path from its path settings, templates
// expanded (Validate checked the URL).
func sourceFor(cfg *config.Config, path string) (relay.Source, bool) {
	pc := cfg.PathSettings(path)
	if pc.Source == "" {
		return relay.Source{}, false
	}
	u, err := relay.Expand(pc.Source, path)
	if err != nil {
		return relay.Source{}, false
	}
	return relay.Source{Path: path, URL: u, OnDemand: pc.SourceOnDemand,
		StartTimeout: pc.SourceOnDemandStartTimeout.Duration, CloseAfter: pc.SourceOnDemandCloseAfter.Duration}, true
}

// forwardsFor returns the forward targets of a new stream at path. A
// rendition (APP/NAME_RUNG of a ladder) is forwarded only when a pattern
// other than its source's matches it: "live/*" forwards live/cam1, not
// live/cam1_480p too, while "live/*_480p" would forward the rendition.
func forwardsFor(cfg *config.Config, path string, log *slog.Logger) []*url.URL {
	pattern, ok := cfg.PathPattern(path)
	if !ok {
		return nil
	}
	if src, isRendition := renditionSource(cfg, path); isRendition {
		if sp, _ := cfg.PathPattern(src); sp == pattern {
			return nil
		}
	}
	var out []*url.URL
	for _, raw := range cfg.Paths[pattern].Forward {
		u, err := relay.Expand(raw, path)
		if err != nil {
			log.Warn("forward target skipped", "path", path, "reason", err.Error())
			continue
		}
		out = append(out, u)
	}
	return out
}

// demand is hub.Options.Demand: the relay brings up on-demand sources.
func (a *App) demand(ctx context.Context, path string) error {
	if a.relay == nil {
		return relay.ErrNoSource
	}
	return a.relay.Demand(ctx, path)
}

// relayInfo is api.Options.Relay: the pull and forwards of path.
func (a *App) relayInfo(path string) (*api.RelaySource, []api.RelayForward) {
	var src *api.RelaySource
	for _, p := range a.relay.Pulls() {
		if p.Path == path {
			src = &api.RelaySource{URL: p.URL, OnDemand: p.OnDemand, State: p.State, LastError: p.LastError,
				Bytes: p.Bytes, Reconnects: p.Reconnects}
		}
	}
	var fwd []api.RelayForward
	for _, f := range a.relay.Forwards() {
		if f.Path == path {
			fwd = append(fwd, api.RelayForward{URL: f.URL, State: f.State, LastError: f.LastError,
				Bytes: f.Bytes, Errors: f.Errors, Reconnects: f.Reconnects})
		}
	}
	return src, fwd
}

// relayCollector exports sluice_relay_pulls{state},
// sluice_relay_pull_reconnects_total, sluice_forward_targets{state},
// sluice_forward_bytes_total and sluice_forward_reconnects_total, read at
// scrape time.
type relayCollector struct {
	m                                                   *relay.Manager
	pulls, pullReconnects, targets, fwdBytes, fwdReconn *prometheus.Desc
}

func newRelayCollector(m *relay.Manager) *relayCollector {
	name := func(sub, n string) string { return prometheus.BuildFQName(obs.MetricsNamespace, sub, n) }
	return &relayCollector{m: m,
		pulls:          prometheus.NewDesc(name("relay", "pulls"), "Pulled sources by state (connecting, live, backoff).", []string{"state"}, nil),
		pullReconnects: prometheus.NewDesc(name("relay", "pull_reconnects_total"), "Failed pull attempts retried.", nil, nil),
		targets:        prometheus.NewDesc(name("forward", "targets"), "Forward targets by state (connecting, live, backoff).", []string{"state"}, nil),
		fwdBytes:       prometheus.NewDesc(name("forward", "bytes_total"), "Media payload bytes written to forward targets.", nil, nil),
		fwdReconn:      prometheus.NewDesc(name("forward", "reconnects_total"), "Failed forward attempts retried.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pulls, c.pullReconnects, c.targets, c.fwdBytes, c.fwdReconn} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *relayCollector) Collect(ch chan<- prometheus.Metric) {
	states := func() map[string]float64 {
		return map[string]float64{relay.StateConnecting: 0, relay.StateLive: 0, relay.StateBackoff: 0}
	}
	pulls, targets := states(), states()
	for _, p := range c.m.Pulls() {
		pulls[p.State]++
	}
	for _, f := range c.m.Forwards() {
		targets[f.State]++
	}
	for s, v := range pulls {
		ch <- prometheus.MustNewConstMetric(c.pulls, prometheus.GaugeValue, v, s)
	}
	for s, v := range targets {
		ch <- prometheus.MustNewConstMetric(c.targets, prometheus.GaugeValue, v, s)
	}
	t := c.m.Totals()
	ch <- prometheus.MustNewConstMetric(c.pullReconnects, prometheus.CounterValue, float64(t.PullReconnects))
	ch <- prometheus.MustNewConstMetric(c.fwdBytes, prometheus.CounterValue, float64(t.ForwardBytes))
	ch <- prometheus.MustNewConstMetric(c.fwdReconn, prometheus.CounterValue, float64(t.ForwardReconnects))
}

// isStreamPlay reports whether an entry kind serves a viewer of a stream
// that may be brought up on demand.
func isStreamPlay(kind string) bool {
	return kind == "http-flv" || kind == "ws-flv" || kind == "whep" || kind == "hls playlist" || kind == "hls media playlist" || kind == "dash mpd"
}
