// Package storage is object storage behind a small interface (put,
// delete, list), with an S3 implementation (minio-go, any S3-compatible
// server) and an Uploader: a bounded, ordered queue that mirrors what the
// live path produces to a store without ever blocking it.
package storage

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Store is an object store. Names are relative to the store's prefix.
type Store interface {
	// Put stores data under name, replacing any object there.
	Put(ctx context.Context, name string, data []byte, meta Meta) error
	// Delete removes name; a missing object is no error.
	Delete(ctx context.Context, name string) error
	// List returns the names under prefix (recursively), at most limit.
	List(ctx context.Context, prefix string, limit int) ([]string, error)
}

// Meta is the HTTP metadata an object is served with.
type Meta struct {
	// ContentType is e.g. "application/vnd.apple.mpegurl".
	ContentType string
	// CacheControl is e.g. "max-age=1" for a playlist, "max-age=86400,
	// immutable" for a segment, so a CDN in front caches each right.
	CacheControl string
}

// S3Options configure an S3 store.
type S3Options struct {
	// Endpoint is host[:port]. Required.
	Endpoint string
	// Bucket must exist. Required.
	Bucket string
	// Region is the bucket's region; "" lets the client find out.
	Region string
	// AccessKey and SecretKey are static credentials.
	AccessKey, SecretKey string
	// Prefix starts every object name.
	Prefix string
	// Insecure uses HTTP instead of HTTPS.
	Insecure bool
}

// S3 is a Store in an S3 bucket.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

var _ Store = (*S3)(nil)

// NewS3 returns an S3 store. It does not contact the server.
func NewS3(o S3Options) (*S3, error) {
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: !o.Insecure,
		Region: o.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("storage.s3.endpoint %q: %w", o.Endpoint, err)
	}
	return &S3{c: c, bucket: o.Bucket, prefix: o.Prefix}, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, name string, data []byte, meta Meta) error {
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: meta.ContentType, CacheControl: meta.CacheControl,
			// One request, no multipart: segments are small.
			DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", name, err)
	}
	return nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, name string) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.prefix+name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3: delete %s: %w", name, err)
	}
	return nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string, limit int) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine at limit
	var out []string
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return out, fmt.Errorf("s3: list %s: %w", prefix, obj.Err)
		}
		out = append(out, strings.TrimPrefix(obj.Key, s.prefix))
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

// PutFile stores the local file path under name, read from disk as it is
// sent (never whole in memory). The object appears only once complete:
// a single PUT, or above 16 MiB a multipart upload that S3 makes visible
// at its completion, so an upload cut short leaves no partial object
// (only, for multipart, invisible parts a bucket lifecycle rule
// "AbortIncompleteMultipartUpload" reclaims).
func (s *S3) PutFile(ctx context.Context, name, path string, meta Meta) error {
	_, err := s.c.FPutObject(ctx, s.bucket, s.prefix+name, path, minio.PutObjectOptions{
		ContentType: meta.ContentType, CacheControl: meta.CacheControl,
		// One part in memory at a time: a recording may be gigabytes.
		PartSize: 16 << 20, NumThreads: 1})
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", name, err)
	}
	return nil
}
