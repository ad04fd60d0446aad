package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHooksDefaults(t *testing.T) {
	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, HooksConfig{Timeout: D(2 * time.Second), Cache: D(5 * time.Second)}, c.Hooks)
}

func TestHooksFromEnv(t *testing.T) {
	c, err := Load("", []string{
		"SLUICE_HOOKS_ON_PUBLISH=http://127.0.0.1:9/pub",
		"SLUICE_HOOKS_ON_STOP=https://hooks.example/stop",
		"SLUICE_HOOKS_TIMEOUT=500ms",
		"SLUICE_HOOKS_FAIL_OPEN=true",
		"SLUICE_HOOKS_CACHE=0s",
	})
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, HooksConfig{
		OnPublish: "http://127.0.0.1:9/pub", OnStop: "https://hooks.example/stop",
		Timeout: D(500 * time.Millisecond), FailOpen: true,
	}, c.Hooks)
}

func TestAuthFileAndPathHooks(t *testing.T) {
	c, err := Load(writeFile(t, `
hooks: { on_publish: "http://h/pub", on_play: "http://h/play", fail_open: true }
paths:
  "live/*":
    publish_keys: [k]
    jwt:
      secret: "0123456789abcdef0123456789abcdef"
      jwks_file: /etc/sluice/jwks.json
      algorithms: [HS256, RS256]
      actions: [publish]
      claims: { path: p, action: act }
      issuer: me
    hooks: { on_publish: "http://other/pub", timeout: 1s, fail_open: false }
`), nil)
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	pc := c.PathSettings("live/cam1")
	require.True(t, pc.JWT.Enabled())
	require.Equal(t, JWTClaimsConfig{Path: "p", Action: "act"}, pc.JWT.Claims)
	h := pc.Hooks.Apply(c.Hooks)
	require.Equal(t, HooksConfig{
		OnPublish: "http://other/pub", OnPlay: "http://h/play",
		Timeout: D(time.Second), FailOpen: false, Cache: D(5 * time.Second),
	}, h)
	require.Equal(t, c.Hooks, (*PathHooksConfig)(nil).Apply(c.Hooks))
	pattern, ok := c.PathPattern("live/cam1")
	require.True(t, ok)
	require.Equal(t, "live/*", pattern)

	// -print-config output loads back to the same config.
	b, err := c.YAML()
	require.NoError(t, err)
	c2, err := Load(writeFile(t, string(b)), nil)
	require.NoError(t, err)
	require.Equal(t, c, c2)
}

func TestAuthValidateErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`hooks: { on_publish: "ftp://x/y" }`, `hooks.on_publish: want an absolute http:// or https:// URL, got "ftp://x/y"`},
		{`hooks: { on_stop: "/relative" }`, `hooks.on_stop: want an absolute http:// or https:// URL`},
		{`hooks: { timeout: 0s }`, `hooks.timeout: must be a positive duration`},
		{`hooks: { cache: -1s }`, `hooks.cache: must be 0s (off) or a positive duration`},
		{`paths: { "live/*": { hooks: { on_play: "nope" } } }`, `paths."live/*".hooks.on_play: want an absolute http:// or https:// URL`},
		{`paths: { "live/*": { jwt: { secret: short } } }`, `paths."live/*".jwt.secret: must be at least 32 bytes`},
		{`paths: { "live/*": { jwt: { jwks_url: "not a url" } } }`, `paths."live/*".jwt.jwks_url: want an absolute http:// or https:// URL`},
		{`paths: { "live/*": { jwt: { jwks_file: f, algorithms: [HS999] } } }`, `paths."live/*".jwt.algorithms[0]: unknown algorithm "HS999"`},
		{`paths: { "live/*": { jwt: { jwks_file: f, algorithms: [HS256] } } }`, `paths."live/*".jwt.algorithms[0]: HS256 needs jwt.secret`},
		{`paths: { "live/*": { jwt: { secret: "0123456789abcdef0123456789abcdef", algorithms: [RS256] } } }`, `paths."live/*".jwt.algorithms[0]: RS256 needs jwt.jwks_file or jwt.jwks_url`},
		{`paths: { "live/*": { jwt: { jwks_file: f, actions: [read] } } }`, `paths."live/*".jwt.actions[0]: must be publish or play`},
		{`paths: { "live/*": { jwt: { algorithms: [HS256] } } }`, `paths."live/*".jwt: set secret, jwks_file or jwks_url`},
	} {
		c, err := Load(writeFile(t, tc.body), nil)
		require.NoError(t, err, tc.body)
		err = c.Validate()
		require.Error(t, err, tc.body)
		require.Contains(t, err.Error(), tc.want, tc.body)
	}
}
