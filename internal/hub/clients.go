package hub

import (
	"errors"
	"sort"
	"sync/atomic"
	"time"
)

// ErrKicked is returned by Reader.Read once the reader was kicked by an
// operator (Stream.KickReader, Hub.KickReader): the viewer's connection
// should end.
var ErrKicked = errors.New("hub: reader kicked")

// readerIDs numbers readers; IDs are unique for the life of the process.
var readerIDs atomic.Uint64

func nextReaderID() uint64 { return readerIDs.Add(1) }

// ClientStats is a point-in-time snapshot of one reader (viewer) of a
// stream, for the API.
type ClientStats struct {
	// ID identifies the reader for Stream.KickReader and Hub.KickReader;
	// unique for the life of the process, never 0.
	ID uint64
	// ClientInfo is the reader's protocol and remote address.
	ClientInfo
	// Since is when the reader attached.
	Since time.Time
	// Skips is how many times the reader jumped ahead to a keyframe.
	Skips uint64
	// Kicked reports that the reader was kicked and is being disconnected.
	Kicked bool
}

// ID returns the reader's ID (see ClientStats.ID).
func (r *Reader) ID() uint64 { return r.id }

// Clients returns a snapshot of the stream's readers, oldest first.
func (s *Stream) Clients() []ClientStats {
	// The write lock excludes every Read (which holds the read lock while
	// it updates a reader's skip count), so the counts read here are
	// consistent without atomics on the hot path.
	s.mu.Lock()
	out := make([]ClientStats, 0, len(s.readers))
	for r := range s.readers {
		out = append(out, ClientStats{ID: r.id, ClientInfo: r.info, Since: r.since, Skips: r.skipped, Kicked: r.kicked})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// KickReader disconnects the reader with the given ID: its pending or next
// Read returns ErrKicked at once. It reports whether such a reader is
// attached to s (and was not already kicked).
func (s *Stream) KickReader(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r := range s.readers {
		if r.id == id {
			if r.kicked {
				return false
			}
			r.kicked = true
			s.hub.opts.Logger.Info("reader kicked", "path", s.path, "proto", r.info.Protocol,
				"remote", r.info.Remote, "id", id)
			s.wake() // waiting readers re-check; the kicked one returns
			return true
		}
	}
	return false
}

// Kick ends the stream at once, without a republish grace period: its
// publisher (if any) is disconnected (Publisher.Done closes) and readers get
// ErrEnded once drained. It reports false if the stream had already ended.
func (s *Stream) Kick(reason string) bool {
	if s.Ended() {
		return false
	}
	s.end(reason)
	return true
}

// KickReader kicks the reader with the given ID on whichever stream it
// reads (see Stream.KickReader). It reports whether one was found.
func (h *Hub) KickReader(id uint64) bool {
	for _, s := range h.Streams() {
		if s.KickReader(id) {
			return true
		}
	}
	return false
}
