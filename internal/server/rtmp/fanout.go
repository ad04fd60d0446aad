package rtmpserver

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/netutil"
)

// Fan-out groups: one goroutine writes for up to groupSize viewers of a
// stream that have caught up with the live edge, instead of one goroutine
// per viewer woken per video frame. The group's goroutine blocks in one
// member's (the leader's) hub read; once woken, it takes what is new for
// every member without blocking (Reader.Read with a cancelled context) and
// writes it with one non-blocking writev per member (netutil.TryWriter).
// Those writes never wait: a member whose socket takes less than the whole
// batch gets its own goroutine again (playSession.own) with the rest of
// the batch, blocking writes and the write timeout, so a slow viewer never
// holds up the others; it rejoins a group once it has caught up. The group
// still renews each member's write deadline (at most every half timeout),
// which bounds the connection's other writes as before.
//
// Pooled writes hold the rtmp.Conn's write lock, which the connection's
// reader goroutine also takes for its replies (acknowledgements, ping
// responses, command results), so the two never interleave: the group
// only tries the lock (a member being written to by its reader goroutine
// gets this batch written by its own goroutine instead of making the group
// wait), and a member whose socket took only part of a batch is handed to
// its own goroutine with the lock still held, which writes the rest before
// releasing it.

// groupSize is the most viewers one group goroutine writes for: small
// enough that the last member of a group is written within a millisecond
// or so, large enough that 500 viewers wake 8 goroutines per video frame
// rather than 500.
const groupSize = 64

// idleCheck bounds how long a group waits for its leader's next packet.
const idleCheck = time.Second

// doneCtx is cancelled: Reader.Read with it returns what is available at
// once, or context.Canceled when nothing is.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

type groupKey struct {
	srv    *Server // its ChunkSize shapes the shared chunks
	stream *hub.Stream
}

// groups holds the live groups by server and stream. Lock order:
// playSession.mu, then groups.mu, then fanGroup.mu.
var groups = struct {
	mu sync.Mutex
	m  map[groupKey][]*fanGroup
}{m: make(map[groupKey][]*fanGroup)}

type fanGroup struct {
	key groupKey

	mu      sync.Mutex
	members []*playSession
	leader  *playSession // member whose Read the goroutine waits in
	closed  bool         // the goroutine has ended: join another group

	// Scratch space of the group's goroutine.
	batch []*av.Packet
	store net.Buffers
	iov   []syscall.Iovec
}

// joinGroup hands ps, which has caught up and holds no pending bytes, to
// a group of its stream; false when the session is ending.
func joinGroup(ps *playSession) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.ctx.Err() != nil {
		return false
	}
	key := groupKey{ps.c.srv, ps.reader.Stream()}
	groups.mu.Lock()
	var g *fanGroup
	for _, cand := range groups.m[key] {
		cand.mu.Lock()
		if !cand.closed && len(cand.members) < groupSize {
			g = cand
			break
		}
		cand.mu.Unlock()
	}
	start := g == nil
	if start {
		g = &fanGroup{key: key, batch: make([]*av.Packet, 0, 64), store: make(net.Buffers, 0, 128)}
		g.mu.Lock()
		groups.m[key] = append(groups.m[key], g)
	}
	groups.mu.Unlock()
	g.members = append(g.members, ps)
	ps.grp.Store(g)
	g.mu.Unlock()
	if start {
		go g.run()
	}
	return true
}

// leave takes a stopping session (ctx cancelled) out of its group, if it
// is in one. The leader is left to the group's goroutine, whose Read
// returns at once; every path that takes a member out closes its done.
func (ps *playSession) leave() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	g := ps.grp.Load()
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if ps.grp.Load() != g || g.leader == ps {
		return
	}
	if i := slices.Index(g.members, ps); i >= 0 {
		g.members = slices.Delete(g.members, i, i+1)
	}
	ps.grp.Store(nil)
	close(ps.done)
}

func (g *fanGroup) run() {
	for {
		g.mu.Lock()
		if len(g.members) == 0 {
			g.mu.Unlock()
			groups.mu.Lock()
			g.mu.Lock()
			if len(g.members) == 0 {
				g.closed = true
				list := groups.m[g.key]
				if i := slices.Index(list, g); i >= 0 {
					list = slices.Delete(list, i, i+1)
				}
				if len(list) == 0 {
					delete(groups.m, g.key)
				} else {
					groups.m[g.key] = list
				}
				g.mu.Unlock()
				groups.mu.Unlock()
				return
			}
			groups.mu.Unlock()
		}
		leader := g.members[0]
		g.leader = leader
		g.mu.Unlock()

		// The timeout lets the group notice, while the stream is idle, a
		// member kicked through the API (the hub wakes every reader, but
		// only the leader's Read would see it).
		wctx, cancel := context.WithTimeout(leader.ctx, idleCheck)
		batch, err := leader.reader.Read(wctx, g.batch[:0])
		cancel()
		if err == context.DeadlineExceeded && leader.ctx.Err() == nil {
			err = context.Canceled // nothing new, as from a member's Read
		}

		g.mu.Lock()
		g.leader = nil
		now := time.Now()
		// The leader is still members[0]: only this goroutine removes it,
		// and joins append.
		keep := g.serve(leader, batch, err, now)
		kept := g.members[:0]
		if keep {
			kept = append(kept, leader)
		}
		for _, m := range g.members[1:] {
			if m.ctx.Err() != nil {
				err = m.ctx.Err()
			} else {
				batch, err = m.reader.Read(doneCtx, g.batch[:0])
			}
			if g.serve(m, batch, err, now) {
				kept = append(kept, m)
			}
		}
		clear(g.members[len(kept):])
		g.members = kept
		clear(g.batch[:cap(g.batch)])
		clear(g.store[:cap(g.store)])
		g.mu.Unlock()
	}
}

// serve writes what m's Read returned. It reports whether m stays in the
// group; a member leaving is released (done closed) or handed to its own
// goroutine. Caller holds g.mu.
func (g *fanGroup) serve(m *playSession, batch []*av.Packet, err error, now time.Time) bool {
	if err == context.Canceled && m.ctx.Err() == nil {
		return true // nothing new
	}
	if err != nil {
		m.grp.Store(nil)
		if m.ctx.Err() != nil {
			close(m.done) // stopping: nothing more to write
		} else {
			go m.finish(err)
		}
		return false
	}
	srv := m.c.srv
	bufs := m.appendBatch(g.store[:0], batch)
	g.store = bufs[:0]
	wire := m.c.wire
	if !wire.TryLockWrite() {
		// The reader goroutine is writing a reply: this batch goes out
		// from m's own goroutine, through the lock.
		m.grp.Store(nil)
		go m.own(append(net.Buffers(nil), bufs...), false)
		return false
	}
	if err := m.deadline.ExtendAt(m.c.nc, now, srv.WriteTimeout); err != nil {
		wire.UnlockWrite()
		m.grp.Store(nil)
		go m.finish(err)
		return false
	}
	n, err := m.raw.Write(bufs, &g.iov)
	wire.AddWritten(n)
	if err != nil {
		wire.UnlockWrite()
		m.grp.Store(nil)
		go m.finish(fmt.Errorf("write: %w", err))
		return false
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if n < total {
		// Socket full: the rest goes out from m's own goroutine, with
		// blocking writes and the write timeout, before the lock is
		// released (nothing may be written inside a partial message).
		m.grp.Store(nil)
		go m.own(netutil.Rest(bufs, n), true)
		return false
	}
	wire.UnlockWrite()
	return true
}
