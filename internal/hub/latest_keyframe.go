package hub

import "github.com/sluicemedia/sluice/internal/av"

// LatestKeyframe returns the GOP cache's video keyframe, the packet a new
// reader starts at, or nil when the stream holds none (no video, or its
// newest keyframe expired: MaxGOPDuration). Packets are immutable, so the
// caller may keep it (thumbnails decode it without subscribing).
func (s *Stream) LatestKeyframe() *av.Packet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.haveKey || s.lastKeySeq < s.ring.front || s.lastKeySeq >= s.ring.head {
		return nil
	}
	if p := s.ring.at(s.lastKeySeq); p.Kind() == av.KindVideo && p.Key {
		return p
	}
	return nil
}
