package auth

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
)

func TestInternalPullToken(t *testing.T) {
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Paths = map[string]config.PathConfig{"live/*": {PlayKeys: []string{"viewerkey"}}}
	require.NoError(t, cfg.Validate())
	const secret = "0123456789abcdef-cluster"
	a, err := New(Options{Config: cfg, Logger: quiet, ClusterSecret: secret})
	require.NoError(t, err)
	defer a.Close()
	play := func(q url.Values) Request {
		return Request{Action: Play, Path: "live/cam1", Protocol: "rtmp", Remote: "10.0.0.2:4000", Query: q, Token: TokenFromQuery(q)}
	}
	ctx := context.Background()

	require.NoError(t, a.Authorize(ctx, play(url.Values{ClusterTokenParam: {secret}})),
		"the cluster secret allows a play that play_keys would refuse")
	err = a.Authorize(ctx, play(url.Values{ClusterTokenParam: {"wrong-secret-0123456"}}))
	require.True(t, errors.Is(err, ErrUnauthorized), "a wrong cluster secret: want ErrUnauthorized, got %v", err)
	require.Contains(t, err.Error(), "wrong cluster secret")
	err = a.Authorize(ctx, play(url.Values{ClusterTokenParam: {secret}, "key": {"viewerkey"}}))
	require.NoError(t, err)
	pubReq := play(url.Values{ClusterTokenParam: {secret}})
	pubReq.Action = Publish
	require.ErrorIs(t, a.Authorize(ctx, pubReq), ErrForbidden, "the cluster token never allows a publish")
	// Without the token the path's own policy applies.
	require.ErrorIs(t, a.Authorize(ctx, play(nil)), ErrUnauthorized)

	off, err := New(Options{Config: cfg, Logger: quiet})
	require.NoError(t, err)
	defer off.Close()
	err = off.Authorize(ctx, play(url.Values{ClusterTokenParam: {secret}}))
	require.ErrorIs(t, err, ErrUnauthorized, "internal pulls off: any token is refused")
}
