package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/testutil"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
}

// sign makes a compact JWT.
func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// claims allows action (a string or list) on the glob path for an hour.
func claims(path any, action any) jwt.MapClaims {
	return jwt.MapClaims{"path": path, "action": action, "exp": time.Now().Add(time.Hour).Unix(), "sub": "test"}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWKS is a JWK Set (RFC 7517 §5) holding k's public key under kid.
func rsaJWKS(k *rsa.PrivateKey, kid string) string {
	set := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}}}
	b, _ := json.Marshal(set)
	return string(b)
}

func TestJWTHS256(t *testing.T) {
	testutil.CheckGoroutines(t)
	a := newAuth(t, map[string]config.PathConfig{
		"live/*": {PublishKeys: []string{"static-key"}, JWT: config.JWTConfig{Secret: testSecret}},
	})
	ctx := context.Background()
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c) }

	require.NoError(t, a.Authorize(ctx, pub("live/cam1", hs(claims("live/*", "publish")))))
	require.NoError(t, a.Authorize(ctx, play("live/cam1", hs(claims("live/cam1", []any{"play", "publish"})))))
	require.NoError(t, a.Authorize(ctx, play("live/cam1", hs(claims([]any{"other/x", "live/cam?"}, "play")))))
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", hs(claims("*", "publish")))))
	// A static key still works next to JWTs; play now needs credentials too.
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "static-key")))
	requireDenied(t, a.Authorize(ctx, play("live/cam1", "")), ErrUnauthorized, "needs a key or token")

	expired := claims("live/*", "publish")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs(expired))), ErrUnauthorized, "token is expired")
	early := claims("live/*", "publish")
	early["nbf"] = time.Now().Add(time.Hour).Unix()
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs(early))), ErrUnauthorized, "not valid yet")
	// Within the leeway a just-expired token still passes (clock skew).
	skew := claims("live/*", "publish")
	skew["exp"] = time.Now().Add(-5 * time.Second).Unix()
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", hs(skew))))

	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs(claims("live/other", "publish")))),
		ErrForbidden, "token does not allow path live/cam1")
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs(claims("live/*", "play")))),
		ErrForbidden, "token does not allow publish on live/cam1")
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs(jwt.MapClaims{"action": "publish"}))),
		ErrForbidden, `no "path" claim`)
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs(jwt.MapClaims{"path": "live/*"}))),
		ErrForbidden, `no "action" claim`)

	wrong := sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), "", claims("live/*", "publish"))
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", wrong)), ErrUnauthorized, "signature is invalid")
	hs512 := sign(t, jwt.SigningMethodHS512, []byte(testSecret), "", claims("live/*", "publish"))
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs512)), ErrUnauthorized, "invalid token")
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims("live/*", "publish"))
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", none)), ErrUnauthorized, "invalid token")
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", "a.b.c")), ErrUnauthorized, "malformed")
}

func TestJWTClaimNamesActionsIssuer(t *testing.T) {
	a := newAuth(t, map[string]config.PathConfig{
		"live/*": {JWT: config.JWTConfig{
			Secret: testSecret, Actions: []string{"publish"},
			Claims: config.JWTClaimsConfig{Path: "streams", Action: "can"}, Issuer: "me", Audience: "sluice",
		}},
	})
	ctx := context.Background()
	good := jwt.MapClaims{"streams": "live/*", "can": "publish", "iss": "me", "aud": []any{"x", "sluice"}}
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good)
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", tok)))
	// Play is not covered by JWTs here, and there are no play keys: open.
	require.NoError(t, a.Authorize(ctx, play("live/cam1", "")))
	good["iss"] = "someone-else"
	tok = sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", good)
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", tok)), ErrUnauthorized, "wrong issuer")
}

func TestJWTRS256FromJWKSFile(t *testing.T) {
	testutil.CheckGoroutines(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	writeFile(t, jwks, rsaJWKS(key, "k1"))
	a := newAuth(t, map[string]config.PathConfig{"live/*": {JWT: config.JWTConfig{JWKSFile: jwks}}})
	ctx := context.Background()

	require.NoError(t, a.Authorize(ctx, pub("live/cam1", sign(t, jwt.SigningMethodRS256, key, "k1", claims("live/*", "publish")))))
	// Without a kid every key of the set is tried.
	require.NoError(t, a.Authorize(ctx, play("live/cam1", sign(t, jwt.SigningMethodRS256, key, "", claims("live/*", "play")))))
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", sign(t, jwt.SigningMethodRS256, other, "k1", claims("live/*", "publish")))),
		ErrUnauthorized, "invalid token")
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", sign(t, jwt.SigningMethodRS256, key, "unknown", claims("live/*", "publish")))),
		ErrUnauthorized, "invalid token")
	// other/... is not under live/*: open.
	require.NoError(t, a.Authorize(ctx, pub("other/cam1", "")))
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", sign(t, jwt.SigningMethodRS256, key, "k1", claims("live/x", "publish")))),
		ErrForbidden, "does not allow path")
	// HS256 is not allowed with a JWK Set only (no algorithm confusion).
	hs := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims("live/*", "publish"))
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", hs)), ErrUnauthorized, "invalid token")
}

func TestJWTES256FromJWKSURL(t *testing.T) {
	testutil.CheckGoroutines(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pk, err := key.PublicKey.ECDH()
	require.NoError(t, err)
	raw := pk.Bytes() // 0x04 || X || Y
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "e1", "alg": "ES256", "use": "sig",
		"x": b64(raw[1:33]), "y": b64(raw[33:]),
	}}})
	srv := hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	})
	a := newAuth(t, map[string]config.PathConfig{"live/*": {JWT: config.JWTConfig{JWKSURL: srv.URL + "/jwks.json"}}})
	ctx := context.Background()
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", sign(t, jwt.SigningMethodES256, key, "e1", claims("live/*", "publish")))))
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", sign(t, jwt.SigningMethodES256, other, "e1", claims("live/*", "publish")))),
		ErrUnauthorized, "invalid token")
}
