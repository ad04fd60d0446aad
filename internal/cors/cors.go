// Package cors applies the config's http.allowed_origins to every HTTP
// entry point: the Cross-Origin Resource Sharing answers of the Fetch
// standard (Access-Control-Allow-Origin and friends) and the origin check
// of WebSocket upgrades (RFC 6455 §10.2: a server that is not meant for
// every page refuses a handshake whose Origin it does not accept).
//
// One Policy serves every protocol server, so no server carries its own
// copy of these headers.
package cors

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Policy is the set of page origins allowed to use the HTTP surface from
// a browser. Build it with New; the zero Policy and a nil *Policy allow
// every origin (like New([]string{"*"})). It is safe for concurrent use.
type Policy struct {
	restricted bool            // false: any origin ("*")
	origins    map[string]bool // allowed serialized origins, lower-case
}

// New compiles allowed: "*" allows every origin; otherwise each entry is
// a serialized origin, scheme://host[:port] (e.g. "https://example.com"),
// compared case-insensitively. An empty list allows only same-origin
// pages and clients that send no Origin (players outside browsers). An
// error names the entry at fault.
func New(allowed []string) (*Policy, error) {
	p := &Policy{restricted: true, origins: make(map[string]bool, len(allowed))}
	for i, o := range allowed {
		if o == "*" {
			p.restricted = false
			continue
		}
		if err := CheckOrigin(o); err != nil {
			return nil, fmt.Errorf("[%d] %w", i, err)
		}
		p.origins[strings.ToLower(o)] = true
	}
	if !p.restricted {
		p.origins = nil
	}
	return p, nil
}

// CheckOrigin reports whether o is a serialized origin fit for
// http.allowed_origins: scheme://host[:port], with no path, query,
// fragment or user information.
func CheckOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Opaque != "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return fmt.Errorf("%q is not an origin: want \"*\" or scheme://host[:port], e.g. https://example.com", o)
	}
	return nil
}

// Any reports whether every origin is allowed.
func (p *Policy) Any() bool { return p == nil || !p.restricted }

// Allowed reports whether a request may be served to the page it came
// from: it carries no Origin (not a cross-origin browser request), its
// Origin is allowed, or its Origin is the server's own (same host and
// port as the request's Host: the built-in player pages).
func (p *Policy) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || p.Any() {
		return true
	}
	if p.origins[strings.ToLower(origin)] {
		return true
	}
	return sameOrigin(origin, r)
}

// sameOrigin reports whether origin names the host the request was sent
// to (scheme aside: the server answers HTTP and HTTPS alike).
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// SetHeaders sets the CORS answer to r on h: with every origin allowed,
// "Access-Control-Allow-Origin: *"; otherwise the request's Origin echoed
// when it is allowed, nothing when not (the browser then withholds the
// answer from the page), and "Vary: Origin" either way, since the answer
// depends on it (Fetch standard, CORS protocol and HTTP caches). expose
// lists response headers the page may read (e.g. "Location").
func (p *Policy) SetHeaders(h http.Header, r *http.Request, expose ...string) {
	if p.Any() {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" || !p.Allowed(r) {
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if len(expose) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(expose, ", "))
	}
}

// Preflight answers a CORS preflight (OPTIONS) for a resource that takes
// methods, after SetHeaders: 204 with the allowed methods and request
// headers (a bearer token, an SDP body, If-Match) when the origin is
// allowed; 204 without them otherwise, so the browser refuses the actual
// request.
func (p *Policy) Preflight(w http.ResponseWriter, methods string) {
	h := w.Header()
	if h.Get("Access-Control-Allow-Origin") != "" {
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Max-Age", "86400")
	}
	w.WriteHeader(http.StatusNoContent)
}
