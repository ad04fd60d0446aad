package api

import (
	"net/http"
	"time"
)

// ClusterNode is one node in GET /api/v1/cluster.
type ClusterNode struct {
	// ID is the node id (cluster.node_id).
	ID string `json:"id"`
	// Advertise is the address other nodes pull from.
	Advertise string `json:"advertise,omitempty"`
	// Role is origin or edge.
	Role string `json:"role,omitempty"`
	// Started is when the node started; zero for a node whose heartbeat
	// expired while its claims still live.
	Started time.Time `json:"started,omitempty"`
	// Alive is false for a node whose heartbeat expired (claims left).
	Alive bool `json:"alive"`
	// Streams are the paths it owns.
	Streams []string `json:"streams"`
}

// ClusterInfo is GET /api/v1/cluster.
type ClusterInfo struct {
	// Enabled is false on a single node (cluster.redis empty).
	Enabled bool `json:"enabled"`
	// Node is this node's id.
	Node string `json:"node,omitempty"`
	// Nodes are every registered node, sorted by id.
	Nodes []ClusterNode `json:"nodes"`
}

// ClusterSource is what the API asks the cluster.
type ClusterSource interface {
	// Info lists the nodes; an error means Redis could not be read.
	Info() (ClusterInfo, error)
	// Owner returns the node owning path, "" if none or unknown.
	Owner(path string) string
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	if s.opts.Cluster == nil {
		writeJSON(w, http.StatusOK, ClusterInfo{Nodes: []ClusterNode{}})
		return
	}
	info, err := s.opts.Cluster.Info()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "cluster: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// owner is the owner node of path for a stream listing, "" on one node.
func (s *Server) owner(path string) string {
	if s.opts.Cluster == nil {
		return ""
	}
	return s.opts.Cluster.Owner(path)
}
