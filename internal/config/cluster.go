package config

import (
	"net/url"
	"time"
)

// ClusterConfig is the "cluster" section: several nodes sharing stream
// ownership in Redis (internal/cluster). Redis empty: a single node.
type ClusterConfig struct {
	// Redis is the Redis URL, e.g. "redis://10.0.0.5:6379/0" (rediss:// for
	// TLS). Default "": single node, no cluster.
	Redis string `yaml:"redis"`
	// NodeID names this node in Redis, the API and logs. Default "": the
	// hostname.
	NodeID string `yaml:"node_id"`
	// Advertise is the RTMP host:port other nodes pull this node's streams
	// from, reachable from them. Default "": not pullable by edges.
	Advertise string `yaml:"advertise"`
	// Role is "origin" (accepts publishers and viewers) or "edge" (viewers
	// only). Default "origin".
	Role string `yaml:"role"`
	// TTL is how long a stream claim and a node heartbeat live without a
	// refresh (refreshed every TTL/4): after a node dies its paths can be
	// published elsewhere within TTL. 1s..60s. Default 10s.
	TTL Duration `yaml:"ttl"`
	// Secret is shared by every node and authenticates internal pulls
	// (16..256 printable ASCII characters). Default "": internal pulls off.
	Secret string `yaml:"secret"`
}

// StorageConfig is the "storage" section: object storage that HLS/DASH is
// mirrored to (paths.*.hls.upload).
type StorageConfig struct {
	// S3 is an S3-compatible bucket. Off while Endpoint is empty.
	S3 S3Config `yaml:"s3"`
	// MaxQueue bounds the uploads and deletes waiting for the store; past
	// it the oldest is dropped with a log line. 16..100000. Default 1024.
	MaxQueue int `yaml:"max_queue"`
}

// S3Config is the "storage.s3" block.
type S3Config struct {
	// Endpoint is the S3 host[:port], e.g. "s3.eu-west-1.amazonaws.com".
	// Default "": no object storage.
	Endpoint string `yaml:"endpoint"`
	// Bucket is the bucket name (it must exist). Default "".
	Bucket string `yaml:"bucket"`
	// Region is the bucket's region. Default "" (the store's default).
	Region string `yaml:"region"`
	// AccessKey and SecretKey are the credentials. Default "".
	AccessKey string `yaml:"access_key"`
	// SecretKey is the secret of AccessKey. Default "".
	SecretKey string `yaml:"secret_key"`
	// Prefix starts every object name, e.g. "live-hls/". Objects are named
	// PREFIX + APP/NAME/<file>. Default "".
	Prefix string `yaml:"prefix"`
	// Insecure uses plain HTTP instead of HTTPS. Default false.
	Insecure bool `yaml:"insecure"`
}

// validateCluster checks the cluster and storage sections.
func (v *validator) validateCluster(c *Config) {
	cl := c.Cluster
	if cl.Redis != "" {
		if u, err := url.Parse(cl.Redis); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			v.fail("cluster.redis", "want redis://HOST:PORT/DB or rediss://…, got %q", cl.Redis)
		}
	}
	v.oneOf("cluster.role", cl.Role, "origin", "edge")
	if cl.TTL.Duration < time.Second || cl.TTL.Duration > time.Minute {
		v.fail("cluster.ttl", "must be in 1s..60s, got %s", cl.TTL.Duration)
	}
	if n := len(cl.Secret); n != 0 && (n < 16 || n > 256) {
		v.fail("cluster.secret", "must be empty (internal pulls off) or 16..256 characters, got %d characters", n)
	}
	for i := 0; i < len(cl.Secret); i++ {
		if ch := cl.Secret[i]; ch <= ' ' || ch > '~' {
			v.fail("cluster.secret", "must be printable ASCII without spaces (it is sent in a URL)")
			break
		}
	}
	s3 := c.Storage.S3
	if s3.Endpoint != "" && s3.Bucket == "" {
		v.fail("storage.s3.bucket", "must be set with storage.s3.endpoint")
	}
	v.between("storage.max_queue", c.Storage.MaxQueue, 16, 100000)
	if c.Record.Upload && s3.Endpoint == "" {
		v.fail("record.upload", "needs storage.s3.endpoint (recordings are uploaded there)")
	}
	if c.Record.DeleteLocalAfterUpload && !c.Record.Upload {
		v.fail("record.delete_local_after_upload", "needs record.upload: true (a file is deleted only once uploaded)")
	}
	for pattern, pc := range c.Paths {
		if pc.HLS.Upload && s3.Endpoint == "" {
			v.fail("paths."+pattern+".hls.upload", "needs storage.s3.endpoint")
		}
	}
}
