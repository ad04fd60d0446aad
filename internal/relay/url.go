package relay

import (
	"net/url"
	"strings"
)

// Redact returns u as a string without credentials: the user info and
// every query value are replaced by "REDACTED", and a long stream key in
// the path (a last segment of more than 16 characters in an rtmp(s) URL:
// services such as YouTube and Twitch use it as the secret) is cut to its
// first 4 characters and "-REDACTED".
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		c.RawQuery = q.Encode()
	}
	if c.Scheme == "rtmp" || c.Scheme == "rtmps" {
		if i := strings.LastIndexByte(c.Path, '/'); i > 0 && len(c.Path)-i-1 > 16 {
			c.Path = c.Path[:i+5] + "-REDACTED"
			c.RawPath = ""
		}
	}
	return c.String()
}

// Expand fills the templates {app}, {name} and {path} of raw with the
// parts of the stream path (APP/NAME) and parses the result.
func Expand(raw, streamPath string) (*url.URL, error) {
	app, name, _ := strings.Cut(streamPath, "/")
	s := strings.NewReplacer("{app}", app, "{name}", name, "{path}", streamPath).Replace(raw)
	return url.Parse(s)
}

// sameTarget reports whether a and b name the same stream on the same
// server (scheme, host and path; the query and credentials are ignored),
// for the forward loop guard.
func sameTarget(a, b *url.URL) bool {
	if a == nil || b == nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host) &&
		strings.TrimSuffix(a.Path, "/") == strings.TrimSuffix(b.Path, "/")
}
