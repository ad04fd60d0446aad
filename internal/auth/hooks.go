package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/config"
)

// HookBody is the JSON document POSTed to every hook.
type HookBody struct {
	// Action is publish, play, unpublish or stop.
	Action string `json:"action"`
	// Path is the stream path APP/NAME.
	Path string `json:"path"`
	// App is the first path segment.
	App string `json:"app"`
	// Name is the second path segment.
	Name string `json:"name"`
	// Protocol is the client's protocol (rtmp, http-flv, ...).
	Protocol string `json:"protocol"`
	// Remote is the client's address, host:port.
	Remote string `json:"remote"`
	// Token is the credential the client presented, "" if none.
	Token string `json:"token"`
	// Query holds the request's query parameters (first value of each).
	Query map[string]string `json:"query"`
	// File, Start (RFC 3339) and Duration (seconds) describe a closed
	// recording file (action record_segment only).
	File     string  `json:"file,omitempty"`
	Start    string  `json:"start,omitempty"`
	Duration float64 `json:"duration,omitempty"`
}

func hookBody(action string, req Request) HookBody {
	app, name, _ := strings.Cut(req.Path, "/")
	q := make(map[string]string, len(req.Query))
	for k, v := range req.Query {
		if len(v) > 0 {
			q[k] = v[0]
		}
	}
	return HookBody{Action: action, Path: req.Path, App: app, Name: name, Protocol: req.Protocol,
		Remote: req.Remote, Token: req.Token, Query: q}
}

// askHook calls the on_publish / on_play hook at url for req, through the
// cache of allowing answers.
func (a *Authorizer) askHook(ctx context.Context, url string, h config.HooksConfig, req Request) error {
	name := "on_" + string(req.Action)
	key := cacheKey{url: url, action: req.Action, path: req.Path, token: req.Token, ip: remoteIP(req.Remote)}
	now := a.now()
	if h.Cache.Duration > 0 {
		if fwd, ok := a.cache.allowed(key, now); ok {
			a.forward(req, fwd)
			return nil
		}
	}
	status, answer, err := a.post(ctx, url, h.Timeout.Duration, hookBody(string(req.Action), req))
	switch {
	case err != nil && h.FailOpen:
		a.log.Warn("auth hook failed, allowing (hooks.fail_open)", "hook", name, "path", req.Path,
			"remote", req.Remote, "reason", err.Error())
		return nil
	case err != nil:
		return deny(ErrForbidden, "%s hook failed: %v", name, err)
	case status == http.StatusUnauthorized:
		return deny(ErrUnauthorized, "%s hook answered %d %s", name, status, http.StatusText(status))
	case status < 200 || status > 299:
		return deny(ErrForbidden, "%s hook answered %d %s", name, status, http.StatusText(status))
	}
	fwd := forwardTargets(req, answer)
	if h.Cache.Duration > 0 {
		a.cache.put(key, cacheEntry{exp: now.Add(h.Cache.Duration), forward: fwd}, now)
	}
	a.forward(req, fwd)
	return nil
}

// maxHookForwards bounds the forward targets one on_publish answer adds.
const maxHookForwards = 16

// HookAnswer is the JSON an on_publish hook may answer with (any other
// body, or none, is fine too): Forward lists URLs the stream is pushed to
// besides its paths.*.forward, with the same templates ({app}, {name},
// {path}) — SRS's dynamic forward. At most 16 are taken.
type HookAnswer struct {
	Forward []string `json:"forward"`
}

// forwardTargets reads the forward targets of an allowing on_publish
// answer.
func forwardTargets(req Request, answer []byte) []string {
	if req.Action != Publish || len(answer) == 0 {
		return nil
	}
	var ans HookAnswer
	if json.Unmarshal(answer, &ans) != nil {
		return nil
	}
	if len(ans.Forward) > maxHookForwards {
		ans.Forward = ans.Forward[:maxHookForwards]
	}
	return ans.Forward
}

// forward passes an answer's forward targets on (Options.OnForward).
func (a *Authorizer) forward(req Request, targets []string) {
	if len(targets) > 0 && a.onForward != nil {
		a.onForward(req.Path, targets)
	}
}

// post sends body to url as JSON and returns the answer's status and body
// (up to maxHookAnswer bytes; the rest is discarded, so the connection is
// reused).
func (a *Authorizer) post(ctx context.Context, url string, timeout time.Duration, body HookBody) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, fmt.Errorf("encode body: %w", err)
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", "sluice")
	resp, err := a.client.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("no answer within %s", timeout)
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxHookAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHookAnswer))
	return resp.StatusCode, answer, nil
}

// remoteIP is the host part of a host:port address (the whole string if
// it has no port).
func remoteIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// cacheKey identifies an allowing hook answer.
type cacheKey struct {
	url    string
	action Action
	path   string
	token  string
	ip     string
}

// allowCache remembers allowing hook answers until they expire. It holds
// at most max entries: when full, expired entries are swept, and if none
// expired the cache is emptied (only an optimisation is lost).
type allowCache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]cacheEntry
}

// cacheEntry is an allowing answer: its expiry and the forward targets it
// added.
type cacheEntry struct {
	exp     time.Time
	forward []string
}

func newAllowCache(max int) *allowCache {
	return &allowCache{max: max, entries: make(map[cacheKey]cacheEntry)}
}

func (c *allowCache) allowed(k cacheKey, now time.Time) (forward []string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.exp) {
		delete(c.entries, k)
		return nil, false
	}
	return e.forward, ok
}

func (c *allowCache) put(k cacheKey, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for ek, old := range c.entries {
			if !now.Before(old.exp) {
				delete(c.entries, ek)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[k] = e
}

// notification is one on_unpublish / on_stop call.
type notification struct {
	url     string
	timeout time.Duration
	body    HookBody
}

// notifier sends notifications from a bounded queue with a fixed number of
// workers, so neither a slow hook nor a burst of leaving clients can block
// media or grow memory.
type notifier struct {
	a     *Authorizer
	queue chan notification

	mu     sync.Mutex // guards closed and sends on queue
	closed bool

	ctx    context.Context // ends in-flight calls once the drain time is up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dropped int // guarded by mu
}

func newNotifier(a *Authorizer, workers, queue int) *notifier {
	n := &notifier{a: a, queue: make(chan notification, queue)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for range workers {
		n.wg.Add(1)
		go n.work()
	}
	return n
}

func (n *notifier) work() {
	defer n.wg.Done()
	for m := range n.queue {
		if n.ctx.Err() != nil {
			continue // shutting down and out of time: drain silently
		}
		status, _, err := n.a.post(n.ctx, m.url, m.timeout, m.body)
		if err == nil && (status < 200 || status > 299) {
			err = fmt.Errorf("answered %d %s", status, http.StatusText(status))
		}
		if err != nil {
			n.a.log.Warn("auth notification failed", "hook", "on_"+m.body.Action, "path", m.body.Path,
				"remote", m.body.Remote, "reason", err.Error())
		}
	}
}

// enqueue queues m, or drops it when the queue is full or closed.
func (n *notifier) enqueue(m notification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	select {
	case n.queue <- m:
	default:
		n.dropped++
		// Log the first drop and then every 100th: a flood must not flood
		// the log too.
		if n.dropped%100 == 1 {
			n.a.log.Warn("auth notification dropped: queue full", "hook", "on_"+m.body.Action,
				"path", m.body.Path, "queue", cap(n.queue), "dropped", n.dropped)
		}
	}
}

// close stops accepting notifications, lets the workers send the queued
// ones for at most drain, then cancels what is left and waits.
func (n *notifier) close(drain time.Duration) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.queue)
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.cancel()
		// Remaining queued notifications fail at once on the cancelled
		// context.
		<-done
	}
	n.cancel()
}
