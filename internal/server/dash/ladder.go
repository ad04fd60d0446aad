package dashserver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/packager"
)

// Ladder describes the adaptive-bitrate renditions of a source stream:
// the video Representations of its MPD.
type Ladder struct {
	// Passthrough lists the source's video as the first Representation.
	Passthrough bool
	// Rungs are the rendition names; rung R of source APP/NAME is the
	// stream APP/NAME_R.
	Rungs []string
}

// Transcoder starts and keeps alive ladders on demand; transcode.Manager
// implements it.
type Transcoder interface {
	// Ensure starts the ladder of source if needed and counts as a use;
	// it reports whether a ladder is running for source.
	Ensure(source string) bool
	// Touch counts as a use of the ladder path belongs to.
	Touch(path string)
}

// ladderOf returns the ladder whose source is path, or nil. A rendition
// is never a source, even where a glob pattern gives it a ladder too.
func (s *Server) ladderOf(path string) *Ladder {
	if s.Ladder == nil || s.isRendition(path) {
		return nil
	}
	l := s.Ladder(path)
	if l == nil || len(l.Rungs) == 0 {
		return nil
	}
	return l
}

// isRendition reports whether path is SOURCE_R, R a rung of SOURCE's
// ladder.
func (s *Server) isRendition(path string) bool {
	slash := strings.LastIndexByte(path, '/')
	for i := len(path) - 1; i > slash+1; i-- {
		if path[i] != '_' {
			continue
		}
		if l := s.Ladder(path[:i]); l != nil {
			for _, r := range l.Rungs {
				if r == path[i+1:] {
					return true
				}
			}
		}
	}
	return false
}

func (s *Server) touch(path string) {
	if s.Transcoder != nil {
		s.Transcoder.Touch(path)
	}
}

// rendition is one transcoded rendition listed in a ladder's MPD.
type rendition struct {
	// name is the rung name (Representation IDs are prefixed with it).
	name string
	// prefix is its media URL prefix relative to the MPD: "NAME_R/dash/".
	prefix string
	// snap is its packager's window.
	snap *packager.Snapshot
	// frameRate returns the frame rate of its video ("" unknown).
	frameRate func(in *packager.Init) string
}

// acquireRenditions starts (or finds) the packager of every rung of
// source's ladder and waits, until ctx ends, for each one's first
// complete segment. Renditions not ready in time are left out. release
// lets the packagers go.
func (s *Server) acquireRenditions(ctx context.Context, source string, l *Ladder) (rs []rendition, release func()) {
	name := source[strings.LastIndexByte(source, '/')+1:]
	out := make([]*rendition, len(l.Rungs))
	rels := make([]func(), len(l.Rungs))
	var wg sync.WaitGroup
	for i, rung := range l.Rungs {
		path := source + "_" + rung
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, rel, err := s.acquireWait(ctx, path)
			if err != nil {
				return
			}
			rels[i] = rel
			if !p.WaitReady(ctx, false) {
				return
			}
			snap := p.Snapshot()
			out[i] = &rendition{name: rung, prefix: name + "_" + rung + "/dash/", snap: snap,
				frameRate: func(in *packager.Init) string { return frameRate(snap, in) }}
		}()
	}
	wg.Wait()
	for _, r := range out {
		if r != nil {
			rs = append(rs, *r)
		}
	}
	return rs, func() {
		for _, rel := range rels {
			if rel != nil {
				rel()
			}
		}
	}
}

// acquireWait is Packagers.Acquire that, for a rendition whose ladder is
// starting, retries until its stream exists or ctx ends.
func (s *Server) acquireWait(ctx context.Context, path string) (*packager.Packager, func(), error) {
	for {
		p, release, err := s.Packagers.Acquire(ctx, path, packager.FormatFMP4)
		if err == nil || !(errors.Is(err, hub.ErrNotFound) || errors.Is(err, hub.ErrNotReady)) {
			return p, release, err
		}
		s.touch(path)
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// addRenditions makes the video AdaptationSet of m's newest Period (built
// from the source's snapshot) list one Representation per rendition after
// the source's own (kept only with passthrough), each with its own
// SegmentTemplate and SegmentTimeline addressing that rendition's media
// (ISO/IEC 23009-1 §5.3.9.6 allows per-Representation timelines). The
// renditions' packagers number and time segments on the source's media
// clock (AlignMSN; aligned keyframes), so each Representation uses the
// source Period's presentationTimeOffset. The audio stays the source's.
func addRenditions(m *MPD, passthrough bool, rs []rendition, o mpdOptions) {
	if len(m.Periods) == 0 {
		return
	}
	p := &m.Periods[len(m.Periods)-1]
	vi := -1
	var pto uint64
	for i := range p.AdaptationSets {
		as := &p.AdaptationSets[i]
		if as.SegmentTemplate != nil {
			pto = as.SegmentTemplate.PresentationTimeOffset
		}
		if as.ContentType == av.KindVideo.String() {
			vi = i
		}
	}
	var reps []Representation
	if vi >= 0 {
		as := &p.AdaptationSets[vi]
		if passthrough {
			for _, rep := range as.Representations {
				rep.SegmentTemplate = as.SegmentTemplate
				reps = append(reps, rep)
			}
		}
		as.SegmentTemplate = nil
	}
	for _, r := range rs {
		ro := o
		ro.prefix = r.prefix
		if r.frameRate != nil {
			ro.frameRate = r.frameRate
		}
		rm := buildMPD(r.snap, ro)
		if len(rm.Periods) == 0 {
			continue
		}
		rp := &rm.Periods[len(rm.Periods)-1]
		for _, as := range rp.AdaptationSets {
			if as.ContentType != av.KindVideo.String() || len(as.Representations) == 0 || as.SegmentTemplate == nil {
				continue
			}
			rep := as.Representations[0]
			rep.ID = r.name + "_" + rep.ID
			tmpl := *as.SegmentTemplate
			if vi >= 0 {
				// Else (audio-only source) pto is in the audio timescale:
				// the rendition's own offset stands.
				tmpl.PresentationTimeOffset = pto
			}
			rep.SegmentTemplate = &tmpl
			reps = append(reps, rep)
		}
	}
	if len(reps) == 0 {
		return
	}
	if vi < 0 {
		p.AdaptationSets = append([]AdaptationSet{{ContentType: av.KindVideo.String(), MimeType: "video/mp4",
			SegmentAlignment: true, StartWithSAP: 1}}, p.AdaptationSets...)
		for i := range p.AdaptationSets {
			p.AdaptationSets[i].ID = i
		}
		vi = 0
	}
	p.AdaptationSets[vi].Representations = reps
}
