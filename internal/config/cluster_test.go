package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClusterDefaultsSingleNode(t *testing.T) {
	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, "", c.Cluster.Redis, "no cluster by default")
	require.Equal(t, "origin", c.Cluster.Role)
	require.Equal(t, "10s", c.Cluster.TTL.Duration.String())
	require.Equal(t, 1024, c.Storage.MaxQueue)
}

func TestClusterFromEnv(t *testing.T) {
	c, err := Load("", []string{"SLUICE_CLUSTER_REDIS=redis://127.0.0.1:6379/0", "SLUICE_CLUSTER_NODE_ID=n1",
		"SLUICE_CLUSTER_ROLE=edge", "SLUICE_CLUSTER_TTL=4s", "SLUICE_STORAGE_S3_ENDPOINT=s3.local:9000",
		"SLUICE_STORAGE_S3_BUCKET=b", "SLUICE_STORAGE_S3_INSECURE=true"})
	require.NoError(t, err)
	require.Equal(t, "redis://127.0.0.1:6379/0", c.Cluster.Redis)
	require.Equal(t, "edge", c.Cluster.Role)
	require.True(t, c.Storage.S3.Insecure)
}

func TestClusterValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"scheme", func(c *Config) { c.Cluster.Redis = "http://x:6379" }, "cluster.redis: want redis://"},
		{"no host", func(c *Config) { c.Cluster.Redis = "redis://" }, "cluster.redis"},
		{"role", func(c *Config) { c.Cluster.Role = "leader" }, "cluster.role"},
		{"ttl low", func(c *Config) { c.Cluster.TTL.Duration = 500e6 }, "cluster.ttl: must be in 1s..60s"},
		{"ttl high", func(c *Config) { c.Cluster.TTL.Duration = 61e9 }, "cluster.ttl"},
		{"secret short", func(c *Config) { c.Cluster.Secret = "short" }, "cluster.secret: must be empty"},
		{"secret space", func(c *Config) { c.Cluster.Secret = "0123456789abcdef ghij" }, "printable ASCII"},
		{"bucket", func(c *Config) { c.Storage.S3.Endpoint = "s3.local" }, "storage.s3.bucket: must be set"},
		{"queue", func(c *Config) { c.Storage.MaxQueue = 1 }, "storage.max_queue"},
		{"upload without s3", func(c *Config) {
			c.Paths = map[string]PathConfig{"live/*": {HLS: PathHLSConfig{Upload: true}}}
		}, "paths.live/*.hls.upload: needs storage.s3.endpoint"},
		{"record upload without s3", func(c *Config) { c.Record.Upload = true },
			"record.upload: needs storage.s3.endpoint"},
		{"delete local without upload", func(c *Config) {
			c.Storage.S3 = S3Config{Endpoint: "s3.example.com", Bucket: "b"}
			c.Record.DeleteLocalAfterUpload = true
		}, "record.delete_local_after_upload: needs record.upload: true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load("", nil)
			require.NoError(t, err)
			tc.edit(c)
			err = c.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	c, err := Load("", nil)
	require.NoError(t, err)
	c.Cluster.Redis, c.Cluster.Secret = "rediss://user:pw@redis.example:6380/2", "0123456789abcdef-secret"
	require.NoError(t, c.Validate())
}
