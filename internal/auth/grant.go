package auth

import (
	"context"
	"net/http"
	"strings"
)

// Grant is an allowed Request: what the stream router hands to the
// protocol server that serves it, so that servers never decide access
// themselves. The zero Authorizer (nil) grants everything.
type Grant struct {
	Request
	// ended is told when the client leaves (on_stop / on_unpublish); nil:
	// nobody is told.
	ended func(Request)
}

// NewGrant returns a Grant for req whose Ended calls ended (may be nil).
// Tests of protocol servers use it; servers get theirs from Allow.
func NewGrant(req Request, ended func(Request)) Grant {
	return Grant{Request: req, ended: ended}
}

// Ended tells the Authorizer that the client of the grant, once served,
// has left (see Authorizer.Ended). Call it once, and only after the
// client was actually served (a grant whose request then failed, e.g. a
// stream that is not published, need not be ended, but may be).
func (g Grant) Ended() {
	if g.ended != nil {
		g.ended(g.Request)
	}
}

// Allow is Authorize returning the Grant to serve req with. A nil
// Authorizer allows everything.
func (a *Authorizer) Allow(ctx context.Context, req Request) (Grant, error) {
	if a == nil {
		return Grant{Request: req}, nil
	}
	if err := a.Authorize(ctx, req); err != nil {
		return Grant{}, err
	}
	return Grant{Request: req, ended: a.Ended}, nil
}

// PassOnQuery returns the query ("" or "?...") that URLs an answer hands
// out to a client (an HLS multivariant playlist's media playlists and
// rendition reports, a DASH MPD's UTCTiming source) carry, so that players
// which resolve them without the query of the document they came from
// (hls.js, ffmpeg, dash.js) still present the client's credential
// (?key=, ?token=) and the parameters hooks see: every parameter of r
// except the HLS delivery directives (_HLS_*, RFC 8216bis §6.2.5), which
// belong to one request. The parameters are re-encoded, so the result
// never holds characters that could break out of a playlist line or an
// XML attribute.
func PassOnQuery(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	q := r.URL.Query()
	for k := range q {
		if strings.HasPrefix(k, "_HLS_") {
			delete(q, k)
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
