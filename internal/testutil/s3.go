package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a real S3 server (versitygw, POSIX backend in a temp dir) started
// by a test on a loopback port, with one bucket anyone may read.
type S3 struct {
	// Endpoint is its host:port (plain HTTP).
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Bucket exists, readable anonymously over HTTP.
	Bucket string
	// Client is a client with the root credentials.
	Client *minio.Client
}

// versitygwBin finds versitygw: in PATH, else where scripts/deps.sh installs
// it (go install: $(go env GOPATH)/bin).
func versitygwBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err == nil {
			gopath = string(out[:len(out)-1])
		}
	}
	p := filepath.Join(gopath, "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("versitygw not found in PATH or %s: run scripts/deps.sh (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)", p)
	}
	return p
}

// StartS3 runs versitygw with a POSIX backend in a temp dir (metadata in a
// sidecar dir, so the temp filesystem needs no xattr support), creates a
// bucket with an anonymous-read policy and returns once it answers. It is
// killed when the test ends.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := versitygwBin(t)
	root, meta := t.TempDir(), t.TempDir()
	s := &S3{AccessKey: "sluicetestaccess", SecretKey: "sluicetestsecret0123456789", Bucket: "media"}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s.Endpoint = freeLoopbackPort(t)
		p := &Process{Cmd: exec.Command(bin, "--port", s.Endpoint, "--quiet", "posix", "--sidecar", meta, root),
			done: make(chan struct{})}
		p.Cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
		p.Cmd.Stderr = &lockedWriter{p: p}
		p.Cmd.Stdout = &lockedWriter{p: p}
		if err := p.Cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		go func() { p.err = p.Cmd.Wait(); close(p.done) }()
		t.Cleanup(p.Kill)
		if lastErr = s.ready(p); lastErr == nil {
			break
		}
		p.Kill()
	}
	if lastErr != nil {
		t.Fatalf("versitygw: %v", lastErr)
	}
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	s.Client = c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("versitygw: make bucket: %v", err)
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, s.Bucket)
	if err := c.SetBucketPolicy(ctx, s.Bucket, policy); err != nil {
		t.Fatalf("versitygw: anonymous-read bucket policy: %v", err)
	}
	return s
}

// ready waits until the server accepts TCP connections.
func (s *S3) ready(p *Process) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.Done():
			return fmt.Errorf("exited: %s", p.Stderr())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Endpoint, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not listening within 15s: %s", p.Stderr())
}

// URL returns the anonymous HTTP URL of object name in the bucket.
func (s *S3) URL(name string) string { return "http://" + s.Endpoint + "/" + s.Bucket + "/" + name }
