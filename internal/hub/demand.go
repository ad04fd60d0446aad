package hub

import "context"

// Demand brings up the stream at path when nothing publishes there: it
// calls Options.Demand (a pulled source started on demand, an edge pull
// from the owner node), which returns once the stream has media, fails,
// or ctx ends. Every entry point that would answer "not found" calls it
// first (RTMP play, HTTP-FLV/WS-FLV, HLS and DASH playlists, WHEP). It
// returns nil at once when the path has a publisher or no Demand is set;
// an error means the stream could not be brought up (the caller then
// answers "not found" as before).
func (h *Hub) Demand(ctx context.Context, path string) error {
	if h.opts.Demand == nil {
		return nil
	}
	if s := h.Stream(path); s != nil && s.HasPublisher() {
		return nil
	}
	return h.opts.Demand(ctx, path)
}

// HasPublisher reports whether the stream has a publisher now (false
// during its republish grace period).
func (s *Stream) HasPublisher() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.publisher != nil && !s.ended
}
