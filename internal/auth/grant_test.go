package auth

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
)

// A derived path (Options.SourceOf) is decided by its source's rule, and
// its grant keeps the path asked for.
func TestDerivedPathIsAuthorizedAsItsSource(t *testing.T) {
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Paths = map[string]config.PathConfig{"live/cam1": {PlayKeys: []string{"k"}}}
	a, err := New(Options{Config: cfg, Logger: quiet, SourceOf: func(p string) (string, bool) {
		return "live/cam1", p == "live/cam1_low"
	}})
	require.NoError(t, err)
	defer a.Close()
	requireDenied(t, a.Authorize(context.Background(), play("live/cam1_low", "")), ErrUnauthorized, "play live/cam1 needs a key")
	g, err := a.Allow(context.Background(), play("live/cam1_low", "k"))
	require.NoError(t, err)
	require.Equal(t, "live/cam1_low", g.Path)
	require.NoError(t, a.Authorize(context.Background(), play("live/other_low", "")), "not derived: no rule")
}

// A nil Authorizer grants everything; its grants end silently.
func TestNilAuthorizerGrants(t *testing.T) {
	var a *Authorizer
	g, err := a.Allow(context.Background(), play("live/x", ""))
	require.NoError(t, err)
	require.Equal(t, "live/x", g.Path)
	g.Ended()
}

// PassOnQuery keeps the credential and hook parameters, drops HLS
// delivery directives, and re-encodes.
func TestPassOnQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "",
		"?_HLS_msn=3&_HLS_part=1":       "",
		"?key=k&_HLS_msn=3":             "?key=k",
		"?token=a%22b&x=1":              "?token=a%22b&x=1",
		"?key=a\"b\nc":                  "?key=a%22b%0Ac",
		"?b=2&a=1&_HLS_skip=YES&key=k2": "?a=1&b=2&key=k2",
	} {
		r := httptest.NewRequest("GET", "/live/a.m3u8", nil)
		r.URL.RawQuery = in[min(1, len(in)):]
		require.Equal(t, want, PassOnQuery(r), in)
	}
}
