package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sluicemedia/sluice/internal/config"
)

// jwtLeeway tolerates clock skew between the token issuer and Sluice when
// checking exp and nbf (RFC 7519 §4.1.4: "some small leeway").
const jwtLeeway = 30 * time.Second

// jwksRefresh is how often a JWKS URL is fetched again (an unknown "kid"
// also triggers a fetch, at most every 5 minutes).
const jwksRefresh = time.Hour

// jwtVerifier checks the tokens of one path pattern.
type jwtVerifier struct {
	parser      *jwt.Parser
	secret      []byte      // nil: no HMAC tokens
	keys        jwt.Keyfunc // nil: no JWK Set
	publish     bool        // tokens may grant publish
	play        bool        // tokens may grant play
	pathClaim   string
	actionClaim string
}

// CheckJWKSFiles reads and parses every paths.*.jwt.jwks_file of cfg, as
// New does, but fetches no jwks_url: for sluice -check-config, which must
// not depend on the network. It reports every bad file in one error.
func CheckJWKSFiles(cfg *config.Config) error {
	patterns := make([]string, 0, len(cfg.Paths))
	for p := range cfg.Paths {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	var errs []error
	for _, p := range patterns {
		c := cfg.Paths[p].JWT
		if c.JWKSFile == "" {
			continue
		}
		key := fmt.Sprintf("paths.%q.jwt", p)
		b, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("auth: %s.jwks_file: %w", key, err))
			continue
		}
		if _, err := keyfunc.NewJWKSetJSON(b); err != nil {
			errs = append(errs, fmt.Errorf("auth: %s.jwks_file %s: not a usable JWK Set: %w", key, c.JWKSFile, err))
		}
	}
	return errors.Join(errs...)
}

// newJWTVerifier builds a verifier from c; key names the config block in
// errors (paths."live/*".jwt).
func newJWTVerifier(ctx context.Context, key string, c config.JWTConfig, client *http.Client, log *slog.Logger,
	now func() time.Time) (*jwtVerifier, error) {
	v := &jwtVerifier{pathClaim: c.Claims.Path, actionClaim: c.Claims.Action}
	if v.pathClaim == "" {
		v.pathClaim = "path"
	}
	if v.actionClaim == "" {
		v.actionClaim = "action"
	}
	actions := c.Actions
	if len(actions) == 0 {
		actions = []string{config.JWTActionPublish, config.JWTActionPlay}
	}
	for _, a := range actions {
		v.publish = v.publish || a == config.JWTActionPublish
		v.play = v.play || a == config.JWTActionPlay
	}
	algs := c.Algorithms
	if c.Secret != "" {
		v.secret = []byte(c.Secret)
		if len(c.Algorithms) == 0 {
			algs = append(algs, "HS256")
		}
	}
	var sets []json.RawMessage
	if c.JWKSFile != "" {
		b, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth: %s.jwks_file: %w", key, err)
		}
		sets = append(sets, b)
	}
	if c.JWKSFile != "" || c.JWKSURL != "" {
		if len(c.Algorithms) == 0 {
			algs = append(algs, "RS256", "ES256")
		}
		kf, err := newKeyfunc(ctx, key, c, sets, client, log)
		if err != nil {
			return nil, err
		}
		v.keys = kf
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(jwtLeeway), jwt.WithTimeFunc(now)}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// newKeyfunc returns a key lookup over the JWK Set of the file (already
// read, in sets) and of the URL (refreshed in the background until ctx
// ends).
func newKeyfunc(ctx context.Context, key string, c config.JWTConfig, sets []json.RawMessage, client *http.Client,
	log *slog.Logger) (jwt.Keyfunc, error) {
	if c.JWKSURL == "" {
		kf, err := keyfunc.NewJWKSetJSON(sets[0])
		if err != nil {
			return nil, fmt.Errorf("auth: %s.jwks_file %s: not a usable JWK Set: %w", key, c.JWKSFile, err)
		}
		return kf.Keyfunc, nil
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{c.JWKSURL}, keyfunc.Override{
		Client:          client,
		HTTPTimeout:     10 * time.Second,
		RefreshInterval: jwksRefresh,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				log.Warn("auth: JWKS refresh failed", "key", key+".jwks_url", "url", u, "reason", err.Error())
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %s.jwks_url: %w", key, err)
	}
	if len(sets) == 0 {
		return kf.Keyfunc, nil
	}
	file, err := keyfunc.NewJWKSetJSON(sets[0])
	if err != nil {
		return nil, fmt.Errorf("auth: %s.jwks_file %s: not a usable JWK Set: %w", key, c.JWKSFile, err)
	}
	// The file's keys first, then the URL's.
	return func(t *jwt.Token) (any, error) {
		if k, err := file.Keyfunc(t); err == nil {
			return k, nil
		}
		return kf.Keyfunc(t)
	}, nil
}

// covers reports whether tokens may grant action on this pattern.
func (v *jwtVerifier) covers(action Action) bool {
	if action == Publish {
		return v.publish
	}
	return v.play
}

// looksLikeJWT reports whether tok has the three dot-separated parts of a
// JWS compact serialization (RFC 7515 §7.1).
func looksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2
}

// keyFor returns the verification key of t: the secret for HMAC, else a
// key from the JWK Set. The parser has already checked t's alg against the
// allowed ones, and golang-jwt checks the key's type against the alg, so
// an HMAC token can never be verified with a public key.
func (v *jwtVerifier) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
		if v.secret == nil {
			return nil, errors.New("no HMAC secret configured")
		}
		return v.secret, nil
	}
	if v.keys == nil {
		return nil, errors.New("no JWK Set configured")
	}
	return v.keys(t)
}

// verify checks req.Token: signature, exp/nbf (and iss/aud when
// configured) → ErrUnauthorized; path and action claims → ErrForbidden.
func (v *jwtVerifier) verify(req Request) error {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(req.Token, claims, v.keyFor); err != nil {
		return deny(ErrUnauthorized, "invalid token for %s %s: %s", req.Action, req.Path, tokenProblem(err))
	}
	patterns, ok := stringList(claims[v.pathClaim])
	if !ok {
		return deny(ErrForbidden, "token has no %q claim (a path glob) for %s", v.pathClaim, req.Path)
	}
	if !anyMatch(patterns, req.Path) {
		return deny(ErrForbidden, "token does not allow path %s", req.Path)
	}
	actions, ok := stringList(claims[v.actionClaim])
	if !ok {
		return deny(ErrForbidden, "token has no %q claim (publish or play)", v.actionClaim)
	}
	for _, a := range actions {
		if a == string(req.Action) {
			return nil
		}
	}
	return deny(ErrForbidden, "token does not allow %s on %s", req.Action, req.Path)
}

// tokenProblem is a short reason for a parse or validation error.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token is expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature is invalid"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token is malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token cannot be verified (unknown key or algorithm)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	}
	return err.Error()
}

// stringList reads a claim holding a string or an array of strings.
func stringList(c any) ([]string, bool) {
	switch x := c.(type) {
	case string:
		return []string{x}, x != ""
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}

// anyMatch reports whether p matches one of the glob patterns (path.Match
// syntax; "*" alone matches every path, as in config "paths").
func anyMatch(patterns []string, p string) bool {
	for _, pat := range patterns {
		if pat == "*" {
			return true
		}
		if ok, err := path.Match(pat, p); err == nil && ok {
			return true
		}
	}
	return false
}
