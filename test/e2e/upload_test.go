package e2e

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// storedObjects lists the bucket's objects under prefix.
func storedObjects(t *testing.T, s3 *testutil.S3, prefix string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]bool{}
	for o := range s3.Client.ListObjects(ctx, s3.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		require.NoError(t, o.Err)
		out[o.Key] = true
	}
	return out
}

// anonGet fetches an object over plain HTTP without credentials, as a CDN
// would.
func anonGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var segNumRE = regexp.MustCompile(`_seg(\d+)\.(m4s|ts)$`)

// dashSegRE matches the stored DASH track segments (SID_v_tT.m4s).
var dashSegRE = regexp.MustCompile(`_[va](_e\d+)?_t\d+\.m4s$`)

// storedMPDMedia lists the media object names a stored MPD's
// SegmentTemplates name: each init, and each timeline entry's $Time$.
func storedMPDMedia(t *testing.T, mpd string) []string {
	t.Helper()
	var doc struct {
		Periods []struct {
			Sets []struct {
				Tmpl struct {
					Init  string `xml:"initialization,attr"`
					Media string `xml:"media,attr"`
					S     []struct {
						T *uint64 `xml:"t,attr"`
						D uint64  `xml:"d,attr"`
						R int     `xml:"r,attr"`
					} `xml:"SegmentTimeline>S"`
				} `xml:"SegmentTemplate"`
			} `xml:"AdaptationSet"`
		} `xml:"Period"`
	}
	require.NoError(t, xml.Unmarshal([]byte(mpd), &doc), "stored MPD:\n%s", mpd)
	var names []string
	for _, p := range doc.Periods {
		for _, as := range p.Sets {
			names = append(names, as.Tmpl.Init)
			var at uint64
			for _, s := range as.Tmpl.S {
				if s.T != nil {
					at = *s.T
				}
				for range s.R + 1 {
					names = append(names, strings.Replace(as.Tmpl.Media, "$Time$", strconv.FormatUint(at, 10), 1))
					at += s.D
				}
			}
		}
	}
	require.NotEmpty(t, names, "no media in the stored MPD:\n%s", mpd)
	return names
}

func TestHLSUploadToS3(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	for _, variant := range []string{"fmp4", "mpegts"} {
		t.Run(variant, func(t *testing.T) { testHLSUpload(t, variant) })
	}
}

func testHLSUpload(t *testing.T, variant string) {
	s3 := testutil.StartS3(t)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
hls: { variant: `+variant+`, segment_duration: 1s, window: 3 }
storage:
  s3: { endpoint: "`+s3.Endpoint+`", bucket: `+s3.Bucket+`, access_key: `+s3.AccessKey+`, secret_key: `+s3.SecretKey+`, prefix: "cdn/", insecure: true }
paths:
  "live/*": { hls: { upload: true } }
`), 0o644))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/up", testutil.PublishOptions{Pattern: testutil.Pattern{GOP: 25}})

	playlist := "cdn/live/up/index.m3u8"
	var body string
	var objs map[string]bool
	// Wait for the window to roll: more segments produced than the window
	// plus the two kept behind, so deletes must have happened.
	require.Eventually(t, func() bool {
		code, b := anonGet(t, s3.URL(playlist))
		if code != http.StatusOK {
			return false
		}
		body = b
		m := regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`).FindStringSubmatch(b)
		if m == nil {
			return false
		}
		first, _ := strconv.Atoi(m[1])
		return first >= 4
	}, 40*time.Second, 250*time.Millisecond, "playlist never rolled past 3 segments; last:\n%s", body)

	// Every object the playlist names exists (segments go up first).
	objs = storedObjects(t, s3, "cdn/live/up/")
	named := 0
	for _, line := range strings.Split(body, "\n") {
		uri := line
		if m := regexp.MustCompile(`URI="([^"]+)"`).FindStringSubmatch(line); m != nil {
			uri = m[1]
		} else if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		require.True(t, objs["cdn/live/up/"+uri], "playlist names %s, not in the bucket %v", uri, objs)
		named++
	}
	require.GreaterOrEqual(t, named, 3, "playlist:\n%s", body)
	require.NotContains(t, body, "EXT-X-PART", "a stored playlist is classic HLS")

	// Old segments are deleted: what is stored stays within the window
	// plus the two kept behind (plus one in flight).
	segs := 0
	lowest := -1
	for k := range objs {
		if m := segNumRE.FindStringSubmatch(k); m != nil {
			segs++
			n, _ := strconv.Atoi(m[1])
			if lowest < 0 || n < lowest {
				lowest = n
			}
		}
	}
	require.LessOrEqual(t, segs, 3+2+1, "segments stored: %v", objs)
	require.Greater(t, lowest, 0, "the first segments were deleted: %v", objs)

	// ffmpeg plays straight from the bucket over anonymous HTTP.
	res, err := testutil.Decode(t, s3.URL(playlist), 3*time.Second)
	require.NoError(t, err)
	require.Greater(t, res.VideoFrames, 50, "frames decoded from the stored HLS (errors: %v)", res.Errors)

	if variant == "fmp4" {
		// DASH beside it: every media object the stored MPD's timeline
		// names exists, old ones are deleted, and ffmpeg plays it from the
		// bucket.
		code, mpd := anonGet(t, s3.URL("cdn/live/up/manifest.mpd"))
		require.Equal(t, http.StatusOK, code, "stored MPD: %s", mpd)
		require.Contains(t, mpd, `type="dynamic"`)
		require.NotContains(t, mpd, `r="-1"`, "a stored MPD names complete segments only")
		objs = storedObjects(t, s3, "cdn/live/up/")
		for _, name := range storedMPDMedia(t, mpd) {
			require.True(t, objs["cdn/live/up/"+name], "the MPD names %s, not in the bucket %v", name, objs)
		}
		dashSegs := 0
		for k := range objs {
			if dashSegRE.MatchString(k) {
				dashSegs++
			}
		}
		require.LessOrEqual(t, dashSegs, 2*(3+2+1)+2, "DASH track segments stored (old ones deleted): %v", objs)
		res, err := testutil.Decode(t, s3.URL("cdn/live/up/manifest.mpd"), 3*time.Second)
		require.NoError(t, err)
		require.Greater(t, res.VideoFrames, 50, "frames decoded from the stored DASH (errors: %v)", res.Errors)
	}

	m := getText(t, "http://"+s.HTTPAddr+"/metrics")
	require.Regexp(t, `sluice_uploads_ok_total [1-9]`, m)
	require.Contains(t, m, "sluice_uploads_dropped_total 0")
}
