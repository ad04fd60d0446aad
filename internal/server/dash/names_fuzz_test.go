package dashserver

import (
	"strconv"
	"testing"
)

// FuzzParseMediaFile: DASH media file names come from request URLs. Every
// name accepted is the one its parse names again (nothing else aliases a
// file), and the epoch is -1 unless the name carries one.
func FuzzParseMediaFile(f *testing.F) {
	for _, s := range []string{"ab_v_t900.m4s", "ab_a_e6040_t543600.m4s", "ab_v_init0.mp4", "ab_seg7.m4s", "ab_v_e_t1.m4s", "time"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		m, ok := parseMediaFile(name)
		if !ok {
			return
		}
		again := m.sid + "_"
		switch m.track {
		case trackVideo:
			again += "v_"
		case trackAudio:
			again += "a_"
		}
		n := strconv.FormatUint(m.num, 10)
		switch m.kind {
		case fileInit:
			again += "init" + n + ".mp4"
		case fileSegment:
			again += "seg" + n + ".m4s"
		case fileSegmentAt:
			if m.epoch >= 0 {
				again += "e" + strconv.FormatInt(m.epoch, 10) + "_"
			}
			again += "t" + n + ".m4s"
		}
		if again != name {
			t.Fatalf("%q parsed as %+v, which names %q", name, m, again)
		}
		if m.kind != fileSegmentAt && m.epoch != -1 {
			t.Fatalf("%q: epoch %d on a file that has none", name, m.epoch)
		}
	})
}
