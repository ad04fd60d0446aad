// Package auth is Sluice's one access decision point: every protocol asks
// Authorize before a client publishes or plays a stream, and tells Ended
// when it leaves. Per path pattern (config "paths") it combines static
// keys, JSON Web Tokens and HTTP hooks:
//
//  1. Credentials. When the path has keys for the action (publish_keys,
//     play_keys) or a JWT configuration covering it, the client's token
//     must equal one of the keys or be a valid JWT whose claims allow the
//     path and the action. Otherwise no credentials are needed.
//  2. Hooks. When on_publish / on_play is set (globally or for the path),
//     the hook must answer 2xx as well.
//
// Denials are errors wrapping ErrUnauthorized (no or invalid credentials:
// HTTP 401) or ErrForbidden (valid credentials, or a hook, that do not
// allow this: HTTP 403), with the reason.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluicemedia/sluice/internal/config"
)

// Action is what a client asks to do with a stream.
type Action string

// Actions.
const (
	// Publish sends a stream to the server.
	Publish Action = "publish"
	// Play receives a stream from the server.
	Play Action = "play"
)

// Request describes one publish or play attempt.
type Request struct {
	// Action is Publish or Play.
	Action Action
	// Path is the validated stream path APP/NAME.
	Path string
	// Protocol names the client's protocol: rtmp, rtmps, http-flv, ws-flv,
	// hls, dash, whep, whip, thumbnail.
	Protocol string
	// Remote is the client's address, host:port.
	Remote string
	// Token is the credential the client presented (see TokenFromQuery
	// and TokenFromHTTP); "" when none.
	Token string
	// Query is the request's query parameters, passed on to hooks. May be
	// nil.
	Query url.Values
}

// Typed denials; Authorize's errors wrap one of them.
var (
	// ErrUnauthorized: no credentials, or invalid ones (a wrong key, a bad
	// signature, an expired token). HTTP 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the credentials are valid but do not allow this action
	// on this path, or a hook denied it. HTTP 403.
	ErrForbidden = errors.New("forbidden")
)

// deny returns an error wrapping kind with a reason.
func deny(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// HTTPStatus maps an Authorize error to its HTTP status: 401 for
// ErrUnauthorized, 403 for ErrForbidden, 500 otherwise.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// Options configure an Authorizer.
type Options struct {
	// Config holds the paths (keys, jwt, per-path hooks) and the global
	// hooks. Required; it must have passed Validate and must not change
	// afterwards.
	Config *config.Config
	// Logger receives hook failures and JWKS refresh errors. Default
	// slog.Default().
	Logger *slog.Logger
	// HTTPClient makes hook calls and fetches JWKS URLs. Default: a client
	// of its own (timeouts come from the hooks configuration).
	HTTPClient *http.Client
	// Now is the clock for token expiry and the hook cache. Default
	// time.Now.
	Now func() time.Time
	// SourceOf returns the stream a derived path is made from (an ABR
	// rendition's source: live/cam1 for live/cam1_480p) and true, or
	// false for a path of its own. A derived path is authorized as its
	// source: the source's keys, tokens (path claims) and hooks govern it,
	// and hooks are told the source's path, so that a rendition is never
	// more open than what it shows. Default nil: no derived paths.
	SourceOf func(path string) (string, bool)
	// OnForward, if set, is given the forward targets an allowing
	// on_publish hook answer names (HookAnswer), before the publish
	// starts. Default nil: such answers add nothing.
	OnForward func(path string, targets []string)
	// ClusterSecret is cluster.secret: a play request whose query carries
	// it as cluster_token is an internal pull from another node, allowed
	// without keys or hooks (cluster.go). Default "": internal pulls off.
	ClusterSecret string
}

// Authorizer is the access decision point. Build it with New; it is safe
// for concurrent use. Close ends its background work.
type Authorizer struct {
	cfg      *config.Config
	log      *slog.Logger
	client   *http.Client
	now      func() time.Time
	sourceOf func(path string) (string, bool)
	// onForward is Options.OnForward.
	onForward func(path string, targets []string)
	// clusterSecret is Options.ClusterSecret.
	clusterSecret string

	ctx    context.Context // ends JWKS refreshes and notifications
	cancel context.CancelFunc

	// rules per pattern of cfg.Paths, and for paths matching none.
	rules   map[string]*rule
	noMatch *rule

	cache    *allowCache
	notifier *notifier
}

// rule is the compiled access policy of one path pattern.
type rule struct {
	publishKeys keySet
	playKeys    keySet
	jwt         *jwtVerifier // nil: no JWTs
	hooks       config.HooksConfig
}

// New compiles the policy of cfg: key digests, JWT verifiers (reading JWKS
// files and starting JWKS URL refreshes) and hook settings. An error names
// the config key at fault.
func New(opts Options) (*Authorizer, error) {
	if opts.Config == nil {
		return nil, errors.New("auth: no config")
	}
	a := &Authorizer{
		cfg:    opts.Config,
		log:    opts.Logger,
		client: opts.HTTPClient,
		now:    opts.Now,
		rules:  make(map[string]*rule, len(opts.Config.Paths)),

		sourceOf:      opts.SourceOf,
		onForward:     opts.OnForward,
		clusterSecret: opts.ClusterSecret,
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		a.client = &http.Client{Transport: tr}
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	notify := opts.Config.Hooks.OnUnpublish != "" || opts.Config.Hooks.OnStop != "" || opts.Config.Hooks.OnRecordSegment != ""
	for pattern, pc := range opts.Config.Paths {
		r, err := a.compile(pattern, pc)
		if err != nil {
			a.cancel()
			return nil, err
		}
		a.rules[pattern] = r
		notify = notify || r.hooks.OnUnpublish != "" || r.hooks.OnStop != "" || r.hooks.OnRecordSegment != ""
	}
	a.noMatch = &rule{hooks: opts.Config.Hooks}
	a.cache = newAllowCache(maxCacheEntries)
	if notify {
		a.notifier = newNotifier(a, notifyWorkers, notifyQueue)
	}
	return a, nil
}

func (a *Authorizer) compile(pattern string, pc config.PathConfig) (*rule, error) {
	r := &rule{
		publishKeys: newKeySet(pc.PublishKeys),
		playKeys:    newKeySet(pc.PlayKeys),
		hooks:       pc.Hooks.Apply(a.cfg.Hooks),
	}
	if pc.JWT.Enabled() {
		v, err := newJWTVerifier(a.ctx, fmt.Sprintf("paths.%q.jwt", pattern), pc.JWT, a.client, a.log, a.now)
		if err != nil {
			return nil, err
		}
		r.jwt = v
	}
	return r, nil
}

// ruleFor returns the policy of the pattern that governs path.
func (a *Authorizer) ruleFor(path string) *rule {
	if pattern, ok := a.cfg.PathPattern(path); ok {
		if r := a.rules[pattern]; r != nil {
			return r
		}
	}
	return a.noMatch
}

// Authorize decides whether req may proceed: nil allows; a denial wraps
// ErrUnauthorized or ErrForbidden with the reason (fit for the client and
// the log; it never contains the token). It may call a hook, so it can
// take up to the hook timeout; ctx ends it early (a denial).
func (a *Authorizer) Authorize(ctx context.Context, req Request) error {
	if handled, err := a.internalPull(req); handled {
		return err
	}
	req = a.asSource(req)
	if req.Action != Publish && req.Action != Play {
		return deny(ErrForbidden, "unknown action %q", req.Action)
	}
	r := a.ruleFor(req.Path)
	keys := r.publishKeys
	if req.Action == Play {
		keys = r.playKeys
	}
	jwtOK := r.jwt != nil && r.jwt.covers(req.Action)
	if !keys.empty() || jwtOK {
		if err := checkCredentials(req, keys, r.jwt, jwtOK); err != nil {
			return err
		}
	}
	hookURL := r.hooks.OnPublish
	if req.Action == Play {
		hookURL = r.hooks.OnPlay
	}
	if hookURL != "" {
		return a.askHook(ctx, hookURL, r.hooks, req)
	}
	return nil
}

// asSource returns req with a derived path replaced by its source's (see
// Options.SourceOf).
func (a *Authorizer) asSource(req Request) Request {
	if a.sourceOf != nil {
		if src, ok := a.sourceOf(req.Path); ok {
			req.Path = src
		}
	}
	return req
}

// checkCredentials accepts req's token if it is one of keys or a valid JWT
// for the request.
func checkCredentials(req Request, keys keySet, v *jwtVerifier, jwtOK bool) error {
	if req.Token == "" {
		how := "a key"
		if jwtOK {
			how = "a key or token"
		}
		return deny(ErrUnauthorized, "%s %s needs %s (RTMP: ?key=...; HTTP: ?token=... or Authorization: Bearer ...)",
			req.Action, req.Path, how)
	}
	if keys.contains(req.Token) {
		return nil
	}
	if jwtOK && looksLikeJWT(req.Token) {
		return v.verify(req)
	}
	return deny(ErrUnauthorized, "invalid key for %s %s", req.Action, req.Path)
}

// Ended tells the on_unpublish (after Publish) or on_stop (after Play)
// hook that the client of req, once allowed, has left. It never blocks:
// the notification is queued (bounded; dropped with a log line when full)
// and sent in the background.
func (a *Authorizer) Ended(req Request) {
	if a.notifier == nil {
		return
	}
	req = a.asSource(req)
	r := a.ruleFor(req.Path)
	hookURL, action := r.hooks.OnUnpublish, "unpublish"
	if req.Action == Play {
		hookURL, action = r.hooks.OnStop, "stop"
	}
	if hookURL == "" {
		return
	}
	a.notifier.enqueue(notification{url: hookURL, timeout: r.hooks.Timeout.Duration, body: hookBody(action, req)})
}

// Close stops JWKS refreshes and sends the queued notifications, waiting
// at most notifyDrain for them.
func (a *Authorizer) Close() error {
	if a.notifier != nil {
		a.notifier.close(notifyDrain)
	}
	a.cancel()
	return nil
}

// TokenFromQuery returns the credential of a query: "key", else "token".
// RTMP clients put it in the stream key (rtmp://H/live/cam1?key=K).
func TokenFromQuery(q url.Values) string {
	if k := q.Get("key"); k != "" {
		return k
	}
	return q.Get("token")
}

// TokenFromHTTP returns the credential of an HTTP request: an
// "Authorization: Bearer T" header, else the ?token= or ?key= query
// parameter. HLS, DASH, FLV, WHIP and WHEP servers use it.
func TokenFromHTTP(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			if tok = strings.TrimSpace(tok); tok != "" {
				return tok
			}
		}
	}
	q := r.URL.Query()
	if t := q.Get("token"); t != "" {
		return t
	}
	return q.Get("key")
}

// Limits of background work.
const (
	maxCacheEntries = 4096
	notifyWorkers   = 4
	notifyQueue     = 1024
	notifyDrain     = time.Second
	maxHookAnswer   = 64 << 10 // bytes of a hook's answer read (and ignored)
)
