package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
)

// TestEffectiveConfigRedactsSecrets: every credential of the config is
// replaced, URLs keep their host but lose credentials and stream keys,
// and the rest (defaults, file, env overrides) is shown as it runs.
func TestEffectiveConfigRedactsSecrets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`
api: { key: "api-key-0123456789abcdef0123456789" }
cluster: { secret: "cluster-secret-0123456789abcdef" }
storage:
  s3: { endpoint: "127.0.0.1:9000", bucket: b, access_key: AKIA-SECRET, secret_key: SK-SECRET }
paths:
  "live/*":
    publish_keys: ["pub-SECRET"]
    play_keys: ["play-SECRET"]
    srt_passphrase: "srt-passphrase-SECRET"
    forward: ["rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop-SECRET"]
  "cams/door":
    source: "rtsp://admin:pw-SECRET@192.0.2.20:554/stream1?token=tok-SECRET"
`), 0o600))
	cfg, err := config.Load(p, []string{"SLUICE_HLS_SEGMENT_DURATION=4s"})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	v, err := effectiveConfig(cfg)
	require.NoError(t, err)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	out := string(b)
	require.NotContains(t, out, "SECRET", "a credential is shown: %s", out)
	require.NotContains(t, out, "api-key-0123456789")
	require.NotContains(t, out, "cluster-secret-0123")

	var doc struct {
		HLS struct {
			SegmentDuration string `json:"segment_duration"`
		} `json:"hls"`
		Storage struct {
			S3 struct {
				Endpoint  string `json:"endpoint"`
				AccessKey string `json:"access_key"`
			} `json:"s3"`
		} `json:"storage"`
		Paths map[string]struct {
			Source      string   `json:"source"`
			Forward     []string `json:"forward"`
			PublishKeys []string `json:"publish_keys"`
		} `json:"paths"`
		API struct {
			Key string `json:"key"`
		} `json:"api"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, "4s", doc.HLS.SegmentDuration, "env overrides are applied")
	require.Equal(t, "127.0.0.1:9000", doc.Storage.S3.Endpoint, "non-secrets are shown")
	require.Equal(t, redacted, doc.Storage.S3.AccessKey)
	require.Equal(t, redacted, doc.API.Key)
	require.Equal(t, []string{redacted}, doc.Paths["live/*"].PublishKeys)
	require.True(t, strings.HasPrefix(doc.Paths["cams/door"].Source, "rtsp://REDACTED@192.0.2.20:554/stream1?"), doc.Paths["cams/door"].Source)
	require.True(t, strings.HasPrefix(doc.Paths["live/*"].Forward[0], "rtmp://a.rtmp.youtube.com/live2/"), doc.Paths["live/*"].Forward[0])
}
