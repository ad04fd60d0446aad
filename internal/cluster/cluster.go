// Package cluster makes several Sluice nodes behave as one server: a node
// registry and stream ownership kept in Redis. A node registers itself under
// a key with a TTL it keeps refreshing (heartbeat); a publish claims its
// path with SET NX PX, refreshed while the publisher is live by a Lua
// compare-and-refresh and released by a Lua compare-and-delete, so only the
// node whose value is stored can keep or drop a claim. When a node dies its
// claims expire within TTL and a publisher reconnecting to any other node
// takes the path over.
//
// Redis down: claims already held stay held locally (their streams keep
// playing, refreshes are retried and the claims re-made once Redis answers);
// new claims fail closed (the publish is refused as unavailable and the
// encoder retries), because failing open would let two nodes own one path
// and show viewers two different streams.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicemedia/sluice/internal/hub"
)

// Roles accepted by Options.Role.
const (
	// RoleOrigin accepts publishers and viewers.
	RoleOrigin = "origin"
	// RoleEdge accepts viewers only; its streams are pulled from owners.
	RoleEdge = "edge"
)

// keyPrefix starts every key Sluice stores in Redis.
const keyPrefix = "sluice:"

var (
	// ErrUnavailable means Redis could not be asked; new claims fail closed.
	ErrUnavailable = errors.New("cluster: ownership store unavailable")
	// ErrEdge means an edge node was asked to accept a publisher.
	ErrEdge = errors.New("cluster: edge nodes accept no publishers")
)

// Options configure a Cluster. Zero values take the documented defaults.
type Options struct {
	// Redis is the Redis URL, e.g. "redis://127.0.0.1:6379/0". Required.
	Redis string
	// NodeID names this node. Default: the hostname.
	NodeID string
	// Advertise is the address other nodes pull this node's streams from
	// (host:port of its RTMP listener). Default empty: not pullable.
	Advertise string
	// Role is RoleOrigin (default) or RoleEdge.
	Role string
	// TTL is how long a claim or heartbeat lives without a refresh; claims
	// and heartbeats are refreshed every TTL/4. Default 10 s.
	TTL time.Duration
	// OpTimeout bounds each Redis call. Default TTL/4.
	OpTimeout time.Duration
	// PullProtocol is the hub.ClientInfo protocol of pulled streams
	// (relay.PublisherProtocol). Such a publish of a path another node
	// owns is an edge copy and claims nothing; of an unowned path (a
	// source this node pulls itself) it claims as any publish. Default "":
	// none.
	PullProtocol string
	// Logger receives ownership events. Default slog.Default().
	Logger *slog.Logger
}

// Owner is the value of a claim: which node owns a path and where to pull it.
type Owner struct {
	// Node is the owner's node id.
	Node string `json:"node"`
	// Advertise is the owner's pull address.
	Advertise string `json:"advertise,omitempty"`
}

// Node is one registered node.
type Node struct {
	// ID is the node id.
	ID string `json:"id"`
	// Advertise is its pull address.
	Advertise string `json:"advertise,omitempty"`
	// Role is origin or edge.
	Role string `json:"role"`
	// Started is when the node started.
	Started time.Time `json:"started"`
}

// Stats are the cluster counters read at metrics scrape time.
type Stats struct {
	// Nodes is how many nodes the last heartbeat saw registered.
	Nodes int
	// Owned is how many paths this node owns now.
	Owned int
	// ClaimFailures counts publishes refused: held by another node, or the
	// store unavailable.
	ClaimFailures uint64
	// OwnershipChanges counts claims this node took and lost: every new
	// claim, every claim lost to another node.
	OwnershipChanges uint64
	// Remade counts claims re-made after Redis lost them (a restart).
	Remade uint64
	// RedisErrors counts failed Redis calls.
	RedisErrors uint64
}

// claim is one path this node owns.
type claim struct {
	lost func(string)
}

// Cluster is this node's membership and its claims. Safe for concurrent use.
type Cluster struct {
	opts  Options
	rdb   *redis.Client
	value string // JSON Owner stored in every claim of this node
	node  []byte // JSON Node stored in the heartbeat key
	log   *slog.Logger

	mu     sync.Mutex
	claims map[string]*claim

	nodes                                       atomic.Int64
	claimFailures, changes, remade, redisErrors atomic.Uint64
	lastErrLog                                  atomic.Int64 // unix nanos, rate-limits Redis error logs

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var _ hub.Claimer = (*Cluster)(nil)

// New parses opts and connects lazily: Redis need not be up yet. Call Run
// to start the heartbeat and refreshes, Close to stop them.
func New(opts Options) (*Cluster, error) {
	if opts.NodeID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return nil, fmt.Errorf("cluster.node_id: empty and no hostname: %v", err)
		}
		opts.NodeID = h
	}
	if opts.Role == "" {
		opts.Role = RoleOrigin
	}
	if opts.Role != RoleOrigin && opts.Role != RoleEdge {
		return nil, fmt.Errorf("cluster.role %q: want origin or edge", opts.Role)
	}
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = opts.TTL / 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ro, err := redis.ParseURL(opts.Redis)
	if err != nil {
		return nil, fmt.Errorf("cluster.redis: %w", err)
	}
	// Fail fast: a call that cannot be answered within OpTimeout is an
	// outage, not something to wait out while a publisher hangs.
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = opts.OpTimeout, opts.OpTimeout, opts.OpTimeout
	ro.MaxRetries = 0
	value, _ := json.Marshal(Owner{Node: opts.NodeID, Advertise: opts.Advertise})
	node, _ := json.Marshal(Node{ID: opts.NodeID, Advertise: opts.Advertise, Role: opts.Role, Started: time.Now().UTC()})
	return &Cluster{
		opts: opts, rdb: redis.NewClient(ro), value: string(value), node: node,
		log:    opts.Logger.With("component", "cluster", "node", opts.NodeID),
		claims: make(map[string]*claim),
		stop:   make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// NodeID returns this node's id.
func (c *Cluster) NodeID() string { return c.opts.NodeID }

// Role returns this node's role.
func (c *Cluster) Role() string { return c.opts.Role }

// TTL returns the claim and heartbeat TTL.
func (c *Cluster) TTL() time.Duration { return c.opts.TTL }

func streamKey(path string) string { return keyPrefix + "stream:" + path }
func nodeKey(id string) string     { return keyPrefix + "node:" + id }

// ctx returns a context bounded by OpTimeout.
func (c *Cluster) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.opts.OpTimeout)
}

// redisFailed counts err and logs it at most once every TTL.
func (c *Cluster) redisFailed(op string, err error) {
	c.redisErrors.Add(1)
	now := time.Now().UnixNano()
	last := c.lastErrLog.Load()
	if now-last < int64(c.opts.TTL) || !c.lastErrLog.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn("cluster: redis unreachable; live streams keep playing, new publishes are refused",
		"op", op, "error", err)
}

// Stats returns the counters for metrics.
func (c *Cluster) Stats() Stats {
	c.mu.Lock()
	owned := len(c.claims)
	c.mu.Unlock()
	return Stats{Nodes: int(c.nodes.Load()), Owned: owned, ClaimFailures: c.claimFailures.Load(),
		OwnershipChanges: c.changes.Load(), Remade: c.remade.Load(), RedisErrors: c.redisErrors.Load()}
}

// Owned returns the paths this node owns now.
func (c *Cluster) Owned() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.claims))
	for p := range c.claims {
		out = append(out, p)
	}
	return out
}
