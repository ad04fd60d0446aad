package config

import (
	"regexp"
	"strconv"
	"time"
)

// RecordConfig is the "record" section: where and how streams whose path
// sets record: true are written (internal/record).
type RecordConfig struct {
	// Dir is the directory recordings are written under, as
	// DIR/APP/NAME/2026-12-02T10-00-00.123Z.mp4 (UTC start time).
	// Default "./recordings".
	Dir string `yaml:"dir"`
	// PartDuration is the media time of one fMP4 fragment, each fsynced as
	// it is written: at most this much is lost in a crash. 100ms..10s.
	// Default 1s.
	PartDuration Duration `yaml:"part_duration"`
	// SegmentDuration is the media time after which a new file starts, at
	// the next keyframe. 1s..24h. Default 1h.
	SegmentDuration Duration `yaml:"segment_duration"`
	// DeleteAfter deletes files last written longer ago than this ("7d",
	// "12h"); 0s keeps them. Default 0s.
	DeleteAfter Duration `yaml:"delete_after"`
	// MaxBytes caps the bytes of one path's files: past it the oldest
	// closed files are deleted. 0: no cap. Default 0.
	MaxBytes int64 `yaml:"max_bytes"`
	// RetryAfter is how long a recording stopped by a write error (disk
	// full) waits before it tries a new file. Default 10s.
	RetryAfter Duration `yaml:"retry_after"`
	// Upload uploads every closed file to storage.s3 as
	// PREFIX + recordings/APP/NAME/FILE.mp4. Needs storage.s3.endpoint.
	// Default false.
	Upload bool `yaml:"upload"`
	// DeleteLocalAfterUpload removes a file from Dir once it is uploaded.
	// Needs Upload. Default false.
	DeleteLocalAfterUpload bool `yaml:"delete_local_after_upload"`
	// EdgeCopies records, on a cluster node, the streams it pulls from
	// their owner for its own viewers too (the owner records the
	// original). Default false: edge copies are not recorded.
	EdgeCopies bool `yaml:"edge_copies"`
}

// daysRE matches a duration with a leading day count, "7d" or "1d12h".
var daysRE = regexp.MustCompile(`^(\d{1,5})d(.*)$`)

// parseDays parses "Nd" with an optional Go duration after it ("1d12h").
func parseDays(s string) (time.Duration, bool) {
	m := daysRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	d := time.Duration(n) * 24 * time.Hour
	if m[2] != "" {
		rest, err := time.ParseDuration(m[2])
		if err != nil {
			return 0, false
		}
		d += rest
	}
	return d, true
}

func (v *validator) record(c RecordConfig) {
	if c.Dir == "" {
		v.fail("record.dir", "must not be empty")
	}
	if d := c.PartDuration.Duration; d < 100*time.Millisecond || d > 10*time.Second {
		v.fail("record.part_duration", "want 100ms..10s, got %s", d)
	}
	if d := c.SegmentDuration.Duration; d < time.Second || d > 24*time.Hour {
		v.fail("record.segment_duration", "want 1s..24h, got %s", d)
	}
	if c.DeleteAfter.Duration < 0 {
		v.fail("record.delete_after", "must not be negative, got %s", c.DeleteAfter)
	}
	if c.MaxBytes < 0 {
		v.fail("record.max_bytes", "must not be negative, got %d", c.MaxBytes)
	}
	v.positiveDuration("record.retry_after", c.RetryAfter)
}

// recordHook checks hooks.on_record_segment (and a path's override).
func (v *validator) recordHook(prefix, url string) {
	if url != "" {
		v.httpURL(prefix+".on_record_segment", url)
	}
}
