package app

import (
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/obs"
	webrtcserver "github.com/sluicemedia/sluice/internal/webrtc"
)

// Version is the server version reported by GET /api/v1/server and the
// sluice_info metric. cmd/sluice may set it before Run; when empty, the
// module version from the build info is used ("(devel)" for local builds).
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

// apiHub adapts *hub.Hub to api.Hub and obs.StreamSource.
type apiHub struct{ h *hub.Hub }

var (
	_ api.Hub          = apiHub{}
	_ obs.StreamSource = apiHub{}
)

func (a apiHub) Streams() []hub.Stats {
	streams := a.h.Streams()
	out := make([]hub.Stats, 0, len(streams))
	for _, s := range streams {
		out = append(out, s.Stats())
	}
	return out
}

func (a apiHub) Stream(path string) (hub.Stats, bool) {
	s := a.h.Stream(path)
	if s == nil || s.Ended() {
		return hub.Stats{}, false
	}
	return s.Stats(), true
}

func (a apiHub) Clients(path string) ([]hub.ClientStats, bool) {
	s := a.h.Stream(path)
	if s == nil || s.Ended() {
		return nil, false
	}
	return s.Clients(), true
}

func (a apiHub) KickPublisher(path, reason string) bool {
	s := a.h.Stream(path)
	return s != nil && s.Kick(reason)
}

func (a apiHub) KickClient(id uint64) bool { return a.h.KickReader(id) }

// StreamSnapshots converts hub snapshots for the metrics collector, which
// must not import the hub (obs is a leaf).
func (a apiHub) StreamSnapshots() []obs.StreamSnapshot {
	streams := a.h.Streams()
	out := make([]obs.StreamSnapshot, 0, len(streams))
	for _, s := range streams {
		st := s.Stats()
		snap := obs.StreamSnapshot{
			Path: st.Path, Viewers: st.Readers, BytesIn: st.BytesIn, PacketsIn: st.PacketsIn,
			Skips: st.Skips, Drops: st.Drops, Republishes: st.Republishes, BufferedBytes: st.BufferedBytes,
		}
		if st.Publisher != nil {
			snap.PublisherProtocol = st.Publisher.Protocol
		}
		out = append(out, snap)
	}
	return out
}

// newAPI builds the REST API handler (mounted at api.Prefix).
func (a *App) newAPI() http.Handler {
	return api.New(api.Options{
		Hub:        apiHub{a.hub},
		Key:        a.cfg.API.Key,
		Version:    version(),
		Started:    time.Now(),
		Listeners:  a.boundListeners,
		Logger:     a.log.With("component", "api"),
		Recordings: a.recordings,
		Cluster:    a.clusterAPI(),
		Config:     func() (any, error) { return effectiveConfig(a.cfg) },
		WebRTC: func() api.WebRTCInfo {
			c := a.webrtc.Counts()
			return api.WebRTCInfo{WHEPSessions: c.WHEP, WHIPSessions: c.WHIP}
		},
		Relay: a.relayInfo,
		Transcoders: func() []api.Transcoder {
			if a.transcoder == nil {
				return nil
			}
			var out []api.Transcoder
			for _, j := range a.transcoder.Jobs() {
				state := "restarting"
				if j.Running {
					state = "running"
				}
				out = append(out, api.Transcoder{Source: j.Source, Renditions: j.Renditions, State: state,
					Speed: j.Speed, Restarts: j.Restarts, Since: j.Since})
			}
			return out
		},
	})
}

// newMetrics builds the GET /metrics handler.
func (a *App) newMetrics() http.Handler {
	reg := obs.NewMetricsRegistry(apiHub{a.hub}, version())
	reg.MustRegister(obs.NewTranscoderCollector(func() []obs.TranscoderSnapshot {
		if a.transcoder == nil {
			return nil
		}
		var out []obs.TranscoderSnapshot
		for _, j := range a.transcoder.Jobs() {
			out = append(out, obs.TranscoderSnapshot{Source: j.Source, Running: j.Running, Speed: j.Speed, Restarts: j.Restarts})
		}
		return out
	}))
	reg.MustRegister(webrtcSessionsCollector(a.webrtc))
	reg.MustRegister(newRecordCollector(a.recorder, a.cfg.Record.Upload))
	reg.MustRegister(newRelayCollector(a.relay))
	reg.MustRegister(obs.NewHTTPConnCollector(a.httpConnSnapshot))
	reg.MustRegister(srtCollector(a))
	reg.MustRegister(thumbnailsCollector(a.thumbs))
	a.registerClusterMetrics(reg)
	return obs.MetricsHandler(reg)
}

// webrtcSessionsCollector exports sluice_webrtc_sessions{kind="whep"|"whip"}
// (gauge, sessions including those connecting), read at scrape time; it
// lives here so that obs does not import webrtc.
func webrtcSessionsCollector(w *webrtcserver.Server) prometheus.Collector {
	return &gaugesCollector{
		desc: prometheus.NewDesc(prometheus.BuildFQName(obs.MetricsNamespace, "webrtc", "sessions"),
			"WebRTC sessions by kind: whep (viewers) and whip (publishers), counting those still connecting.",
			[]string{"kind"}, nil),
		values: func() map[string]float64 {
			c := w.Counts()
			return map[string]float64{"whep": float64(c.WHEP), "whip": float64(c.WHIP)}
		},
	}
}

// gaugesCollector exports one gauge per label value, computed at scrape
// time.
type gaugesCollector struct {
	desc   *prometheus.Desc
	values func() map[string]float64
}

// Describe implements prometheus.Collector.
func (c *gaugesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *gaugesCollector) Collect(ch chan<- prometheus.Metric) {
	for label, v := range c.values() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, label)
	}
}

// boundListeners reports the bound listeners. The fields it reads are set
// by New before any request is served.
func (a *App) boundListeners() []api.Listener {
	var out []api.Listener
	for _, l := range []struct {
		name string
		ln   net.Listener
	}{{"rtmp", a.rtmpLn}, {"rtmps", a.rtmpsLn}, {"http", a.httpLn}, {"https", a.httpsLn}} {
		if l.ln != nil {
			out = append(out, api.Listener{Name: l.name, Addr: l.ln.Addr().String()})
		}
	}
	return append(out, a.srtListeners()...)
}
