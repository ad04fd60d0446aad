package dashserver

import (
	"strconv"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// Object storage (paths.*.hls.upload) holds a DASH presentation of the
// stream next to its HLS: StoredMPD names per-track media relative to
// itself, exactly as the live MPD does under NAME/dash/, so the objects
// are the live server's files: StoredInits and StoredSegment.

// StoredObject is one media object of the stored presentation.
type StoredObject struct {
	Name string
	Data []byte
}

// StoredMPD renders the MPD of snap's complete segments for object
// storage: no open timeline end, no chunked availability (an object
// exists only once complete), no UTCTiming (players use their own
// clock), players three segments behind the live edge.
func StoredMPD(snap *packager.Snapshot, now time.Time) ([]byte, error) {
	// A new snapshot of the complete segments (a Snapshot holds a lock
	// and a memo: copied field by field).
	c := &packager.Snapshot{Format: snap.Format, SessionID: snap.SessionID,
		DiscontinuitySequence: snap.DiscontinuitySequence, TargetDuration: snap.TargetDuration,
		PartTarget: snap.PartTarget, Ended: snap.Ended, Origin: snap.Origin}
	for _, s := range snap.Segments {
		if s.Complete {
			c.Segments = append(c.Segments, s)
		}
	}
	target := snap.TargetDuration
	if target <= 0 {
		target = 2 * time.Second
	}
	o := mpdOptions{
		now:                 now,
		minimumUpdatePeriod: target,
		frameRate:           func(in *packager.Init) string { return frameRate(c, in) },
		trackBytes:          trackBytes,
		stored:              true,
	}
	return buildMPD(c, o).Marshal()
}

// StoredInits returns the per-track init sections of in, named as the
// stored MPD names them.
func StoredInits(sid string, in *packager.Init) []StoredObject {
	var out []StoredObject
	for _, t := range in.Tracks {
		id, letter := trackLetter(t)
		if data := in.TrackData(id); data != nil {
			out = append(out, StoredObject{Name: sid + "_" + letter + "_init" + strconv.Itoa(in.ID) + ".mp4", Data: data})
		}
	}
	return out
}

// StoredSegment returns the per-track media of the complete segment seg,
// named by its MPD time as the stored MPD's SegmentTemplate addresses
// them.
func StoredSegment(sid string, seg *packager.Segment) []StoredObject {
	if seg.Init == nil {
		return nil
	}
	t := strconv.FormatUint(ticks(seg.Start, timescaleOf(seg.Init)), 10)
	epoch := ""
	if k := periodKey(seg); k >= 0 {
		epoch = "_e" + strconv.FormatInt(k, 10)
	}
	var out []StoredObject
	for _, tr := range seg.Init.Tracks {
		id, letter := trackLetter(tr)
		var data []byte
		for _, b := range trackSegment(seg.Parts, id) {
			data = append(data, b...)
		}
		out = append(out, StoredObject{Name: sid + "_" + letter + epoch + "_t" + t + ".m4s", Data: data})
	}
	return out
}

// trackLetter is a track's packager ID and its letter in DASH names.
func trackLetter(t *av.Track) (int, string) {
	if t.Kind() == av.KindVideo {
		return trackVideo, "v"
	}
	return trackAudio, "a"
}
