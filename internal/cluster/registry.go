package cluster

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// maxKeys bounds how many registry or claim keys one listing reads.
const maxKeys = 10000

// scan returns up to maxKeys keys matching pattern.
func (c *Cluster) scan(ctx context.Context, pattern string) ([]string, error) {
	var keys []string
	iter := c.rdb.Scan(ctx, 0, pattern, 500).Iterator()
	for iter.Next(ctx) && len(keys) < maxKeys {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

func (c *Cluster) countKeys(pattern string) (int, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	keys, err := c.scan(ctx, pattern)
	return len(keys), err
}

// NodeView is one node and the paths it owns, for the API.
type NodeView struct {
	Node
	// Alive is false for a node whose heartbeat expired while claims of
	// it still live (it died less than a TTL ago).
	Alive bool `json:"alive"`
	// Streams are the paths the node owns, sorted.
	Streams []string `json:"streams"`
}

// View lists the registered nodes with their streams, sorted by id. Claims
// of a node whose heartbeat expired (it died; the claims outlive it by at
// most TTL) are listed under a node with only its id.
func (c *Cluster) View() ([]NodeView, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	byID := map[string]*NodeView{}
	nodeKeys, err := c.scan(ctx, keyPrefix+"node:*")
	if err != nil {
		c.redisFailed("view", err)
		return nil, err
	}
	if err := c.mget(ctx, nodeKeys, func(_ string, v string) {
		var n Node
		if json.Unmarshal([]byte(v), &n) == nil && n.ID != "" {
			byID[n.ID] = &NodeView{Node: n, Alive: true, Streams: []string{}}
		}
	}); err != nil {
		return nil, err
	}
	streamKeys, err := c.scan(ctx, keyPrefix+"stream:*")
	if err != nil {
		c.redisFailed("view", err)
		return nil, err
	}
	if err := c.mget(ctx, streamKeys, func(k string, v string) {
		o, err := parseOwner(v)
		if err != nil {
			return
		}
		nv := byID[o.Node]
		if nv == nil {
			nv = &NodeView{Node: Node{ID: o.Node, Advertise: o.Advertise}, Streams: []string{}}
			byID[o.Node] = nv
		}
		nv.Streams = append(nv.Streams, strings.TrimPrefix(k, keyPrefix+"stream:"))
	}); err != nil {
		return nil, err
	}
	out := make([]NodeView, 0, len(byID))
	for _, nv := range byID {
		sort.Strings(nv.Streams)
		out = append(out, *nv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// mget reads keys in batches and calls f for each one that exists.
func (c *Cluster) mget(ctx context.Context, keys []string, f func(key, value string)) error {
	for len(keys) > 0 {
		n := min(len(keys), 500)
		vals, err := c.rdb.MGet(ctx, keys[:n]...).Result()
		if err != nil && err != redis.Nil {
			c.redisFailed("mget", err)
			return err
		}
		for i, v := range vals {
			if s, ok := v.(string); ok {
				f(keys[i], s)
			}
		}
		keys = keys[n:]
	}
	return nil
}
