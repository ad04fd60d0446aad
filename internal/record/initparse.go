package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// The init section is parsed by walking its boxes (ISO/IEC 14496-12 §8.3
// tkhd, §8.4.2 mdhd, §8.5.2 stsd) for what the index needs: each track's
// ID, timescale and codec. It is much cheaper than a full decode, which
// matters when thousands of files are listed after a restart.

// parseInitTracks returns the tracks of an init section (ftyp+moov).
func parseInitTracks(b []byte) ([]TrackInfo, error) {
	var moov []byte
	err := children(b, func(typ string, body []byte, _ int) error {
		if typ == "moov" {
			moov = body
		}
		return nil
	})
	if err != nil || moov == nil {
		return nil, errors.New("no moov box")
	}
	var out []TrackInfo
	err = children(moov, func(typ string, body []byte, _ int) error {
		if typ != "trak" {
			return nil
		}
		if len(out) >= 8 {
			return errors.New("too many tracks")
		}
		t, err := parseTrak(body)
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// child returns the body of the first box of type typ in b.
func child(b []byte, typ string) []byte {
	var out []byte
	_ = children(b, func(t string, body []byte, _ int) error {
		if t == typ && out == nil {
			out = body
		}
		return nil
	})
	return out
}

func parseTrak(trak []byte) (TrackInfo, error) {
	var t TrackInfo
	tkhd := child(trak, "tkhd")
	mdia := child(trak, "mdia")
	if len(tkhd) < 24 || mdia == nil {
		return t, errors.New("trak without tkhd or mdia")
	}
	if tkhd[0] == 1 {
		if len(tkhd) < 24 {
			return t, errors.New("short tkhd")
		}
		t.ID = int(binary.BigEndian.Uint32(tkhd[20:]))
	} else {
		t.ID = int(binary.BigEndian.Uint32(tkhd[12:]))
	}
	mdhd := child(mdia, "mdhd")
	if len(mdhd) < 24 {
		return t, errors.New("no mdhd")
	}
	if mdhd[0] == 1 {
		t.Timescale = binary.BigEndian.Uint32(mdhd[20:])
	} else {
		t.Timescale = binary.BigEndian.Uint32(mdhd[12:])
	}
	if t.Timescale == 0 {
		return t, errors.New("track without timescale")
	}
	stsd := child(child(child(mdia, "minf"), "stbl"), "stsd")
	if len(stsd) < 16 {
		return t, errors.New("no sample description")
	}
	entry := stsd[8:]
	size := int(binary.BigEndian.Uint32(entry))
	if size < 8 || size > len(entry) {
		return t, errors.New("bad sample entry")
	}
	t.Codec, t.Video = sampleEntryCodec(string(entry[4:8]), entry[8:size])
	return t, nil
}

// sampleEntryCodec names the codec of a sample entry.
func sampleEntryCodec(fourcc string, body []byte) (string, bool) {
	switch fourcc {
	case "avc1", "avc3":
		return "h264", true
	case "hvc1", "hev1":
		return "h265", true
	case "av01":
		return "av1", true
	case "vp09":
		return "vp9", true
	case "Opus":
		return "opus", false
	case "mp4a":
		// ISO 14496-1 §7.2.6.6: objectTypeIndication 0x40 MPEG-4 audio,
		// 0x69/0x6B MPEG-2/MPEG-1 audio (MP3).
		if ot, ok := esdsObjectType(body); ok && (ot == 0x69 || ot == 0x6B) {
			return "mp3", false
		}
		return "aac", false
	}
	return "unknown", false
}

// esdsObjectType finds the DecoderConfigDescriptor's objectTypeIndication
// in an mp4a sample entry body.
func esdsObjectType(body []byte) (byte, bool) {
	i := bytes.Index(body, []byte("esds"))
	if i < 0 {
		return 0, false
	}
	d := body[i+4:]
	if len(d) < 4 {
		return 0, false
	}
	d = d[4:] // version and flags
	descr := func(want byte) bool {
		if len(d) < 1 || d[0] != want {
			return false
		}
		d = d[1:]
		for n := 0; n < 4 && len(d) > 0; n++ { // expandable length
			b := d[0]
			d = d[1:]
			if b&0x80 == 0 {
				break
			}
		}
		return true
	}
	if !descr(0x03) || len(d) < 3 {
		return 0, false
	}
	flags := d[2]
	d = d[3:]
	if flags&0x80 != 0 && len(d) >= 2 {
		d = d[2:]
	}
	if flags&0x40 != 0 && len(d) >= 1 {
		n := int(d[0])
		if len(d) < 1+n {
			return 0, false
		}
		d = d[1+n:]
	}
	if flags&0x20 != 0 && len(d) >= 2 {
		d = d[2:]
	}
	if !descr(0x04) || len(d) < 1 {
		return 0, false
	}
	return d[0], true
}

// windowReader serves small reads from one buffered window of the file,
// so walking box headers costs a read per 64 KiB, not per box.
type windowReader struct {
	r   io.ReaderAt
	off int64
	buf []byte
}

const windowSize = 64 << 10

func (w *windowReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= w.off && off+int64(len(p)) <= w.off+int64(len(w.buf)) {
		return copy(p, w.buf[off-w.off:]), nil
	}
	if len(p) > windowSize {
		return w.r.ReadAt(p, off)
	}
	if cap(w.buf) < windowSize {
		w.buf = make([]byte, windowSize)
	}
	n, err := w.r.ReadAt(w.buf[:windowSize], off)
	w.off, w.buf = off, w.buf[:n]
	if n < len(p) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return copy(p, w.buf), err
	}
	return copy(p, w.buf), nil
}
