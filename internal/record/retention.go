package record

import (
	"os"
	"path/filepath"
	"time"
)

// sweepInterval is how often retention runs: a quarter of DeleteAfter,
// between 1 s and 1 min.
func (m *Manager) sweepInterval() time.Duration {
	d := m.opts.DeleteAfter / 4
	return min(max(d, time.Second), time.Minute)
}

// sweepLoop runs retention until the manager closes.
func (m *Manager) sweepLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.sweepInterval())
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			m.Sweep()
		}
	}
}

// Sweep deletes the files past retention: those last written more than
// DeleteAfter ago, then, per path, the oldest until the path's files fit
// MaxBytes. A file being written is never deleted. It returns how many
// files it deleted.
func (m *Manager) Sweep() int {
	paths, err := m.Catalog.Paths()
	if err != nil {
		m.opts.Logger.Warn("recording retention: cannot list", "proto", "record", "err", err.Error())
		return 0
	}
	deleted := 0
	now := m.opts.Now()
	for _, p := range paths {
		files, err := m.Catalog.Files(p)
		if err != nil {
			continue
		}
		var cap int64
		if m.opts.MaxBytes != nil {
			cap = m.opts.MaxBytes(p)
		}
		type kept struct {
			name string
			size int64
		}
		var keep []kept
		var total int64
		for _, f := range files {
			name := filepath.Join(m.dirOf(p), f)
			st, err := os.Stat(name)
			if err != nil {
				continue
			}
			if m.opts.DeleteAfter > 0 && now.Sub(st.ModTime()) > m.opts.DeleteAfter && !m.isOpen(name) {
				if m.awaitingUpload(p, name) {
					keep = append(keep, kept{name, st.Size()})
					total += st.Size()
					continue
				}
				if m.remove(p, name, "older than record.delete_after") {
					deleted++
				}
				continue
			}
			keep = append(keep, kept{name, st.Size()})
			total += st.Size()
		}
		for i := 0; cap > 0 && total > cap && i < len(keep); i++ {
			if m.isOpen(keep[i].name) || m.awaitingUpload(p, keep[i].name) {
				continue
			}
			if m.remove(p, keep[i].name, "over the path's record.max_bytes") {
				deleted++
				total -= keep[i].size
			}
		}
	}
	return deleted
}

// awaitingUpload reports whether retention must keep name because it is
// to be uploaded (record.upload) and is not yet: deleting it would lose
// the only copy while the store is down. Such files still count toward
// MaxBytes, so uploaded ones go first. The first time a file is held, one
// log line says so.
func (m *Manager) awaitingUpload(path, name string) bool {
	if m.up == nil {
		return false
	}
	if _, err := os.Stat(name + uploadedSuffix); err == nil {
		return false
	}
	m.heldMu.Lock()
	first := !m.held[name]
	if first && len(m.held) < maxHeldLogged {
		if m.held == nil {
			m.held = map[string]bool{}
		}
		m.held[name] = true
	}
	m.heldMu.Unlock()
	if first {
		m.opts.Logger.Warn("recording kept past retention: not uploaded yet", "proto", "record", "path", path, "file", name)
	}
	return true
}

// maxHeldLogged bounds the files awaitingUpload remembers having logged.
const maxHeldLogged = 10000

func (m *Manager) remove(path, name, why string) bool {
	m.heldMu.Lock()
	delete(m.held, name)
	m.heldMu.Unlock()
	err := os.Remove(name)
	m.Catalog.Invalidate(name)
	_ = os.Remove(name + uploadedSuffix)
	if err != nil {
		m.opts.Logger.Warn("recording retention: delete failed", "proto", "record", "path", path, "file", name, "err", err.Error())
		return false
	}
	m.opts.Logger.Info("recording deleted", "proto", "record", "path", path, "file", name, "reason", why)
	return true
}
