package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/testutil"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newAuth builds an Authorizer over the defaults plus paths, closed when
// the test ends.
func newAuth(t *testing.T, paths map[string]config.PathConfig, edit ...func(*config.Config)) *Authorizer {
	t.Helper()
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Paths = paths
	for _, e := range edit {
		e(cfg)
	}
	require.NoError(t, cfg.Validate())
	a, err := New(Options{Config: cfg, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	return a
}

func pub(path, token string) Request {
	return Request{Action: Publish, Path: path, Protocol: "rtmp", Remote: "192.0.2.7:5000", Token: token}
}

func play(path, token string) Request {
	return Request{Action: Play, Path: path, Protocol: "http-flv", Remote: "192.0.2.8:6000", Token: token}
}

func requireDenied(t *testing.T, err, kind error, reason string) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, kind), "want %v, got %v", kind, err)
	require.Contains(t, err.Error(), reason)
}

func TestOpenByDefault(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newAuth(t, nil)
	ctx := context.Background()
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "")))
	require.NoError(t, a.Authorize(ctx, play("live/cam1", "anything")))
	requireDenied(t, a.Authorize(ctx, Request{Action: "delete", Path: "live/cam1"}), ErrForbidden, "unknown action")
	a.Ended(pub("live/cam1", "")) // no hooks: nothing happens
}

func TestStaticKeys(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newAuth(t, map[string]config.PathConfig{
		"live/*":   {PublishKeys: []string{"s3cret", "other"}, PlayKeys: []string{"viewer"}},
		"open/*":   {},
		"live/pub": {PublishKeys: []string{"exact"}},
	})
	ctx := context.Background()
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "s3cret")))
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "other")))
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", "")), ErrUnauthorized, "publish live/cam1 needs a key")
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", "s3cre")), ErrUnauthorized, "invalid key for publish live/cam1")
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", "viewer")), ErrUnauthorized, "invalid key")
	require.NoError(t, a.Authorize(ctx, play("live/cam1", "viewer")))
	requireDenied(t, a.Authorize(ctx, play("live/cam1", "s3cret")), ErrUnauthorized, "invalid key for play")
	// The most specific pattern alone applies.
	require.NoError(t, a.Authorize(ctx, pub("live/pub", "exact")))
	requireDenied(t, a.Authorize(ctx, pub("live/pub", "s3cret")), ErrUnauthorized, "invalid key")
	require.NoError(t, a.Authorize(ctx, play("live/pub", "")))
	require.NoError(t, a.Authorize(ctx, pub("open/x", "")))
	require.NoError(t, a.Authorize(ctx, pub("other/x", "")))
	// The reason never carries the token.
	err := a.Authorize(ctx, pub("live/cam1", "not-the-key"))
	require.NotContains(t, err.Error(), "not-the-key")
}

func TestKeySetConstantTime(t *testing.T) {
	s := newKeySet([]string{"a", "bb"})
	require.True(t, s.contains("a"))
	require.True(t, s.contains("bb"))
	require.False(t, s.contains(""))
	require.False(t, s.contains("b"))
	require.True(t, newKeySet(nil).empty())
}

func TestHTTPStatus(t *testing.T) {
	require.Equal(t, 401, HTTPStatus(deny(ErrUnauthorized, "x")))
	require.Equal(t, 403, HTTPStatus(deny(ErrForbidden, "x")))
	require.Equal(t, 500, HTTPStatus(errors.New("x")))
}

func TestTokenFromHTTPAndQuery(t *testing.T) {
	r := httptest.NewRequest("GET", "/live/cam1.flv?token=t1&key=k1", nil)
	require.Equal(t, "t1", TokenFromHTTP(r))
	r.Header.Set("Authorization", "Bearer  b1 ")
	require.Equal(t, "b1", TokenFromHTTP(r))
	r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	require.Equal(t, "t1", TokenFromHTTP(r))
	require.Equal(t, "k1", TokenFromHTTP(httptest.NewRequest("GET", "/live/cam1.flv?key=k1", nil)))
	require.Equal(t, "", TokenFromHTTP(httptest.NewRequest("GET", "/live/cam1.flv", nil)))

	require.Equal(t, "k", TokenFromQuery(url.Values{"key": {"k"}, "token": {"t"}}))
	require.Equal(t, "t", TokenFromQuery(url.Values{"token": {"t"}}))
	require.Equal(t, "", TokenFromQuery(nil))
}

func TestNewErrorsNameTheKey(t *testing.T) {
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Paths = map[string]config.PathConfig{"live/*": {JWT: config.JWTConfig{JWKSFile: "/nonexistent/jwks.json"}}}
	_, err = New(Options{Config: cfg, Logger: quiet})
	require.ErrorContains(t, err, `paths."live/*".jwt.jwks_file`)

	bad := t.TempDir() + "/jwks.json"
	writeFile(t, bad, `{"keys": "nope"}`)
	cfg.Paths = map[string]config.PathConfig{"live/*": {JWT: config.JWTConfig{JWKSFile: bad}}}
	_, err = New(Options{Config: cfg, Logger: quiet})
	require.ErrorContains(t, err, `paths."live/*".jwt.jwks_file`)
}

// hookServer answers every request with h, after recording its body.
func hookServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
