// Package fanout writes a live stream to many viewers with few goroutines:
// "fan-out groups", shared by the servers whose viewers are a byte stream
// over a socket (RTMP play, HTTP/1.1 HTTP-FLV).
//
// One goroutine writes for up to GroupSize viewers of a stream that have
// caught up with the live edge, instead of one goroutine per viewer woken
// per video frame. The group's goroutine blocks in one member's (the
// leader's) hub read; once woken, it takes what is new for every member
// without blocking (hub.Reader.Read with a cancelled context) and writes it
// with one non-blocking writev per member (netutil.TryWriter). Those writes
// never wait: a member whose socket takes less than the whole batch gets
// its own goroutine again with the rest of the batch, byte-exact, blocking
// writes and the write timeout, so a slow viewer never holds up the others;
// it rejoins a group once it has caught up. The group still renews each
// member's write deadline (at most every half timeout), which bounds the
// connection's other writes as before.
//
// A connection may have other writers (RTMP's reader goroutine answers
// commands and pings): pooled writes hold the connection's write lock, the
// group only tries it (a member being written to by someone else gets this
// batch written by its own goroutine instead of making the group wait),
// and a member whose socket took only part of a batch is handed to its own
// goroutine with the lock still held, which writes the rest before
// releasing it.
//
// A protocol implements Conn (framing and locking); Viewer is the rest.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/netutil"
)

// GroupSize is the most viewers one group goroutine writes for: small
// enough that the last member of a group is written within a millisecond
// or so, large enough that 500 viewers wake 8 goroutines per video frame
// rather than 500.
const GroupSize = 64

// idleCheck bounds how long a group waits for its leader's next packet.
const idleCheck = time.Second

// doneCtx is cancelled: Reader.Read with it returns what is available at
// once, or context.Canceled when nothing is.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Conn is the protocol side of a viewer's connection.
type Conn interface {
	// AppendBatch appends to bufs the bytes that carry batch to the viewer,
	// framing included, and returns the result. The payloads must be
	// shared, not copied; the bytes must stay unchanged until the next
	// call (only one writer at a time calls it).
	AppendBatch(bufs net.Buffers, batch []*av.Packet) net.Buffers
	// TryLockWrite takes the connection's write lock if it is free, and
	// UnlockWrite (from any goroutine) releases it. A connection with no
	// other writer returns true and does nothing.
	TryLockWrite() bool
	UnlockWrite()
	// AddWritten counts n bytes written directly under the lock.
	AddWritten(n int)
	// WriteBuffers writes bufs with blocking writes, consuming it as
	// net.Buffers.WriteTo does; locked says the caller holds the write
	// lock already. The write deadline is set by the caller.
	WriteBuffers(bufs *net.Buffers, locked bool) error
	// Finish is called on the viewer's own goroutine once reading or
	// writing failed with err, unless the viewer was stopped; it may block
	// (up to the write timeout). Nothing else writes for the viewer then.
	Finish(err error)
}

// Groups holds a server's live groups by stream. The zero value is ready.
// Lock order: Viewer.mu, then Groups.mu, then group.mu.
type Groups struct {
	mu sync.Mutex
	m  map[*hub.Stream][]*group
}

// Viewers returns how many viewers are written by groups.
func (gs *Groups) Viewers() int {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	n := 0
	for _, list := range gs.m {
		for _, g := range list {
			g.mu.Lock()
			n += len(g.members)
			g.mu.Unlock()
		}
	}
	return n
}

// Len returns how many groups are live.
func (gs *Groups) Len() int {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	n := 0
	for _, list := range gs.m {
		n += len(list)
	}
	return n
}

// Viewer feeds one viewer from a hub reader. It is written either by a
// group's goroutine together with other viewers of the stream (pooled:
// non-blocking writes) or by a goroutine of its own (blocking writes with
// the write timeout): every viewer starts on its own goroutine, joins a
// group once it has caught up with the live edge, and gets its own
// goroutine again while its socket is full.
type Viewer struct {
	conn    Conn
	nc      net.Conn // for write deadlines
	reader  *hub.Reader
	timeout time.Duration
	groups  *Groups

	ctx     context.Context
	cancel  context.CancelFunc
	started bool          // Start was called (Start and Stop: one goroutine)
	done    chan struct{} // closed when nothing writes for the viewer any more
	err     error         // what ended it, set before done is closed

	// raw writes to the socket without blocking; nil (TLS) keeps the
	// viewer on its own goroutine.
	raw *netutil.TryWriter
	// mu orders joining a group against Stop.
	mu sync.Mutex
	// grp is the group writing for the viewer, nil when on its own
	// goroutine or finished; changed under grp.mu (and mu to join).
	grp atomic.Pointer[group]

	deadline netutil.WriteDeadline // owned by whoever writes
}

// NewViewer returns a viewer of reader writing to nc through c, grouped
// in gs, ending with ctx. Start it with Start.
func NewViewer(ctx context.Context, gs *Groups, nc net.Conn, reader *hub.Reader, timeout time.Duration, c Conn) *Viewer {
	ctx, cancel := context.WithCancel(ctx)
	return &Viewer{conn: c, nc: nc, reader: reader, timeout: timeout, groups: gs,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), raw: netutil.NewTryWriter(nc)}
}

// Start starts writing for the viewer, on a goroutine of its own.
func (v *Viewer) Start() {
	v.started = true
	go v.own(nil, false)
}

// Done is closed when nothing writes for the viewer any more.
func (v *Viewer) Done() <-chan struct{} { return v.done }

// Err returns, once Done is closed, the error that ended the viewer: nil
// or a context error when it was stopped.
func (v *Viewer) Err() error { return v.err }

// Stop ends the viewer and waits until nothing writes for it. It may be
// called more than once, and without Start (a play that failed to start),
// from the goroutine that calls Start.
func (v *Viewer) Stop() {
	v.cancel()
	if !v.started {
		v.started = true
		close(v.done)
		return
	}
	v.leave()
	<-v.done
}

// join hands v, which has caught up and holds no pending bytes, to a group
// of its stream; false when the viewer is ending.
func (v *Viewer) join() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ctx.Err() != nil {
		return false
	}
	gs, key := v.groups, v.reader.Stream()
	gs.mu.Lock()
	var g *group
	for _, cand := range gs.m[key] {
		cand.mu.Lock()
		if !cand.closed && len(cand.members) < GroupSize {
			g = cand
			break
		}
		cand.mu.Unlock()
	}
	start := g == nil
	if start {
		g = &group{gs: gs, key: key, batch: make([]*av.Packet, 0, 64), store: make(net.Buffers, 0, 128)}
		g.mu.Lock()
		if gs.m == nil {
			gs.m = make(map[*hub.Stream][]*group)
		}
		gs.m[key] = append(gs.m[key], g)
	}
	gs.mu.Unlock()
	g.members = append(g.members, v)
	v.grp.Store(g)
	g.mu.Unlock()
	if start {
		go g.run()
	}
	return true
}

// leave takes a stopping viewer (ctx cancelled) out of its group, if it is
// in one. The leader is left to the group's goroutine, whose Read returns
// at once; every path that takes a member out closes its done.
func (v *Viewer) leave() {
	v.mu.Lock()
	defer v.mu.Unlock()
	g := v.grp.Load()
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if v.grp.Load() != g || g.leader == v {
		return
	}
	if i := slices.Index(g.members, v); i >= 0 {
		g.members = slices.Delete(g.members, i, i+1)
	}
	v.grp.Store(nil)
	close(v.done)
}

// finish ends a viewer whose reading or writing failed with err (on the
// viewer's own goroutine: Conn.Finish may block) and releases it.
func (v *Viewer) finish(err error) {
	defer close(v.done)
	v.err = err
	if v.ctx.Err() != nil {
		return // stopped
	}
	v.conn.Finish(err)
}

// errPooled ends own: the viewer joined a group.
var errPooled = errors.New("joined a fan-out group")

// own is the viewer's own goroutine: it writes pending (what is left of a
// batch its group could not write, or all of it) and then reads and writes
// with blocking writes until the viewer can join a group or ends. When
// locked is set, pending is the rest of a short write and the connection's
// write lock is still held for it: own releases it.
func (v *Viewer) own(pending net.Buffers, locked bool) {
	err := v.ownLoop(pending, locked)
	if err == errPooled {
		return
	}
	v.finish(err)
}

func (v *Viewer) ownLoop(pending net.Buffers, locked bool) error {
	if locked {
		err := v.write(&pending, true)
		v.conn.UnlockWrite()
		if err != nil {
			return err
		}
	} else if len(pending) > 0 {
		if err := v.write(&pending, false); err != nil {
			return err
		}
	}
	batch := make([]*av.Packet, 0, 64)
	store := make(net.Buffers, 0, 2*cap(batch))
	for {
		var err error
		if v.raw == nil {
			batch, err = v.reader.Read(v.ctx, batch[:0])
		} else if batch, err = v.reader.Read(doneCtx, batch[:0]); err == context.Canceled && v.ctx.Err() == nil {
			// Caught up with the live edge: a group takes over.
			if v.join() {
				return errPooled
			}
			batch, err = v.reader.Read(v.ctx, batch[:0])
		}
		if err != nil {
			return err
		}
		bufs := v.conn.AppendBatch(store[:0], batch)
		if err := v.write(&bufs, false); err != nil {
			return err
		}
	}
}

// write sends bufs from the viewer's own goroutine: blocking, with the
// write timeout.
func (v *Viewer) write(bufs *net.Buffers, locked bool) error {
	if err := v.deadline.Extend(v.nc, v.timeout); err != nil {
		return err
	}
	if err := v.conn.WriteBuffers(bufs, locked); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

type group struct {
	gs  *Groups
	key *hub.Stream

	mu      sync.Mutex
	members []*Viewer
	leader  *Viewer // member whose Read the goroutine waits in
	closed  bool    // the goroutine has ended: join another group

	// Scratch space of the group's goroutine.
	batch []*av.Packet
	store net.Buffers
	iov   netutil.Iovecs
}

func (g *group) run() {
	gs := g.gs
	for {
		g.mu.Lock()
		if len(g.members) == 0 {
			g.mu.Unlock()
			gs.mu.Lock()
			g.mu.Lock()
			if len(g.members) == 0 {
				g.closed = true
				list := gs.m[g.key]
				if i := slices.Index(list, g); i >= 0 {
					list = slices.Delete(list, i, i+1)
				}
				if len(list) == 0 {
					delete(gs.m, g.key)
				} else {
					gs.m[g.key] = list
				}
				g.mu.Unlock()
				gs.mu.Unlock()
				return
			}
			gs.mu.Unlock()
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
func (g *group) serve(m *Viewer, batch []*av.Packet, err error, now time.Time) bool {
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
	bufs := m.conn.AppendBatch(g.store[:0], batch)
	g.store = bufs[:0]
	if !m.conn.TryLockWrite() {
		// Another writer holds the connection: this batch goes out from
		// m's own goroutine, through the lock.
		m.grp.Store(nil)
		go m.own(append(net.Buffers(nil), bufs...), false)
		return false
	}
	if err := m.deadline.ExtendAt(m.nc, now, m.timeout); err != nil {
		m.conn.UnlockWrite()
		m.grp.Store(nil)
		go m.finish(err)
		return false
	}
	n, err := m.raw.Write(bufs, &g.iov)
	m.conn.AddWritten(n)
	if err != nil {
		m.conn.UnlockWrite()
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
		// released (nothing may be written inside a partial message or
		// chunk).
		m.grp.Store(nil)
		go m.own(netutil.Rest(bufs, n), true)
		return false
	}
	m.conn.UnlockWrite()
	return true
}
