// Package streampath holds the rules for stream paths (CONTRACT.md
// "Stream paths and URLs"): a stream is named APP/NAME, e.g. live/cam1,
// and RTMP's app and stream key map onto it.
//
// It is a leaf package: it imports only the standard library.
package streampath

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxSegmentLen is the longest path segment, in characters.
const MaxSegmentLen = 128

// ErrInvalid is wrapped by every error about a malformed stream path, so
// callers can tell a bad name (refuse it) from other failures.
var ErrInvalid = errors.New("invalid stream path")

// reserved are first segments taken by the HTTP surface.
var reserved = [...]string{"api", "metrics", "healthz", "static"}

// IsReserved reports whether segment is reserved as a first path segment
// (api, metrics, healthz, static), compared case-insensitively so that
// "API/x" cannot be confused with the API either.
func IsReserved(segment string) bool {
	for _, r := range reserved {
		if strings.EqualFold(segment, r) {
			return true
		}
	}
	return false
}

// Validate reports whether p is a valid stream path: exactly two segments
// APP/NAME separated by "/"; each 1..128 characters of [A-Za-z0-9_.-] and
// neither "." nor ".."; the first not reserved (see IsReserved). The error
// wraps ErrInvalid and quotes the input (truncated).
func Validate(p string) error {
	if err := validate(p); err != nil {
		return fmt.Errorf("streampath: %w", err)
	}
	return nil
}

func validate(p string) error {
	app, name, ok := strings.Cut(p, "/")
	if !ok || strings.Contains(name, "/") {
		return fmt.Errorf("%w %s: want APP/NAME, two segments separated by one \"/\"", ErrInvalid, quote(p))
	}
	if reason := checkSegment(app); reason != "" {
		return fmt.Errorf("%w %s: app %s", ErrInvalid, quote(p), reason)
	}
	if IsReserved(app) {
		return fmt.Errorf("%w %s: app %s is reserved (so are api, metrics, healthz and static)", ErrInvalid, quote(p), quote(app))
	}
	if reason := checkSegment(name); reason != "" {
		return fmt.Errorf("%w %s: name %s", ErrInvalid, quote(p), reason)
	}
	return nil
}

// Split validates p and returns its two segments.
func Split(p string) (app, name string, err error) {
	if err := Validate(p); err != nil {
		return "", "", err
	}
	app, name, _ = strings.Cut(p, "/")
	return app, name, nil
}

// checkSegment returns why s is not a valid path segment, or "".
func checkSegment(s string) string {
	switch {
	case s == "":
		return "is empty"
	case s == "." || s == "..":
		return quote(s) + " is not allowed"
	case len(s) > MaxSegmentLen:
		return fmt.Sprintf("is %d bytes long, at most %d characters allowed", len(s), MaxSegmentLen)
	}
	for i := 0; i < len(s); i++ {
		if !segmentChar(s[i]) {
			r, _ := utf8.DecodeRuneInString(s[i:]) // report the rune, not one byte of it
			return fmt.Sprintf("%s has the character %q at byte %d; only A-Z a-z 0-9 _ . - are allowed", quote(s), r, i)
		}
	}
	return ""
}

func segmentChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

// FromRTMP maps an RTMP connect app and publish/play stream name onto a
// stream path and the query parameters both carried. For example app
// "live?token=x" and stream key "cam1?key=s3cret" give path "live/cam1"
// and query token=x&key=s3cret.
//
// Leading and trailing "/" of app are ignored (some encoders send
// "live/"). An app that is a whole path APP/NAME with an empty stream key
// names that path: clients that put the full URL path in the app, such as
// MediaMTX's gortmplib, connect with app "live/cam1" and play or publish
// "" (or just "?key=..."). The query is never nil on success; values from app come
// before values from the stream key. An invalid path or a malformed query
// is an error wrapping ErrInvalid that quotes the input (truncated).
func FromRTMP(app, streamKey string) (path string, query url.Values, err error) {
	appName, appQuery, _ := strings.Cut(app, "?")
	keyName, keyQuery, _ := strings.Cut(streamKey, "?")
	appName = strings.Trim(appName, "/")
	// Queries usually carry secrets: errors quote the inputs without them.
	where := fmt.Sprintf("rtmp app %s, stream key %s", quote(redactQuery(app)), quote(redactQuery(streamKey)))

	query = url.Values{}
	for _, raw := range []string{appQuery, keyQuery} {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return "", nil, fmt.Errorf("streampath: %s: %w: malformed query: %v", where, ErrInvalid, err)
		}
		for k, vs := range v {
			query[k] = append(query[k], vs...)
		}
	}
	switch {
	case appName == "":
		return "", nil, fmt.Errorf("streampath: %s: %w: the app names no application", where, ErrInvalid)
	case keyName == "" && strings.Contains(appName, "/"):
		path = appName // app APP/NAME, empty key
	case keyName == "":
		return "", nil, fmt.Errorf("streampath: %s: %w: the stream key names no stream", where, ErrInvalid)
	default:
		path = appName + "/" + keyName
	}
	if err := validate(path); err != nil {
		return "", nil, fmt.Errorf("streampath: %s: %w", where, err)
	}
	return path, query, nil
}

// redactQuery replaces the query of an RTMP app or stream key, if any, by
// "...".
func redactQuery(s string) string {
	if name, _, ok := strings.Cut(s, "?"); ok {
		return name + "?..."
	}
	return s
}

// quote returns s quoted for an error message, truncated to 64 bytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
