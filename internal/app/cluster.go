package app

import (
	"github.com/sluicemedia/sluice/internal/cluster"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/hub"
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
