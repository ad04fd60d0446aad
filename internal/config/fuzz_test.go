package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzOverlayYAML checks that no config file makes the loader panic or
// hang, that every error is one line starting with a location, and that a
// file that loads also round-trips through YAML().
func FuzzOverlayYAML(f *testing.F) {
	f.Add([]byte(""))
	f.Add(DefaultsYAML())
	f.Add([]byte("rtmp: { listen: \":1\", chunk_size: 128 }\nhub: { max_lag: 1s }\n"))
	f.Add([]byte("paths:\n  \"live/*\":\n    publish_keys: [a]\n    transcode: { ladder: [ { name: x, height: 2, video_bitrate: 1k } ] }\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("rtmp: &r { listen: \":1\" }\nrtmps: { <<: *r, nope: 1 }\n"))
	f.Add([]byte("hub:\n  max_lag: 5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Defaults()
		require.NoError(t, err)
		if err := c.overlayYAML(b); err != nil {
			require.NotContains(t, err.Error(), "\n")
			return
		}
		_ = c.Validate()
		_ = c.PathSettings("live/cam1")
		out, err := c.YAML()
		require.NoError(t, err)
		c2, err := Defaults()
		require.NoError(t, err)
		require.NoError(t, c2.overlayYAML(out), "re-loading:\n%s", out)
		out2, err := c2.YAML()
		require.NoError(t, err)
		require.Equal(t, string(out), string(out2))
	})
}
