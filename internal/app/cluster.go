package app

import (
	"context"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/cluster"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/obs"
	"github.com/sluicemedia/sluice/internal/relay"
)

// newCluster builds the cluster membership from cluster.*, or nil on a
// single node (cluster.redis empty).
func (a *App) newCluster(cfg *config.Config) error {
	if cfg.Cluster.Redis == "" {
		return nil
	}
	c, err := cluster.New(cluster.Options{
		Redis:     cfg.Cluster.Redis,
		NodeID:    cfg.Cluster.NodeID,
		Advertise: cfg.Cluster.Advertise,
		Role:      cfg.Cluster.Role,
		TTL:       cfg.Cluster.TTL.Duration,
		Logger:    a.log,
		// Pulled streams: an edge copy of another node's stream claims
		// nothing.
		PullProtocol: relay.PublisherProtocol,
	})
	if err != nil {
		return err
	}
	a.cluster = c
	return nil
}

// claimer is the hub's publish gate: the cluster, or none on a single node
// (a nil *Cluster must not become a non-nil interface).
func (a *App) claimer() hub.Claimer {
	if a.cluster == nil {
		return nil
	}
	return a.cluster
}

// startCluster registers the node and starts refreshing its claims.
func (a *App) startCluster() {
	if a.cluster != nil {
		a.cluster.Run()
		a.log.Info("cluster joined", "node", a.cluster.NodeID(), "role", a.cluster.Role(),
			"redis", a.cfg.Cluster.Redis, "ttl", a.cluster.TTL().String())
	}
}

// closeCluster releases every claim and deregisters the node, after the
// hub ended its streams, so other nodes can take the paths at once.
func (a *App) closeCluster() {
	if a.cluster != nil {
		_ = a.cluster.Close()
	}
}

// apiCluster adapts the cluster to api.ClusterSource.
type apiCluster struct{ c *cluster.Cluster }

var _ api.ClusterSource = apiCluster{}

func (a apiCluster) Info() (api.ClusterInfo, error) {
	view, err := a.c.View()
	if err != nil {
		return api.ClusterInfo{}, err
	}
	out := api.ClusterInfo{Enabled: true, Node: a.c.NodeID(), Nodes: make([]api.ClusterNode, 0, len(view))}
	for _, n := range view {
		out.Nodes = append(out.Nodes, api.ClusterNode{ID: n.ID, Advertise: n.Advertise, Role: n.Role,
			Started: n.Started, Alive: n.Alive, Streams: n.Streams})
	}
	return out, nil
}

func (a apiCluster) Owner(path string) string { return a.c.OwnerID(path) }

// clusterAPI is the API's view of the cluster; nil on a single node.
func (a *App) clusterAPI() api.ClusterSource {
	if a.cluster == nil {
		return nil
	}
	return apiCluster{a.cluster}
}

// registerClusterMetrics adds the cluster and upload collectors.
func (a *App) registerClusterMetrics(reg *prometheus.Registry) {
	if a.cluster != nil {
		reg.MustRegister(newStatsCollector([]statDesc{
			{"cluster_nodes", "Cluster nodes registered in Redis (last heartbeat).", prometheus.GaugeValue},
			{"cluster_owned_streams", "Stream paths this node owns.", prometheus.GaugeValue},
			{"cluster_claim_failures_total", "Publishes refused: path owned by another node, edge node, or Redis unavailable.", prometheus.CounterValue},
			{"cluster_ownership_changes_total", "Paths this node claimed or lost to another node.", prometheus.CounterValue},
			{"cluster_claims_remade_total", "Claims re-made after Redis lost them (restart).", prometheus.CounterValue},
			{"cluster_redis_errors_total", "Failed Redis calls.", prometheus.CounterValue},
			{"cluster_edge_pulls", "Streams this node pulls from their owner nodes (one per path, whatever its viewers).", prometheus.GaugeValue},
		}, func() []float64 {
			s := a.cluster.Stats()
			return []float64{float64(s.Nodes), float64(s.Owned), float64(s.ClaimFailures),
				float64(s.OwnershipChanges), float64(s.Remade), float64(s.RedisErrors), float64(a.edgePulls())}
		}))
	}
	// a.uploads is built after the metrics handler: read it at scrape time.
	if a.cfg.Storage.S3.Endpoint != "" {
		reg.MustRegister(newStatsCollector([]statDesc{
			{"uploads_ok_total", "Object storage puts and deletes that succeeded.", prometheus.CounterValue},
			{"uploads_failed_total", "Object storage operations given up after every retry.", prometheus.CounterValue},
			{"uploads_dropped_total", "Object storage operations dropped from the full upload queue.", prometheus.CounterValue},
			{"upload_retries_total", "Object storage attempts retried after a failure.", prometheus.CounterValue},
			{"upload_queue", "Object storage operations waiting.", prometheus.GaugeValue},
		}, func() []float64 {
			s := a.uploads.Stats()
			return []float64{float64(s.OK), float64(s.Failed), float64(s.Dropped), float64(s.Retries), float64(s.Queued)}
		}))
	}
}

// statDesc names one unlabelled metric of a statsCollector.
type statDesc struct {
	name, help string
	kind       prometheus.ValueType
}

// statsCollector exports unlabelled values read at scrape time, in the
// order of its descriptions.
type statsCollector struct {
	descs  []*prometheus.Desc
	kinds  []prometheus.ValueType
	values func() []float64
}

func newStatsCollector(ds []statDesc, values func() []float64) *statsCollector {
	c := &statsCollector{values: values}
	for _, d := range ds {
		c.descs = append(c.descs, prometheus.NewDesc(prometheus.BuildFQName(obs.MetricsNamespace, "", d.name), d.help, nil, nil))
		c.kinds = append(c.kinds, d.kind)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	for i, v := range c.values() {
		ch <- prometheus.MustNewConstMetric(c.descs[i], c.kinds[i], v)
	}
}

// edgeLocator finds the owner of a path for the relay: a viewer on this
// node of a stream another node owns starts one pull from that node's
// advertised RTMP address, authenticated by the cluster secret; the relay
// shares it among this node's viewers and stops it after the last plus its
// idle delay. Nil on a single node or without cluster.secret.
type edgeLocator struct {
	c      *cluster.Cluster
	secret string
}

// edge returns the locator, or nil.
func (a *App) edge() *edgeLocator {
	if a.cluster == nil || a.cfg.Cluster.Secret == "" {
		return nil
	}
	return &edgeLocator{c: a.cluster, secret: a.cfg.Cluster.Secret}
}

// ownedElsewhere reports whether another node owns path: its configured
// source (if any) is then not pulled here, the owner is.
func (e *edgeLocator) ownedElsewhere(path string) bool {
	if e == nil {
		return false
	}
	o, ok, err := e.c.Owner(path)
	return err == nil && ok && o.Node != e.c.NodeID()
}

// locate is relay.Options.Locate: the owner's internal pull URL,
// rtmp://ADVERTISE/APP/NAME?cluster_token=SECRET. Never this node (no
// loop); nothing when the owner advertises no address.
func (e *edgeLocator) locate(_ context.Context, path string) (*url.URL, bool) {
	if e == nil {
		return nil, false
	}
	o, ok, err := e.c.Owner(path)
	if err != nil || !ok || o.Node == e.c.NodeID() || o.Advertise == "" {
		return nil, false
	}
	u := &url.URL{Scheme: "rtmp", Host: o.Advertise, Path: "/" + path,
		RawQuery: url.Values{auth.ClusterTokenParam: {e.secret}}.Encode()}
	return u, true
}

// locateFunc is locate as a relay option (nil without a locator).
func (e *edgeLocator) locateFunc() func(context.Context, string) (*url.URL, bool) {
	if e == nil {
		return nil
	}
	return e.locate
}

// edgePulls counts the relay pulls from other nodes.
func (a *App) edgePulls() int {
	if a.relay == nil {
		return 0
	}
	n := 0
	for _, p := range a.relay.Pulls() {
		if strings.Contains(p.URL, auth.ClusterTokenParam+"=") {
			n++
		}
	}
	return n
}
