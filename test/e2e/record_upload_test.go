package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestRecordUploadToS3: ~8 s of an ffmpeg publish recorded in 3 s files
// with record.upload; once the publisher stops, the bucket holds every
// closed file as PREFIX/recordings/APP/NAME/FILE.mp4, each decodes with
// ffmpeg without an error, and together they hold the publish. With
// delete_local_after_upload the local files are gone; without, they stay
// beside their ".uploaded" markers.
func TestRecordUploadToS3(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	for _, deleteLocal := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete_local=%v", deleteLocal), func(t *testing.T) { testRecordUpload(t, deleteLocal) })
	}
}

func testRecordUpload(t *testing.T, deleteLocal bool) {
	s3 := testutil.StartS3(t)
	dir := t.TempDir()
	s := testutil.StartSluice(t, nil, "-config", writeConfig(t, fmt.Sprintf(`
record:
  dir: %q
  segment_duration: 3s
  upload: true
  delete_local_after_upload: %v
storage:
  s3: { endpoint: "%s", bucket: %s, access_key: %s, secret_key: %s, prefix: "pre/", insecure: true }
paths:
  "live/*": { record: true }
`, dir, deleteLocal, s3.Endpoint, s3.Bucket, s3.AccessKey, s3.SecretKey)))
	pub := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/rec",
		testutil.PublishOptions{Pattern: testutil.Pattern{GOP: 25, Duration: 8 * time.Second}})
	select {
	case <-pub.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the 8 s publish did not end within 30 s")
	}

	// 8 s in 3 s files: 3 files, all closed once the stream ends.
	const prefix = "pre/recordings/live/rec/"
	var objs map[string]bool
	require.Eventually(t, func() bool {
		objs = storedObjects(t, s3, prefix)
		return len(objs) >= 3
	}, 30*time.Second, 250*time.Millisecond, "expected at least 3 recordings in the bucket, seen %v", objs)
	// The last file's upload may still count: wait for the metric to agree.
	want := fmt.Sprintf(`sluice_record_uploads_total{result="ok"} %d`, len(objs))
	require.Eventually(t, func() bool {
		return strings.Contains(getText(t, "http://"+s.HTTPAddr+"/metrics"), want)
	}, 10*time.Second, 100*time.Millisecond, "expected %s", want)
	require.Contains(t, getText(t, "http://"+s.HTTPAddr+"/metrics"), `sluice_record_uploads_total{result="failed"} 0`)

	var names []string
	total := 0.0
	tmp := t.TempDir()
	for k := range objs {
		file := strings.TrimPrefix(k, prefix)
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.mp4$`, file, "object %s", k)
		names = append(names, file)
		local := filepath.Join(tmp, file)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, s3.Client.FGetObject(ctx, s3.Bucket, k, local, minio.GetObjectOptions{}), "download %s", k)
		cancel()
		require.Empty(t, decodeErrors(t, local), "ffmpeg decoding the uploaded %s", file)
		total += probeSpan(t, local)
	}
	require.InDelta(t, 8.0, total, 1.5, "media time of the uploaded files (%v)", names)
	sort.Strings(names)

	streamDir := filepath.Join(dir, "live", "rec")
	localMP4 := func() []string {
		ents, err := os.ReadDir(streamDir)
		require.NoError(t, err)
		var out []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".mp4") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	if deleteLocal {
		// The counter goes up just before the file is removed.
		var left []string
		require.Eventually(t, func() bool { left = localMP4(); return len(left) == 0 }, 5*time.Second, 50*time.Millisecond,
			"expected delete_local_after_upload to remove the uploaded files, seen %v", left)
		require.Empty(t, listRecordings(t, s, "live/rec"), "nothing left to list locally")
		return
	}
	require.Equal(t, names, localMP4(), "the local files are kept, the same as uploaded")
	for _, n := range names {
		require.FileExists(t, filepath.Join(streamDir, n+".uploaded"))
	}
}
