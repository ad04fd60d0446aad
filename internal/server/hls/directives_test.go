package hlsserver

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseDirectives(t *testing.T) {
	for q, want := range map[string]Directives{
		"":                                     {},
		"_HLS_msn=12":                          {HasMSN: true, MSN: 12},
		"_HLS_msn=12&_HLS_part=3":              {HasMSN: true, MSN: 12, HasPart: true, Part: 3},
		"_HLS_msn=0&_HLS_part=0&_HLS_skip=YES": {HasMSN: true, HasPart: true, Skip: "YES"},
		"_HLS_skip=v2&other=x":                 {Skip: "v2"},
	} {
		got, err := ParseDirectives(q)
		require.NoError(t, err, q)
		require.Equal(t, want, got, q)
	}
	for _, q := range []string{
		"_HLS_part=1", "_HLS_msn=", "_HLS_msn=-1", "_HLS_msn=1.5", "_HLS_msn=+1", "_HLS_msn=0x10",
		"_HLS_msn=1&_HLS_msn=2", "_HLS_msn=99999999999999999999", "_HLS_skip=NO", "_HLS_msn=%zz",
	} {
		_, err := ParseDirectives(q)
		require.ErrorIs(t, err, ErrBadDirective, q)
	}
}

// FuzzParseDirectives: no panic; success implies the RFC 8216bis §6.2.5.2
// invariants the server relies on.
func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{"", "_HLS_msn=3&_HLS_part=1", "_HLS_skip=YES", "_HLS_msn=1&_HLS_msn=2", "%", "_HLS_part=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		d, err := ParseDirectives(q)
		if err != nil {
			if !errors.Is(err, ErrBadDirective) {
				t.Fatalf("error %v does not wrap ErrBadDirective", err)
			}
			return
		}
		if d.HasPart && !d.HasMSN {
			t.Fatal("part without msn accepted")
		}
		if d.MSN > maxDirectiveValue || d.Part > maxDirectiveValue {
			t.Fatal("out-of-range value accepted")
		}
		if d.Skip != "" && d.Skip != "YES" && d.Skip != "v2" {
			t.Fatalf("skip %q accepted", d.Skip)
		}
	})
}

// FuzzParseMediaFile: file names come from request URLs.
func FuzzParseMediaFile(f *testing.F) {
	for _, s := range []string{"ab_seg1.m4s", "ab_part3.4.m4s", "ab_init0.mp4", "ab_seg7.ts", "x_part.m4s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		m, ok := parseMediaFile(name)
		if !ok {
			return
		}
		var again string
		switch m.kind {
		case fileInit:
			again = initName(m.sid, int(m.msn))
		case fileSegment:
			again = segmentName(m.sid, m.msn, false)
		case fileTS:
			again = segmentName(m.sid, m.msn, true)
		case filePart:
			again = partName(m.sid, m.msn, m.index)
		}
		if again != name {
			t.Fatalf("%q parsed as %+v, which names %q", name, m, again)
		}
	})
}
