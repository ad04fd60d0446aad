package record

import (
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// File is what a recording is written to: an *os.File in production
// (Options.OpenFile lets tests inject write errors).
type File interface {
	Write(b []byte) (int, error)
	WriteAt(b []byte, off int64) (int, error)
	// Sync makes what was written durable (fsync).
	Sync() error
	Close() error
}

// Track IDs and timescales of a recording. Video runs at 90 kHz, audio
// at its sampling rate, so one AAC frame is exactly 1024 ticks.
const (
	videoID        = 1
	audioID        = 2
	videoTimescale = 90000
)

// trackWriter collects one track's samples for the next fragment. A
// sample's duration is known only when the next one arrives, so the
// newest sample waits in pending.
type trackWriter struct {
	id        int
	track     *av.Track
	timescale uint32
	pending   *av.Packet
	lastDur   uint32 // duration of the previous sample, for the last one
	next      uint64 // decode time (ticks) of the next sample to emit
	started   bool
	samples   []*fmp4.Sample
	// first is the decode time of the fragment's first sample.
	first uint64
}

func (t *trackWriter) ticks(d time.Duration) uint64 {
	if d < 0 {
		d = 0
	}
	return uint64(d) * uint64(t.timescale) / uint64(time.Second)
}

// push adds pkt; the pending sample, now of known duration, joins the
// fragment.
func (t *trackWriter) push(pkt *av.Packet) {
	t.endPending(pkt.DTS)
	if !t.started {
		t.next, t.started = t.ticks(pkt.DTS), true
	}
	t.pending = pkt
}

// endPending emits the pending sample, which lasts until dts.
func (t *trackWriter) endPending(dts time.Duration) {
	if t.pending == nil {
		return
	}
	end := t.ticks(dts)
	var dur uint32 = 1
	if end > t.next {
		dur = uint32(min(end-t.next, 1<<31))
	}
	t.emit(dur)
}

// emit moves the pending sample into the fragment with duration dur.
func (t *trackWriter) emit(dur uint32) {
	p := t.pending
	if len(t.samples) == 0 {
		t.first = t.next
	}
	cts := int64(p.PTS-p.DTS) * int64(t.timescale) / int64(time.Second)
	t.samples = append(t.samples, &fmp4.Sample{
		Duration:        dur,
		PTSOffset:       int32(max(min(cts, 1<<30), -1<<30)),
		IsNonSyncSample: !p.Key,
		Payload:         p.Data,
	})
	t.next += uint64(dur)
	t.lastDur = dur
	t.pending = nil
}

// flushPending emits the pending sample with an estimated duration (the
// previous sample's, else a frame's worth): the file ends.
func (t *trackWriter) flushPending() {
	if t.pending == nil {
		return
	}
	dur := t.lastDur
	if dur == 0 {
		dur = t.timescale / 30 // one video frame at 30 fps
		if t.track.Codec == av.CodecAAC {
			dur = 1024
		} else if t.track.Kind() == av.KindAudio {
			dur = t.timescale / 50 // 20 ms, Opus' and MP3's usual frame
		}
	}
	t.emit(max(dur, 1))
}

// fileWriter writes one recording file: ftyp+moov, then fragments.
type fileWriter struct {
	f      File
	name   string // path of the file
	start  time.Time
	tracks []*trackWriter
	seq    uint32
	size   int64
	init   []byte
	// startDTS is the stream-timeline DTS of the first sample.
	startDTS time.Duration
	// fragDTS is the DTS of the fragment's first sample; haveFrag false
	// while the fragment is empty.
	fragDTS  time.Duration
	haveFrag bool
	// dur is the media time written so far (the longest track).
	dur time.Duration
}

// newFileWriter writes the init section for video and audio (either may
// be nil) to f.
func newFileWriter(f File, name string, start time.Time, startDTS time.Duration, video, audio *av.Track) (*fileWriter, error) {
	w := &fileWriter{f: f, name: name, start: start, startDTS: startDTS}
	var init fmp4.Init
	for _, t := range []*av.Track{video, audio} {
		if t == nil {
			continue
		}
		c, err := packager.FMP4Codec(t)
		if err != nil {
			return nil, fmt.Errorf("record: %s track: %w", t.Codec, err)
		}
		tw := &trackWriter{id: videoID, track: t, timescale: videoTimescale}
		if t.Kind() == av.KindAudio {
			tw.id, tw.timescale = audioID, uint32(t.SampleRate)
			if t.Codec == av.CodecOpus || tw.timescale == 0 {
				tw.timescale = 48000
			}
		}
		w.tracks = append(w.tracks, tw)
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: tw.id, TimeScale: tw.timescale, Codec: c})
	}
	if len(w.tracks) == 0 {
		return nil, errors.New("record: no track to record")
	}
	b, err := packager.MarshalMuxedInit(init)
	if err != nil {
		return nil, fmt.Errorf("record: init: %w", err)
	}
	w.init = b
	if err := w.writeSync(b); err != nil {
		return nil, err
	}
	return w, nil
}

// trackFor returns the writer of pkt's track, nil if the file does not
// carry that track (a codec change: the recorder starts a new file).
func (w *fileWriter) trackFor(pkt *av.Packet) *trackWriter {
	for _, t := range w.tracks {
		if t.track == pkt.Track || (t.track.Codec == pkt.Track.Codec && string(t.track.Config) == string(pkt.Track.Config)) {
			return t
		}
	}
	return nil
}

// hasKind reports whether the file carries a track of kind k.
func (w *fileWriter) hasKind(k av.Kind) bool {
	for _, t := range w.tracks {
		if t.track.Kind() == k {
			return true
		}
	}
	return false
}

// add appends pkt to its track; a fragment is written first when the
// current one has reached part (cut at any frame) or when a video
// keyframe arrives, so every keyframe starts a fragment and playback can
// cut there. pkt's track's pending sample ends in the fragment written;
// the other tracks' pending ones go into the next.
func (w *fileWriter) add(t *trackWriter, pkt *av.Packet, part time.Duration) error {
	if w.haveFrag && (pkt.DTS-w.fragDTS >= part || (pkt.Key && pkt.Kind() == av.KindVideo)) {
		t.endPending(pkt.DTS)
		if err := w.flush(false); err != nil {
			return err
		}
	}
	t.push(pkt)
	if !w.haveFrag {
		w.fragDTS, w.haveFrag = pkt.DTS, true
	}
	if d := pkt.DTS - w.startDTS; d > w.dur {
		w.dur = d
	}
	return nil
}

// flush writes one fragment of every collected sample; last also emits
// the pending ones (the file ends).
func (w *fileWriter) flush(last bool) error {
	var part fmp4.Part
	for _, t := range w.tracks {
		if last {
			t.flushPending()
		}
		if len(t.samples) == 0 {
			continue
		}
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: t.id, BaseTime: t.first, Samples: t.samples})
	}
	w.haveFrag = false
	if len(part.Tracks) == 0 {
		return nil
	}
	w.seq++
	part.SequenceNumber = w.seq
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		return fmt.Errorf("record: marshal fragment: %w", err)
	}
	for _, t := range w.tracks {
		t.samples = t.samples[:0]
		if d := time.Duration(t.next * uint64(time.Second) / uint64(t.timescale)); t.started && d-w.startDTS > w.dur {
			w.dur = d - w.startDTS
		}
	}
	return w.writeFragmentBytes(buf.Bytes())
}

// writeFragmentBytes writes a moof+mdat so that the file is playable at
// every instant, even after a crash mid-write: the moof is first written
// as a "free" box (skipped by every reader), the whole fragment is
// fsynced, and only then the box type becomes "moof". A crash before
// leaves a trailing free box and maybe a partial mdat, both ignored by
// demuxers; after, a complete fragment.
func (w *fileWriter) writeFragmentBytes(b []byte) error {
	at := w.size
	copy(b[4:8], "free")
	if err := w.writeSync(b); err != nil {
		return err
	}
	if _, err := w.f.WriteAt([]byte("moof"), at+4); err != nil {
		return fmt.Errorf("record: write %s: %w", w.name, err)
	}
	return nil
}

func (w *fileWriter) writeSync(b []byte) error {
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("record: write %s: %w", w.name, err)
	}
	return nil
}

// close writes the last fragment, syncs and closes the file.
func (w *fileWriter) close() error {
	err := w.flush(true)
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("record: close %s: %w", w.name, cerr)
	}
	return err
}

// abort closes the file after a write error, ignoring further errors.
func (w *fileWriter) abort() { _ = w.f.Close() }
