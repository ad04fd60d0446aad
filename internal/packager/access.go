package packager

import "context"

// Snapshot returns a consistent copy of the listed window.
//
// Every caller between two changes of the window gets the same Snapshot
// (so what is rendered from it can be shared, Snapshot.Memo): it must not
// be modified.
func (p *Packager) Snapshot() *Snapshot {
	p.win.mu.Lock()
	defer p.win.mu.Unlock()
	if p.win.snap == nil {
		s := &Snapshot{Format: p.opts.Format, SessionID: p.id, PartTarget: p.PartTarget()}
		p.win.snapshotLocked(s)
		p.win.snap = s
	}
	return p.win.snap
}

// Err returns why the stream ended abnormally (nil while running or after
// a normal end).
func (p *Packager) Err() error {
	p.win.mu.Lock()
	defer p.win.mu.Unlock()
	return p.win.endErr
}

// Ended reports whether the packager has ended.
func (p *Packager) Ended() bool {
	p.win.mu.Lock()
	defer p.win.mu.Unlock()
	return p.win.ended
}

// Init returns the init section with the given ID if a retained segment
// (or the current track set) uses it.
func (p *Packager) Init(id int) *Init {
	p.win.mu.Lock()
	defer p.win.mu.Unlock()
	for i := len(p.win.segs) - 1; i >= 0; i-- {
		if in := p.win.segs[i].Init; in != nil && in.ID == id {
			return in
		}
	}
	return nil
}

// Part returns part index of segment msn, or nil if it is not (or no
// longer) in the window.
func (p *Packager) Part(msn uint64, index int) *Part {
	p.win.mu.Lock()
	defer p.win.mu.Unlock()
	s := p.win.find(msn)
	if s == nil || index < 0 || index >= len(s.Parts) {
		return nil
	}
	return s.Parts[index]
}

// Segment returns a copy of segment msn if it is retained (complete or
// open).
func (p *Packager) Segment(msn uint64) (Segment, bool) {
	p.win.mu.Lock()
	defer p.win.mu.Unlock()
	s := p.win.find(msn)
	if s == nil {
		return Segment{}, false
	}
	return *s, true
}

// lastPartLocked returns the position of the newest part. Caller holds mu.
func (w *window) lastPartLocked() (msn uint64, index int, ok bool) {
	for i := len(w.segs) - 1; i >= 0; i-- {
		if n := len(w.segs[i].Parts); n > 0 {
			return w.segs[i].MSN, n - 1, true
		}
	}
	return 0, 0, false
}

// lastCompleteLocked returns the MSN of the newest complete segment.
// Caller holds mu.
func (w *window) lastCompleteLocked() (uint64, bool) {
	for i := len(w.segs) - 1; i >= 0; i-- {
		if w.segs[i].Complete {
			return w.segs[i].MSN, true
		}
	}
	return 0, false
}

// WaitPart blocks until part (msn, index) or a later one is published
// (RFC 8216bis §6.2.5.2: "Partial Segment P of Media Segment M or later"),
// the stream ends or ctx is done; it reports whether the part position was
// reached. It costs no goroutine: it waits on the window's notify channel.
func (p *Packager) WaitPart(ctx context.Context, msn uint64, index int) bool {
	return p.win.wait(ctx, func() bool {
		m, i, ok := p.win.lastPartLocked()
		return ok && (m > msn || (m == msn && i >= index))
	})
}

// WaitSegment blocks until segment msn or a later one is complete, the
// stream ends or ctx is done, and reports whether it is.
func (p *Packager) WaitSegment(ctx context.Context, msn uint64) bool {
	return p.win.wait(ctx, func() bool {
		m, ok := p.win.lastCompleteLocked()
		return ok && m >= msn
	})
}

// WaitReady blocks until there is something to list: a part (parts
// true) or a complete segment (parts false).
func (p *Packager) WaitReady(ctx context.Context, parts bool) bool {
	return p.win.wait(ctx, func() bool {
		if parts {
			_, _, ok := p.win.lastPartLocked()
			if ok {
				return true
			}
		}
		_, ok := p.win.lastCompleteLocked()
		return ok
	})
}

// WaitGrowth blocks until segment msn holds more than parts parts or is
// complete (or a later segment exists), the stream ends or ctx is done,
// and reports whether that happened. DASH streams a segment that is being
// written part by part with it (chunked transfer).
func (p *Packager) WaitGrowth(ctx context.Context, msn uint64, parts int) bool {
	return p.win.wait(ctx, func() bool {
		s := p.win.find(msn)
		if s == nil {
			n := len(p.win.segs)
			return n > 0 && p.win.segs[n-1].MSN > msn
		}
		return len(s.Parts) > parts || s.Complete
	})
}
