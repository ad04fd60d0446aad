package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicemedia/sluice/internal/hub"
)

// refreshScript extends a claim only if this node still holds it (compare
// and refresh); a claim Redis lost (restart without persistence, or expiry
// during an outage) is re-made if no other node took it meanwhile.
// Returns 1 refreshed, 2 re-made, 0 held by another node.
var refreshScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
`)

// releaseScript deletes a claim only if this node holds it (compare and
// delete), so a late release never drops another node's claim.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Claim implements hub.Claimer: it takes path for this node with SET NX PX,
// or accepts a claim this node's value already holds (left by a publisher
// that just left). A path held by another node is refused with hub.ErrBusy;
// Redis down refuses with ErrUnavailable (fail closed). An edge pull of a
// path another node owns claims nothing.
func (c *Cluster) Claim(path string, info hub.ClientInfo, lost func(string)) (func(), error) {
	if c.opts.PullProtocol != "" && info.Protocol == c.opts.PullProtocol {
		o, owned, err := c.Owner(path)
		if err == nil && owned && o.Node != c.opts.NodeID {
			return func() {}, nil // a copy of o's stream
		}
	}
	if c.opts.Role == RoleEdge {
		c.claimFailures.Add(1)
		return nil, ErrEdge
	}
	c.mu.Lock()
	_, mine := c.claims[path]
	c.mu.Unlock()
	if mine {
		// Published here already (another local publisher is attaching):
		// the hub answers busy.
		c.claimFailures.Add(1)
		return nil, fmt.Errorf("%w: published on this node", hub.ErrBusy)
	}
	ctx, cancel := c.ctx()
	defer cancel()
	ok, err := c.rdb.SetNX(ctx, streamKey(path), c.value, c.opts.TTL).Result()
	if err == nil && !ok {
		// Ours already? (A claim whose publisher just left, not yet released.)
		var r int64
		r, err = refreshScript.Run(ctx, c.rdb, []string{streamKey(path)}, c.value, c.opts.TTL.Milliseconds()).Int64()
		ok = err == nil && r != 0
	}
	if err != nil {
		c.claimFailures.Add(1)
		c.redisFailed("claim", err)
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if !ok {
		c.claimFailures.Add(1)
		owner := c.ownerOf(path)
		c.log.Info("cluster: publish refused, path owned by another node", "path", path,
			"proto", info.Protocol, "remote", info.Remote, "owner", owner.Node)
		return nil, fmt.Errorf("%w: owned by node %q", hub.ErrBusy, owner.Node)
	}
	cl := &claim{lost: lost}
	c.mu.Lock()
	c.claims[path] = cl
	c.mu.Unlock()
	c.changes.Add(1)
	c.log.Info("cluster: path claimed", "path", path, "proto", info.Protocol, "remote", info.Remote)
	return func() { c.release(path, cl) }, nil
}

// ownerOf reads path's owner, or the zero Owner if it cannot be read.
func (c *Cluster) ownerOf(path string) Owner {
	o, _, _ := c.Owner(path)
	return o
}

// Owner returns path's owner and whether it is claimed at all.
func (c *Cluster) Owner(path string) (Owner, bool, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	v, err := c.rdb.Get(ctx, streamKey(path)).Result()
	if errors.Is(err, redis.Nil) {
		return Owner{}, false, nil
	}
	if err != nil {
		c.redisFailed("owner", err)
		return Owner{}, false, err
	}
	o, err := parseOwner(v)
	if err != nil {
		return Owner{}, false, fmt.Errorf("cluster: claim of %s: %w", path, err)
	}
	return o, true, nil
}

// maxValue bounds a claim value read from Redis (a node id and an
// address are far shorter).
const maxValue = 4096

// parseOwner parses a claim value. Redis is shared: a value another
// program (or a newer Sluice) wrote must give an error, never a panic.
func parseOwner(v string) (Owner, error) {
	if len(v) > maxValue {
		return Owner{}, fmt.Errorf("value of %d bytes, more than %d", len(v), maxValue)
	}
	var o Owner
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		return Owner{}, fmt.Errorf("bad value: %w", err)
	}
	if o.Node == "" {
		return Owner{}, errors.New("bad value: no node id")
	}
	return o, nil
}

// OwnerID returns the node owning path: this node for its own claims
// (no Redis call), else what Redis says; "" if unclaimed or unknown.
func (c *Cluster) OwnerID(path string) string {
	c.mu.Lock()
	_, mine := c.claims[path]
	c.mu.Unlock()
	if mine {
		return c.opts.NodeID
	}
	return c.ownerOf(path).Node
}

// release forgets cl and deletes its Redis claim if this node still holds
// it. Redis down: the claim expires by itself within TTL.
func (c *Cluster) release(path string, cl *claim) {
	c.mu.Lock()
	if c.claims[path] != cl {
		c.mu.Unlock()
		return // lost already
	}
	delete(c.claims, path)
	c.mu.Unlock()
	ctx, cancel := c.ctx()
	defer cancel()
	if err := releaseScript.Run(ctx, c.rdb, []string{streamKey(path)}, c.value).Err(); err != nil {
		c.redisFailed("release", err)
		return
	}
	c.log.Info("cluster: path released", "path", path)
}

// refresh extends every claim (one pipelined round trip). A claim held by
// another node now is lost: its publisher is kicked. On a Redis error the
// claims are kept: their streams keep playing and the next refresh re-makes
// them.
func (c *Cluster) refresh() {
	c.mu.Lock()
	paths := make([]string, 0, len(c.claims))
	for p := range c.claims {
		paths = append(paths, p)
	}
	c.mu.Unlock()
	if len(paths) == 0 {
		return
	}
	ctx, cancel := c.ctx()
	defer cancel()
	// EVALSHA fails with NOSCRIPT on a Redis that restarted; load it first.
	if err := refreshScript.Load(ctx, c.rdb).Err(); err != nil {
		c.redisFailed("refresh", err)
		return
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(paths))
	for i, p := range paths {
		cmds[i] = refreshScript.EvalSha(ctx, pipe, []string{streamKey(p)}, c.value, c.opts.TTL.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		c.redisFailed("refresh", err)
	}
	for i, cmd := range cmds {
		r, err := cmd.Int64()
		if err != nil {
			continue // counted above; retried next tick
		}
		switch r {
		case 2:
			c.remade.Add(1)
			c.log.Info("cluster: claim re-made after redis lost it", "path", paths[i])
		case 0:
			c.lose(paths[i])
		}
	}
}

// lose drops the claim of path, now held by another node, and tells its
// publisher.
func (c *Cluster) lose(path string) {
	c.mu.Lock()
	cl := c.claims[path]
	delete(c.claims, path)
	c.mu.Unlock()
	if cl == nil {
		return
	}
	c.changes.Add(1)
	owner := c.ownerOf(path)
	c.log.Warn("cluster: ownership lost, publisher stopped", "path", path, "owner", owner.Node)
	if cl.lost != nil {
		cl.lost(fmt.Sprintf("cluster: path now owned by node %q", owner.Node))
	}
}

// heartbeat refreshes this node's registry key and counts the nodes.
func (c *Cluster) heartbeat() {
	ctx, cancel := c.ctx()
	defer cancel()
	if err := c.rdb.Set(ctx, nodeKey(c.opts.NodeID), c.node, c.opts.TTL).Err(); err != nil {
		c.redisFailed("heartbeat", err)
		return
	}
	n, err := c.countKeys(keyPrefix + "node:*")
	if err == nil {
		c.nodes.Store(int64(n))
	}
}

// Run starts the heartbeat and claim refreshes, every TTL/4, until Close.
func (c *Cluster) Run() {
	go func() {
		defer close(c.done)
		c.heartbeat()
		t := time.NewTicker(c.opts.TTL / 4)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				c.refresh()
				c.heartbeat()
			}
		}
	}()
}

// Close stops the loops, releases every claim and deregisters the node so
// other nodes can take its paths at once rather than after TTL.
func (c *Cluster) Close() error {
	c.once.Do(func() {
		close(c.stop)
		select {
		case <-c.done:
		case <-time.After(2 * c.opts.OpTimeout):
		}
		c.mu.Lock()
		claims := c.claims
		c.claims = map[string]*claim{}
		c.mu.Unlock()
		ctx, cancel := c.ctx()
		defer cancel()
		for p := range claims {
			_ = releaseScript.Run(ctx, c.rdb, []string{streamKey(p)}, c.value).Err()
		}
		_ = c.rdb.Del(ctx, nodeKey(c.opts.NodeID)).Err()
	})
	return c.rdb.Close()
}
