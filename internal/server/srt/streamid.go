package srtserver

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sluicemedia/sluice/internal/streampath"
)

// Mode is what a caller asks to do.
type Mode int

// Modes.
const (
	// ModePublish sends a stream to the server.
	ModePublish Mode = iota + 1
	// ModeRead receives a stream from the server.
	ModeRead
)

func (m Mode) String() string {
	if m == ModePublish {
		return "publish"
	}
	return "read"
}

// maxStreamID bounds the streamid: libsrt's SRTO_STREAMID is at most 512
// bytes; a longer one is not a client's.
const maxStreamID = 512

// errStreamID is wrapped by every ParseStreamID error.
var errStreamID = errors.New("bad streamid")

// StreamID is a parsed SRT streamid.
type StreamID struct {
	Mode Mode
	// Path is the validated stream path APP/NAME.
	Path string
	// Query holds the parameters the streamid carried (key, token, and
	// anything else, passed to hooks).
	Query url.Values
}

// ParseStreamID parses the streamid a caller sent in its handshake. Forms:
//
//   - "publish:APP/NAME" and "read:APP/NAME", each with an optional
//     "?key=K" (or "?token=T", and other parameters passed to hooks);
//     "play:" is accepted for "read:".
//   - SRT Access Control (libsrt's docs/features/access-control.md, the
//     form SRS uses): "#!::r=APP/NAME,m=publish" with m=request (or no m)
//     for reading; the credential as ",key=K" or ",token=T", or in a
//     query on r ("r=APP/NAME?key=K"). Other keys (u, h, s, t) are passed
//     to hooks as query parameters.
//   - A bare "APP/NAME[?key=K]" reads.
func ParseStreamID(sid string) (StreamID, error) {
	if sid == "" {
		return StreamID{}, fmt.Errorf("%w: empty (use publish:APP/NAME or read:APP/NAME)", errStreamID)
	}
	if len(sid) > maxStreamID {
		return StreamID{}, fmt.Errorf("%w: longer than %d bytes", errStreamID, maxStreamID)
	}
	if rest, ok := strings.CutPrefix(sid, "#!::"); ok {
		return parseAccessControl(rest)
	}
	mode := ModeRead
	switch {
	case strings.HasPrefix(sid, "publish:"):
		mode, sid = ModePublish, sid[len("publish:"):]
	case strings.HasPrefix(sid, "read:"):
		sid = sid[len("read:"):]
	case strings.HasPrefix(sid, "play:"):
		sid = sid[len("play:"):]
	}
	return withPath(mode, sid, url.Values{})
}

// parseAccessControl parses the comma-separated key=value list after "#!::".
func parseAccessControl(s string) (StreamID, error) {
	q := url.Values{}
	mode, res := ModeRead, ""
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return StreamID{}, fmt.Errorf("%w: %q is not key=value", errStreamID, truncate(kv))
		}
		switch k {
		case "r":
			res = v
		case "m":
			switch v {
			case "publish":
				mode = ModePublish
			case "request":
				mode = ModeRead
			default:
				return StreamID{}, fmt.Errorf("%w: mode m=%q (want publish or request)", errStreamID, truncate(v))
			}
		default:
			q.Add(k, v)
		}
	}
	if res == "" {
		return StreamID{}, fmt.Errorf("%w: no resource r=APP/NAME", errStreamID)
	}
	return withPath(mode, res, q)
}

// withPath splits "APP/NAME[?query]", validates the path and merges the
// query into q.
func withPath(mode Mode, s string, q url.Values) (StreamID, error) {
	p, raw, _ := strings.Cut(s, "?")
	if raw != "" {
		extra, err := url.ParseQuery(raw)
		if err != nil {
			return StreamID{}, fmt.Errorf("%w: query: %v", errStreamID, err)
		}
		for k, v := range extra {
			q[k] = append(q[k], v...)
		}
	}
	p = strings.Trim(p, "/")
	if err := streampath.Validate(p); err != nil {
		return StreamID{}, fmt.Errorf("%w: %v", errStreamID, err)
	}
	return StreamID{Mode: mode, Path: p, Query: q}, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
