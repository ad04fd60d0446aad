package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The index of a recording file is built by reading its boxes (ISO/IEC
// 14496-12): the init section's tracks and, per fragment, the moof's
// tfdt and trun sample durations, never the media data. Files may be
// truncated or corrupt (a crash, a full disk, a hand-edited file): the
// parser stops at the first incomplete or malformed box and keeps the
// fragments before it.

// Bounds of what the parser reads.
const (
	maxInitSize      = 1 << 20
	maxMoofSize      = 4 << 20
	maxFragments     = 1 << 20
	sampleNonSyncBit = 1 << 16
)

// Fragment is one moof+mdat of a file.
type Fragment struct {
	// Offset and Size locate the moof and its mdat in the file.
	Offset, Size int64
	// Start is its first sample's decode time, relative to the file's
	// first sample (the earliest track's); Duration its media duration.
	Start, Duration time.Duration
	// Key: it starts with a video sync sample (every fragment of a file
	// without video).
	Key bool
}

// TrackInfo is one track of a file's init section.
type TrackInfo struct {
	ID        int
	Timescale uint32
	// Codec is the codec name (h264, h265, av1, aac, opus, mp3).
	Codec string
	Video bool
}

// FileIndex is a file's parsed layout.
type FileIndex struct {
	// Init is the init section (ftyp+moov).
	Init   []byte
	Tracks []TrackInfo
	// Fragments are the complete fragments, in file order.
	Fragments []Fragment
	// Parsed is the offset up to which the file was parsed; update goes
	// on from there as the file grows.
	Parsed int64
	// zero is the file's first decode time in seconds (the earliest
	// track's first tfdt).
	zero    float64
	hasZero bool
	end     float64
}

// Duration is the media time of the indexed fragments.
func (ix *FileIndex) Duration() time.Duration {
	if !ix.hasZero {
		return 0
	}
	return secs(ix.end - ix.zero)
}

// Zero returns the decode time (seconds) of the file's first sample.
func (ix *FileIndex) Zero() float64 { return ix.zero }

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (ix *FileIndex) track(id uint32) *TrackInfo {
	for i := range ix.Tracks {
		if uint32(ix.Tracks[i].ID) == id {
			return &ix.Tracks[i]
		}
	}
	return nil
}

func (ix *FileIndex) hasVideo() bool {
	for _, t := range ix.Tracks {
		if t.Video {
			return true
		}
	}
	return false
}

// boxHeader reads the box header at off: its type, total size and header
// length. ok is false when the header is incomplete or the size invalid.
func boxHeader(r io.ReaderAt, off, fileSize int64) (typ string, size int64, hdr int64, ok bool) {
	var b [16]byte
	if off+8 > fileSize {
		return "", 0, 0, false
	}
	if _, err := r.ReadAt(b[:8], off); err != nil {
		return "", 0, 0, false
	}
	size, hdr = int64(binary.BigEndian.Uint32(b[:4])), 8
	typ = string(b[4:8])
	if size == 1 {
		if off+16 > fileSize {
			return "", 0, 0, false
		}
		if _, err := r.ReadAt(b[8:16], off+8); err != nil {
			return "", 0, 0, false
		}
		size, hdr = int64(binary.BigEndian.Uint64(b[8:16])), 16
	}
	if size < hdr || size > fileSize-off {
		return "", 0, 0, false // size 0 (to the end) is not written by us either
	}
	return typ, size, hdr, true
}

// update parses r (fileSize bytes) from ix.Parsed on. It returns an error
// only for a file that is not a recording (no valid init section); a
// truncated or corrupt tail just ends the index.
func (ix *FileIndex) update(r io.ReaderAt, fileSize int64) error {
	r = &windowReader{r: r, off: -1}
	if ix.Parsed == 0 {
		if err := ix.parseInit(r, fileSize); err != nil {
			return err
		}
	}
	for len(ix.Fragments) < maxFragments {
		off := ix.Parsed
		typ, size, _, ok := boxHeader(r, off, fileSize)
		if !ok {
			return nil
		}
		switch typ {
		case "moof":
			f, ok := ix.parseFragment(r, off, size, fileSize)
			if !ok {
				return nil
			}
			ix.Fragments = append(ix.Fragments, f)
			ix.Parsed = off + f.Size
		case "free":
			// A fragment being written (writer.go) or left by a crash:
			// stop here; it becomes a moof or stays the end.
			return nil
		default:
			ix.Parsed = off + size
		}
	}
	return nil
}

func (ix *FileIndex) parseInit(r io.ReaderAt, fileSize int64) error {
	typ, size, _, ok := boxHeader(r, 0, fileSize)
	if !ok || typ != "ftyp" {
		return errors.New("record: not an MP4 file (no ftyp)")
	}
	typ, msize, _, ok := boxHeader(r, size, fileSize)
	if !ok || typ != "moov" || size+msize > maxInitSize {
		return errors.New("record: no complete moov box")
	}
	b := make([]byte, size+msize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return fmt.Errorf("record: read init: %w", err)
	}
	tracks, err := parseInitTracks(b)
	if err != nil {
		return fmt.Errorf("record: init section: %w", err)
	}
	ix.Tracks = tracks
	if len(ix.Tracks) == 0 {
		return errors.New("record: init section without tracks")
	}
	ix.Init, ix.Parsed = b, int64(len(b))
	return nil
}

// parseFragment parses the moof at off and checks its mdat follows
// complete.
func (ix *FileIndex) parseFragment(r io.ReaderAt, off, moofSize, fileSize int64) (Fragment, bool) {
	if moofSize > maxMoofSize {
		return Fragment{}, false
	}
	typ, mdatSize, _, ok := boxHeader(r, off+moofSize, fileSize)
	if !ok || typ != "mdat" {
		return Fragment{}, false
	}
	b := make([]byte, moofSize)
	if _, err := r.ReadAt(b, off); err != nil {
		return Fragment{}, false
	}
	trafs, err := parseMoof(b)
	if err != nil || len(trafs) == 0 {
		return Fragment{}, false
	}
	f := Fragment{Offset: off, Size: moofSize + mdatSize, Key: !ix.hasVideo()}
	// The fragment starts where its video does (at its keyframe, if any;
	// audio may begin a frame earlier), else at its earliest track.
	start, end, haveVideo := 0.0, 0.0, false
	for i, t := range trafs {
		ti := ix.track(t.trackID)
		if ti == nil {
			return Fragment{}, false
		}
		if t.dataOffset < moofSize+8 || t.dataOffset+t.dataSize > f.Size {
			return Fragment{}, false // samples outside the mdat
		}
		s := float64(t.base) / float64(ti.Timescale)
		e := float64(t.base+t.duration) / float64(ti.Timescale)
		if ti.Video {
			f.Key = t.firstSync
			start, haveVideo = s, true
		} else if !haveVideo && (i == 0 || s < start) {
			start = s
		}
		if e > end {
			end = e
		}
	}
	if !ix.hasZero {
		ix.zero, ix.hasZero = start, true
	}
	if end > ix.end {
		ix.end = end
	}
	f.Start, f.Duration = secs(start-ix.zero), secs(end-start)
	return f, true
}

// traf is what the index and the clip writer need of one traf.
type traf struct {
	trackID uint32
	// base is the tfdt value; baseAt its offset in the moof and baseV1
	// whether it is 64-bit.
	base     uint64
	baseAt   int
	baseV1   bool
	duration uint64
	samples  uint32
	// dataOffset (from the moof's start) and dataSize locate the samples.
	dataOffset, dataSize int64
	firstSync            bool
	// sizes holds each sample's size, durs its duration (clip.go trims
	// the last fragment).
	sizes, durs []uint32
}

// children calls fn for each box in b (a box body): its type, its body
// and the body's offset in b. It fails on a malformed size.
func children(b []byte, fn func(typ string, body []byte, at int) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errors.New("truncated box header")
		}
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			return errors.New("bad box size")
		}
		if err := fn(string(b[4:8]), b[8:size], 8); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// parseMoof parses a moof box (whole, header included).
func parseMoof(moof []byte) ([]traf, error) {
	if len(moof) < 8 || string(moof[4:8]) != "moof" || int(binary.BigEndian.Uint32(moof)) != len(moof) {
		return nil, errors.New("not a moof")
	}
	var out []traf
	pos := 8
	err := children(moof[8:], func(typ string, body []byte, _ int) error {
		bodyAt := pos + 8
		pos += 8 + len(body)
		if typ != "traf" {
			return nil
		}
		if len(out) >= 8 {
			return errors.New("too many trafs")
		}
		t, err := parseTraf(body, bodyAt)
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// parseTraf parses a traf body found at bodyAt in its moof.
func parseTraf(b []byte, bodyAt int) (traf, error) {
	var t traf
	var defDur, defSize, defFlags uint32
	haveTfhd, haveTfdt, haveTrun := false, false, false
	pos := bodyAt
	err := children(b, func(typ string, body []byte, _ int) error {
		at := pos + 8
		pos += 8 + len(body)
		switch typ {
		case "tfhd":
			if len(body) < 8 {
				return errors.New("short tfhd")
			}
			flags := binary.BigEndian.Uint32(body) & 0xffffff
			t.trackID = binary.BigEndian.Uint32(body[4:])
			p := 8
			opt := func(flag uint32, n int) (uint32, error) {
				if flags&flag == 0 {
					return 0, nil
				}
				if p+n > len(body) {
					return 0, errors.New("short tfhd")
				}
				v := uint32(0)
				if n == 4 {
					v = binary.BigEndian.Uint32(body[p:])
				}
				p += n
				return v, nil
			}
			if flags&0x1 != 0 {
				return errors.New("tfhd base_data_offset not supported")
			}
			var err error
			if _, err = opt(0x2, 4); err != nil {
				return err
			}
			if defDur, err = opt(0x8, 4); err != nil {
				return err
			}
			if defSize, err = opt(0x10, 4); err != nil {
				return err
			}
			if defFlags, err = opt(0x20, 4); err != nil {
				return err
			}
			haveTfhd = true
		case "tfdt":
			if len(body) < 8 {
				return errors.New("short tfdt")
			}
			t.baseAt = at + 4
			if body[0] == 1 {
				if len(body) < 12 {
					return errors.New("short tfdt")
				}
				t.base, t.baseV1 = binary.BigEndian.Uint64(body[4:]), true
			} else {
				t.base = uint64(binary.BigEndian.Uint32(body[4:]))
			}
			haveTfdt = true
		case "trun":
			if haveTrun {
				return errors.New("more than one trun per traf")
			}
			if err := t.parseTrun(body, defDur, defSize, defFlags); err != nil {
				return err
			}
			haveTrun = true
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	if !haveTfhd || !haveTfdt || !haveTrun {
		return t, errors.New("traf without tfhd, tfdt or trun")
	}
	return t, nil
}

func (t *traf) parseTrun(b []byte, defDur, defSize, defFlags uint32) error {
	if len(b) < 8 {
		return errors.New("short trun")
	}
	flags := binary.BigEndian.Uint32(b) & 0xffffff
	n := binary.BigEndian.Uint32(b[4:])
	p := 8
	if flags&0x1 == 0 {
		return errors.New("trun without data_offset")
	}
	if p+4 > len(b) {
		return errors.New("short trun")
	}
	t.dataOffset = int64(int32(binary.BigEndian.Uint32(b[p:])))
	p += 4
	firstFlags, haveFirst := defFlags, false
	if flags&0x4 != 0 {
		if p+4 > len(b) {
			return errors.New("short trun")
		}
		firstFlags, haveFirst = binary.BigEndian.Uint32(b[p:]), true
		p += 4
	}
	entry := 0
	for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&f != 0 {
			entry += 4
		}
	}
	if uint64(n)*uint64(entry) > uint64(len(b)-p) || n == 0 {
		return errors.New("trun sample count exceeds the box")
	}
	t.samples = n
	t.sizes = make([]uint32, n)
	t.durs = make([]uint32, n)
	for i := uint32(0); i < n; i++ {
		d, s, sf := defDur, defSize, defFlags
		if flags&0x100 != 0 {
			d = binary.BigEndian.Uint32(b[p:])
			p += 4
		}
		if flags&0x200 != 0 {
			s = binary.BigEndian.Uint32(b[p:])
			p += 4
		}
		if flags&0x400 != 0 {
			sf = binary.BigEndian.Uint32(b[p:])
			p += 4
		}
		if flags&0x800 != 0 {
			p += 4
		}
		if i == 0 {
			if haveFirst {
				sf = firstFlags
			}
			t.firstSync = sf&sampleNonSyncBit == 0
		}
		t.sizes[i], t.durs[i] = s, d
		t.duration += uint64(d)
		t.dataSize += int64(s)
	}
	return nil
}
