package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// mpdDoc is what the tests read from an MPD.
type mpdDoc struct {
	ID                    string `xml:"id,attr"`
	Type                  string `xml:"type,attr"`
	AvailabilityStartTime string `xml:"availabilityStartTime,attr"`
	MinimumUpdatePeriod   string `xml:"minimumUpdatePeriod,attr"`
	Periods               []struct {
		ID   string `xml:"id,attr"`
		Sets []struct {
			ContentType string `xml:"contentType,attr"`
			Template    struct {
				Timescale uint64 `xml:"timescale,attr"`
				Init      string `xml:"initialization,attr"`
				Media     string `xml:"media,attr"`
				ATO       string `xml:"availabilityTimeOffset,attr"`
				ATC       string `xml:"availabilityTimeComplete,attr"`
				S         []struct {
					T *uint64 `xml:"t,attr"`
					D uint64  `xml:"d,attr"`
					R int     `xml:"r,attr"`
				} `xml:"SegmentTimeline>S"`
			} `xml:"SegmentTemplate"`
			Reps []struct {
				Codecs    string `xml:"codecs,attr"`
				Bandwidth int    `xml:"bandwidth,attr"`
				Width     int    `xml:"width,attr"`
			} `xml:"Representation"`
		} `xml:"AdaptationSet"`
	} `xml:"Period"`
	UTCTiming []struct {
		Scheme string `xml:"schemeIdUri,attr"`
		Value  string `xml:"value,attr"`
	} `xml:"UTCTiming"`
}

// times expands a SegmentTimeline into segment start times.
func (d *mpdDoc) times(period, set int) []uint64 {
	var out []uint64
	var next uint64
	for _, s := range d.Periods[period].Sets[set].Template.S {
		if s.T != nil {
			next = *s.T
		}
		for i := 0; i <= s.R; i++ {
			out = append(out, next)
			next += s.D
		}
	}
	return out
}

// waitForMPD polls url until it answers 200 with a timeline, and parses it.
func waitForMPD(t *testing.T, url string) (mpdDoc, http.Header) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		status, h, body := hlsGet(t, ctx, url)
		cancel()
		if status == http.StatusOK && strings.Contains(string(body), "<S ") {
			var d mpdDoc
			require.NoError(t, xml.Unmarshal(body, &d), string(body))
			return d, h
		}
		last = fmt.Sprintf("%d %s", status, body)
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("MPD %s not ready within 30s; last answer: %s", url, last)
	return mpdDoc{}, nil
}

func TestDASHPlayback(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	pub := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/t", testutil.PublishOptions{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("publisher stderr: %s", pub.Stderr())
		}
	})
	waitForStream(t, s, "live/t")
	base := "http://" + s.HTTPAddr + "/live/"
	url := base + "t.mpd"
	d, h := waitForMPD(t, url)
	require.Equal(t, "application/dash+xml", h.Get("Content-Type"))
	require.Equal(t, "no-cache", h.Get("Cache-Control"))
	require.Equal(t, "*", h.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "dynamic", d.Type)
	require.NotEmpty(t, d.MinimumUpdatePeriod)
	require.Len(t, d.Periods, 1)
	require.Len(t, d.Periods[0].Sets, 2, "one AdaptationSet per component")
	require.Equal(t, "video", d.Periods[0].Sets[0].ContentType)
	require.Equal(t, "audio", d.Periods[0].Sets[1].ContentType)
	require.Regexp(t, `^avc1\.`, d.Periods[0].Sets[0].Reps[0].Codecs)
	require.Equal(t, "mp4a.40.2", d.Periods[0].Sets[1].Reps[0].Codecs)
	require.Equal(t, "false", d.Periods[0].Sets[0].Template.ATC)
	require.NotEmpty(t, d.Periods[0].Sets[0].Template.ATO)

	// UTCTiming points at our clock.
	require.Len(t, d.UTCTiming, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, _, body := hlsGet(t, ctx, d.UTCTiming[0].Value)
	require.Equal(t, http.StatusOK, st)
	now, err := time.Parse(time.RFC3339Nano, string(body))
	require.NoError(t, err, string(body))
	require.WithinDuration(t, time.Now(), now, 2*time.Second)

	// Every listed segment of both sets is served; the last (being
	// written) is streamed until complete.
	for set := range 2 {
		tmpl := d.Periods[0].Sets[set].Template
		st, hh, b := hlsGet(t, ctx, base+tmpl.Init)
		require.Equal(t, http.StatusOK, st, tmpl.Init)
		require.Equal(t, "video/mp4", hh.Get("Content-Type"))
		require.NotEmpty(t, b)
		for _, tt := range d.times(0, set) {
			u := base + strings.ReplaceAll(tmpl.Media, "$Time$", fmt.Sprint(tt))
			st, _, b := hlsGet(t, ctx, u)
			require.Equal(t, http.StatusOK, st, u)
			var parts fmp4.Parts
			require.NoError(t, parts.Unmarshal(b), u)
			require.NotEmpty(t, parts, u)
		}
	}

	streams, err := testutil.Probe(t, url, 30*time.Second)
	require.NoError(t, err)
	requireH264AAC(t, url, streams)

	res, err := testutil.Decode(t, url, 5*time.Second)
	require.NoError(t, err)
	require.Empty(t, res.Errors, "%s: ffmpeg reported decode errors", url)
	require.GreaterOrEqual(t, res.VideoFrames, 100, "%s: decoded video frames in 5 s at 25 fps", url)

	// Unknown streams are 404 at once.
	start := time.Now()
	st, _, _ = hlsGet(t, ctx, base+"nope.mpd")
	require.Equal(t, http.StatusNotFound, st)
	require.Less(t, time.Since(start), time.Second)
	st, _, _ = hlsGet(t, ctx, base+"t/dash/00000000_v_t0.m4s")
	require.Equal(t, http.StatusNotFound, st)
}

var hlsSegRE = regexp.MustCompile(`(?m)^t/hls/([0-9a-f]+)_seg(\d+)\.m4s$`)

// samples returns per track ID the (base time, sample hashes) of an fMP4
// byte string.
func samples(t *testing.T, b []byte) map[int][]string {
	t.Helper()
	var parts fmp4.Parts
	require.NoError(t, parts.Unmarshal(b))
	out := map[int][]string{}
	for _, p := range parts {
		for _, tr := range p.Tracks {
			dts := tr.BaseTime
			for _, s := range tr.Samples {
				out[tr.ID] = append(out[tr.ID], fmt.Sprintf("%d/%d/%x", dts, s.Duration, sha256.Sum256(s.Payload)))
				dts += uint64(s.Duration)
			}
		}
	}
	return out
}

// TestDASHSameBytesAsHLS: HLS and DASH are one packager described twice.
// The muxed init section and segment under the DASH path hash equal to
// HLS's; the per-track files the MPD references carry exactly the same
// samples (timing and payload) as the HLS segment of the same number.
func TestDASHSameBytesAsHLS(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HLS_VARIANT=lowlatency"})
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/t", testutil.PublishOptions{})
	waitForStream(t, s, "live/t")
	base := "http://" + s.HTTPAddr + "/live/"
	pl := waitForPlaylist(t, base+"t.m3u8")
	d, _ := waitForMPD(t, base+"t.mpd")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	m := hlsSegRE.FindStringSubmatch(pl)
	require.NotNil(t, m, pl)
	sid, msn := m[1], m[2]
	require.Equal(t, sid, d.ID, "MPD and playlist describe the same packager session")
	get := func(u string) []byte {
		st, _, b := hlsGet(t, ctx, base+u)
		require.Equal(t, http.StatusOK, st, u)
		return b
	}
	hash := func(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

	hlsInit, dashInit := get("t/hls/"+sid+"_init0.mp4"), get("t/dash/"+sid+"_init0.mp4")
	require.Equal(t, hash(hlsInit), hash(dashInit), "init section")
	hlsSeg, dashSeg := get("t/hls/"+sid+"_seg"+msn+".m4s"), get("t/dash/"+sid+"_seg"+msn+".m4s")
	require.Equal(t, hash(hlsSeg), hash(dashSeg), "segment %s", msn)

	want := samples(t, hlsSeg)
	require.NotEmpty(t, want[1])
	require.NotEmpty(t, want[2])
	v := samples(t, get("t/dash/"+sid+"_v_seg"+msn+".m4s"))
	a := samples(t, get("t/dash/"+sid+"_a_seg"+msn+".m4s"))
	require.Equal(t, want[1], v[1], "video samples of segment %s", msn)
	require.Equal(t, want[2], a[2], "audio samples of segment %s", msn)
	require.Len(t, v, 1)
	require.Len(t, a, 1)

	// The MPD's $Time$ URL of that segment is the same file.
	var first uint64
	fmt.Sscan(strings.Split(want[1][0], "/")[0], &first)
	tmpl := d.Periods[0].Sets[0].Template
	require.Contains(t, d.times(0, 0), first, "segment %s's start is listed in the MPD", msn)
	byTime := get(strings.ReplaceAll(tmpl.Media, "$Time$", fmt.Sprint(first)))
	require.Equal(t, hash(get("t/dash/"+sid+"_v_seg"+msn+".m4s")), hash(byTime))
	t.Logf("segment %s: HLS %d bytes = DASH muxed; video %d samples, audio %d samples identical",
		msn, len(hlsSeg), len(v[1]), len(a[2]))
}

// TestHLSDASHPlayAuth: HLS playlists and DASH MPDs ask the Authorizer for
// play (401 without a credential, 403 with the wrong scope, 200 with a
// play key as ?token=, ?key= or Bearer); media URLs hold the random
// session ID and need no credential.
func TestHLSDASHPlayAuth(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := writeConfig(t, `
paths:
  "live/*":
    play_keys: ["v1ew"]
`)
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/t", testutil.PublishOptions{})
	base := "http://" + s.HTTPAddr + "/live/"
	waitForMPD(t, base+"t.mpd?token=v1ew")
	for _, ext := range []string{".m3u8", ".mpd"} {
		st, body := httpStatus(t, base+"t"+ext)
		require.Equal(t, http.StatusUnauthorized, st, "%s without credential: %s", ext, body)
		st, body = httpStatus(t, base+"t"+ext+"?token=nope")
		require.Equal(t, http.StatusUnauthorized, st, "%s with a wrong key: %s", ext, body)
		st, body = httpStatus(t, base+"t"+ext+"?token=v1ew")
		require.Equal(t, http.StatusOK, st, "%s ?token=: %s", ext, body)
		st, body = httpStatus(t, base+"t"+ext+"?key=v1ew")
		require.Equal(t, http.StatusOK, st, "%s ?key=: %s", ext, body)
		st, body = httpStatus(t, base+"t"+ext, "Authorization", "Bearer v1ew")
		require.Equal(t, http.StatusOK, st, "%s Bearer: %s", ext, body)
	}
	// Media named in an authorized MPD is served without a credential.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, b := hlsGet(t, ctx, base+"t.mpd?token=v1ew")
	var d mpdDoc
	require.NoError(t, xml.Unmarshal(b, &d))
	st, _, _ := hlsGet(t, ctx, base+d.Periods[0].Sets[0].Template.Init)
	require.Equal(t, http.StatusOK, st)
}
