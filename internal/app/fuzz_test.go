package app

import (
	"net/http/httptest"
	"testing"

	"github.com/sluicemedia/sluice/internal/streampath"
)

// FuzzParseStreamURL: the stream router's URL parser never panics, and
// what it accepts is a valid stream path whose parts rebuild the URL.
func FuzzParseStreamURL(f *testing.F) {
	for _, s := range []string{"/live/cam1", "/live/cam1.m3u8", "/live/cam1.flv", "/live/cam1.mpd", "/live/cam1.jpg",
		"/live/cam1/hls/media.m3u8", "/live/cam1/hls/ab_seg1.m4s", "/live/cam1/dash/time",
		"/live/cam1/whep", "/live/cam1/whip/0123456789abcdef0123456789abcdef", "/api/v1/x/y",
		"/live/cam1/hls/", "/live//hls/x", "/live/cam1/other/x", "/a/b/c/d/e", "/./../hls/x", "/live/.m3u8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		u, err := parseStreamURL(p)
		if err != nil {
			return
		}
		if err := streampath.Validate(u.path); err != nil {
			t.Fatalf("%q: accepted invalid path %q: %v", p, u.path, err)
		}
		rebuilt := "/" + u.path + u.ext
		if u.dir != "" {
			if u.ext != "" {
				t.Fatalf("%q: both ext %q and dir %q", p, u.ext, u.dir)
			}
			rebuilt = "/" + u.path + "/" + u.dir
			if u.file != "" {
				rebuilt += "/" + u.file
			}
		}
		if rebuilt != p {
			t.Fatalf("%q parsed as %+v, which rebuilds %q", p, u, rebuilt)
		}
		// Every entry declares its access (and who decides it).
		var h httpRoutes
		for _, ws := range []bool{false, true} {
			r := httptest.NewRequest("GET", "/", nil)
			if ws {
				r.Header.Set("Upgrade", "websocket")
			}
			e := h.entryFor(u, r)
			if e == nil {
				continue
			}
			switch e.access {
			case accessPlay, accessPublish:
				if e.proto == "" {
					t.Fatalf("%q: %s decided without a protocol", p, e.kind)
				}
			case accessCapability, accessPublic:
			default:
				t.Fatalf("%q: %s has no access rule", p, e.kind)
			}
			if e.serve == nil || len(e.methods) == 0 || e.kind == "" {
				t.Fatalf("%q: incomplete entry %+v", p, e)
			}
		}
	})
}
