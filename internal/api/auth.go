package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// authorize returns 0 when r may use the API, else the status and message
// to answer with.
//
// With a key configured, every request must carry it (loopback included):
// "Authorization: Bearer KEY" (RFC 6750 §2.1) or "X-API-Key: KEY". Without
// one, only loopback clients are served. The client address is the TCP
// peer: forwarding headers (X-Forwarded-For) are not trusted, so behind a
// reverse proxy on the same host set a key.
func (s *Server) authorize(r *http.Request) (int, string) {
	if s.opts.Key == "" {
		if isLoopback(r.RemoteAddr) {
			return 0, ""
		}
		return http.StatusForbidden, "the API serves loopback clients only while no API key is set; " +
			"set api.key in the config file (or SLUICE_API_KEY) and send it as \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\""
	}
	got := requestKey(r)
	if got == "" {
		return http.StatusUnauthorized, "missing API key: send \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\""
	}
	if !keysEqual(got, s.opts.Key) {
		return http.StatusUnauthorized, "invalid API key"
	}
	return 0, ""
}

// requestKey returns the key r presents, or "".
func requestKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// keysEqual compares in constant time (hashing first hides the length).
func keysEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// isLoopback reports whether the host of remote ("ip:port") is a loopback
// address (127.0.0.0/8, ::1, or IPv4-mapped 127.x).
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // zone, e.g. fe80::1%eth0
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
