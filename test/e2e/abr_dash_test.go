package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// abrDASHConfig is a small on-demand ladder for a 640x360 source: the
// source and two small rungs.
const abrDASHConfig = `
paths:
  "live/*":
    transcode:
      passthrough: true
      ladder:
        - { name: 240p, width: 426, height: 240, video_bitrate: 300k, preset: ultrafast }
        - { name: 144p, width: 256, height: 144, video_bitrate: 150k, max_fps: 15, preset: ultrafast }
`

// ladderMPD is what the test reads of a ladder's MPD: Representations
// with their own SegmentTemplates.
type ladderMPD struct {
	Periods []struct {
		Sets []struct {
			ContentType string `xml:"contentType,attr"`
			Reps        []struct {
				ID        string `xml:"id,attr"`
				Bandwidth int    `xml:"bandwidth,attr"`
				Codecs    string `xml:"codecs,attr"`
				Width     int    `xml:"width,attr"`
				Height    int    `xml:"height,attr"`
				FrameRate string `xml:"frameRate,attr"`
				Template  *struct {
					Init  string `xml:"initialization,attr"`
					Media string `xml:"media,attr"`
				} `xml:"SegmentTemplate"`
			} `xml:"Representation"`
		} `xml:"AdaptationSet"`
	} `xml:"Period"`
}

// TestDASHABRLadder: with an on-demand ladder, /live/abr.mpd starts it and
// lists one video AdaptationSet with the source and every rung as
// Representations (their own sizes and media URLs), the source's audio;
// ffprobe sees every Representation and ffmpeg decodes each.
func TestDASHABRLadder(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(abrDASHConfig), 0o600))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/abr", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360", Bitrate: "1000k"}})
	waitForStream(t, s, "live/abr")
	base := "http://" + s.HTTPAddr + "/live/"
	url := base + "abr.mpd"

	// The MPD request starts the ladder; poll until every rendition is
	// listed.
	var d ladderMPD
	var body []byte
	deadline := time.Now().Add(40 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		status, hdr, b := hlsGet(t, ctx, url)
		cancel()
		body = b
		if status == http.StatusOK {
			require.Equal(t, "application/dash+xml", hdr.Get("Content-Type"))
			d = ladderMPD{}
			require.NoError(t, xml.Unmarshal(b, &d), string(b))
			if len(d.Periods) > 0 && len(d.Periods[len(d.Periods)-1].Sets) > 0 &&
				len(d.Periods[len(d.Periods)-1].Sets[0].Reps) == 3 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "MPD never listed 3 video Representations; last: %d %s", status, b)
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("MPD:\n%s", body)
	var tr struct {
		Transcoders []struct {
			Source string `json:"source"`
		} `json:"transcoders"`
	}
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/transcoders", &tr)
	require.Len(t, tr.Transcoders, 1)
	require.Equal(t, "live/abr", tr.Transcoders[0].Source)

	p := d.Periods[len(d.Periods)-1]
	require.Len(t, p.Sets, 2, "one video and one audio AdaptationSet")
	require.Equal(t, "video", p.Sets[0].ContentType)
	require.Equal(t, "audio", p.Sets[1].ContentType)
	require.Len(t, p.Sets[1].Reps, 1)
	require.Equal(t, "mp4a.40.2", p.Sets[1].Reps[0].Codecs)
	want := []struct {
		w, h   int
		prefix string
	}{{640, 360, "abr/dash/"}, {426, 240, "abr_240p/dash/"}, {256, 144, "abr_144p/dash/"}}
	ids := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, rep := range p.Sets[0].Reps {
		require.Equal(t, want[i].w, rep.Width, rep.ID)
		require.Equal(t, want[i].h, rep.Height, rep.ID)
		require.Regexp(t, `^avc1\.`, rep.Codecs, rep.ID)
		require.Positive(t, rep.Bandwidth, rep.ID)
		require.NotNil(t, rep.Template, rep.ID)
		require.True(t, strings.HasPrefix(rep.Template.Init, want[i].prefix), rep.Template.Init)
		require.True(t, strings.HasPrefix(rep.Template.Media, want[i].prefix), rep.Template.Media)
		require.False(t, ids[rep.ID], "duplicate Representation id %s", rep.ID)
		ids[rep.ID] = true
		st, _, b := hlsGet(t, ctx, base+rep.Template.Init)
		require.Equal(t, http.StatusOK, st, rep.Template.Init)
		require.NotEmpty(t, b)
	}
	require.Equal(t, "15", p.Sets[0].Reps[2].FrameRate)

	// ffprobe sees every Representation.
	streams, err := testutil.Probe(t, url, 40*time.Second)
	require.NoError(t, err)
	var sizes []string
	for _, st := range streams {
		if st.CodecType == "video" {
			sizes = append(sizes, fmt.Sprintf("%dx%d", st.Width, st.Height))
		}
	}
	require.ElementsMatch(t, []string{"640x360", "426x240", "256x144"}, sizes, "ffprobe video streams")

	// ffmpeg decodes each Representation.
	testutil.RequireTool(t, "ffmpeg")
	for n := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
			"-i", url, "-map", fmt.Sprintf("0:v:%d", n), "-t", "2", "-f", "null", "-")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		require.NoError(t, err, "ffmpeg v:%d: %s", n, stderr.String())
		require.Empty(t, strings.TrimSpace(stderr.String()), "ffmpeg v:%d reported errors", n)
	}
}
