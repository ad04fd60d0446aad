package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoRecording means no recorded media covers the requested time.
var ErrNoRecording = errors.New("record: no recording covers that time")

// maxVODSegments bounds a VOD playlist (a week of 10 s segments).
const maxVODSegments = 60480

// span is one file's part of a playback range.
type span struct {
	file  string // name in the stream's directory
	full  string // path on disk
	start time.Time
	ix    *FileIndex
	// first and last bound the fragments used, [first, last).
	first, last int
}

// wallOf is the wall-clock start of fragment i of s.
func (s *span) wallOf(i int) time.Time { return s.start.Add(s.ix.Fragments[i].Start) }

// continues reports whether b plays on from a without a discontinuity:
// the same init section and decode times going on (within half a second).
func continues(a, b *span) bool {
	if !bytes.Equal(a.ix.Init, b.ix.Init) {
		return false
	}
	return math.Abs(b.ix.zero-a.ix.end) < 0.5
}

// spans returns the files of path with fragments in [from, to): the first
// span starts at the last keyframe fragment at or before from (or the
// first one after it), each following one at its file's start. keep
// decides, per fragment, whether to include it given its wall start and
// duration; the first keyframe fragment is always included.
func (c *Catalog) spans(path string, from, to time.Time, keep func(wall time.Time, d time.Duration) bool) ([]*span, error) {
	files, err := c.Files(path)
	if err != nil {
		return nil, err
	}
	var out []*span
	for i, f := range files {
		start, _ := fileStart(f)
		if i+1 < len(files) {
			if next, _ := fileStart(files[i+1]); !next.After(from) && len(out) == 0 {
				continue // ends before from (files do not overlap)
			}
		}
		full := filepath.Join(c.dir, filepath.FromSlash(path), f)
		ix, _, err := c.Index(full)
		if err != nil || len(ix.Fragments) == 0 {
			continue
		}
		s := &span{file: f, full: full, start: start, ix: ix, first: -1}
		if len(out) == 0 {
			for j := range ix.Fragments {
				if !ix.Fragments[j].Key {
					continue
				}
				if s.first < 0 || !s.wallOf(j).After(from) {
					s.first = j
				}
			}
			if s.first < 0 || s.start.Add(ix.Duration()).Before(from) {
				continue
			}
			if !s.wallOf(s.first).Before(to) {
				break // the range ends before this file begins
			}
		} else {
			s.first = 0
		}
		s.last = s.first
		for j := s.first; j < len(ix.Fragments); j++ {
			fr := ix.Fragments[j]
			if (len(out) > 0 || j > s.first) && !keep(s.wallOf(j), fr.Duration) {
				break
			}
			s.last = j + 1
		}
		if s.last == s.first {
			break
		}
		out = append(out, s)
		if s.last < len(ix.Fragments) {
			break
		}
	}
	if len(out) == 0 {
		return nil, ErrNoRecording
	}
	return out, nil
}

// WriteClip writes one playable fMP4 of path's recordings: from the last
// keyframe at or before from, for dur of media, across files as long as
// they continue one another (same tracks and codec configuration, no
// gap). Decode times are rebased to start at 0. The media data is copied
// from the files as it is written.
func (c *Catalog) WriteClip(w io.Writer, path string, from time.Time, dur time.Duration) error {
	var end time.Time
	keepOne := func(wall time.Time, d time.Duration) bool {
		// A fragment is in when most of it is before the end: the clip is
		// within half a fragment of dur.
		return wall.Add(d / 2).Before(end)
	}
	// The end counts from the keyframe the clip starts at.
	probe, err := c.spans(path, from, from.Add(dur), func(time.Time, time.Duration) bool { return false })
	if err != nil {
		return err
	}
	end = probe[0].wallOf(probe[0].first).Add(dur)
	spans, err := c.spans(path, from, from.Add(dur), keepOne)
	if err != nil {
		return err
	}
	for i := 1; i < len(spans); i++ {
		if !continues(spans[i-1], spans[i]) {
			spans = spans[:i]
			break
		}
	}
	first := spans[0]
	// T0: the decode time (s) the clip starts at, the same for every track.
	t0 := first.ix.zero + first.ix.Fragments[first.first].Start.Seconds()
	if _, err := w.Write(first.ix.Init); err != nil {
		return err
	}
	seq := uint32(0)
	for _, s := range spans {
		f, err := os.Open(s.full)
		if err != nil {
			return err
		}
		err = writeFragments(w, f, s, t0, &seq)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// writeFragments copies s's fragments from f to w with rebased decode
// times and renumbered sequence numbers.
func writeFragments(w io.Writer, f *os.File, s *span, t0 float64, seq *uint32) error {
	for j := s.first; j < s.last; j++ {
		fr := s.ix.Fragments[j]
		var hdr [4]byte
		if _, err := f.ReadAt(hdr[:], fr.Offset); err != nil {
			return err
		}
		moofSize := int64(binary.BigEndian.Uint32(hdr[:]))
		moof := make([]byte, moofSize)
		if _, err := f.ReadAt(moof, fr.Offset); err != nil {
			return err
		}
		trafs, err := parseMoof(moof)
		if err != nil {
			return fmt.Errorf("record: %s changed while read: %w", s.file, err)
		}
		*seq++
		if len(moof) >= 24 && string(moof[12:16]) == "mfhd" {
			binary.BigEndian.PutUint32(moof[20:], *seq)
		}
		for _, t := range trafs {
			ti := s.ix.track(t.trackID)
			off := uint64(math.Round(t0 * float64(ti.Timescale)))
			base := uint64(0)
			if t.base > off {
				base = t.base - off
			}
			if t.baseV1 {
				binary.BigEndian.PutUint64(moof[t.baseAt:], base)
			} else {
				binary.BigEndian.PutUint32(moof[t.baseAt:], uint32(base))
			}
		}
		if _, err := w.Write(moof); err != nil {
			return err
		}
		if _, err := io.Copy(w, io.NewSectionReader(f, fr.Offset+moofSize, fr.Size-moofSize)); err != nil {
			return err
		}
	}
	return nil
}

// WriteVOD writes an HLS VOD playlist (RFC 8216 §4.3.3.5
// EXT-X-PLAYLIST-TYPE VOD) of path's recordings from the last keyframe
// at or before from until to. Segments are byte ranges of the files
// (§4.3.2.2 EXT-X-BYTERANGE), each from one keyframe fragment to the
// next; each file's init section is its EXT-X-MAP (§4.3.2.5), and a file
// that does not continue the previous one is marked
// EXT-X-DISCONTINUITY. fileURL gives the URI of a file.
func (c *Catalog) WriteVOD(w io.Writer, path string, from, to time.Time, fileURL func(file string) string) error {
	spans, err := c.spans(path, from, to, func(wall time.Time, _ time.Duration) bool { return wall.Before(to) })
	if err != nil {
		return err
	}
	type seg struct {
		dur      float64
		off, len int64
	}
	var body strings.Builder
	target, n := 1.0, 0
	for i, s := range spans {
		var segs []seg
		for j := s.first; j < s.last && n < maxVODSegments; {
			k := j + 1
			for k < s.last && !s.ix.Fragments[k].Key {
				k++
			}
			a, b := s.ix.Fragments[j], s.ix.Fragments[k-1]
			end := b.Start + b.Duration
			if k < len(s.ix.Fragments) {
				end = s.ix.Fragments[k].Start
			}
			d := (end - a.Start).Seconds()
			segs = append(segs, seg{dur: d, off: a.Offset, len: b.Offset + b.Size - a.Offset})
			target = math.Max(target, d)
			j = k
			n++
		}
		if i > 0 && !continues(spans[i-1], s) {
			body.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		u := fileURL(s.file)
		fmt.Fprintf(&body, "#EXT-X-MAP:URI=%q,BYTERANGE=\"%d@0\"\n", u, len(s.ix.Init))
		for _, g := range segs {
			fmt.Fprintf(&body, "#EXTINF:%.3f,\n#EXT-X-BYTERANGE:%d@%d\n%s\n", g.dur, g.len, g.off, u)
		}
	}
	// RFC 8216 §4.3.3.1: the target duration is the longest segment,
	// rounded to the nearest integer (never below it).
	fmt.Fprintf(w, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n",
		int(math.Ceil(target-0.001)))
	if _, err := io.WriteString(w, body.String()); err != nil {
		return err
	}
	_, err = io.WriteString(w, "#EXT-X-ENDLIST\n")
	return err
}
