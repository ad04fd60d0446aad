package webrtc

import (
	"context"
	"net/http"

	"github.com/sluicemedia/sluice/internal/auth"
)

// Authorizer decides whether a client may publish (WHIP) or play (WHEP) a
// path, and is told when an allowed client leaves. *auth.Authorizer
// implements it.
type Authorizer interface {
	// Authorize returns nil to allow req, or an error wrapping
	// auth.ErrUnauthorized or auth.ErrForbidden with the reason.
	Authorize(ctx context.Context, req auth.Request) error
	// Ended reports that the client of an allowed req has left.
	Ended(req auth.Request)
}

var _ Authorizer = (*auth.Authorizer)(nil)

// authorize asks s.Auth about a request on path; it returns the auth
// request to pass to Ended later (nil when no Authorizer is set), or
// writes the 401/403 answer and returns ok false. The credential is a
// bearer token (draft-ietf-wish-whip §4.4 and draft-ietf-wish-whep-03
// "Authentication and authorization": "Authorization: Bearer"), or ?token=
// / ?key= (auth.TokenFromHTTP).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, action auth.Action, proto, path string,
	refuse func(code int, format string, args ...any)) (areq *auth.Request, ok bool) {
	if s.Auth == nil {
		return nil, true
	}
	req := auth.Request{Action: action, Path: path, Protocol: proto, Remote: r.RemoteAddr,
		Token: auth.TokenFromHTTP(r), Query: r.URL.Query()}
	if err := s.Auth.Authorize(r.Context(), req); err != nil {
		status := auth.HTTPStatus(err)
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		}
		refuse(status, "%v", err)
		return nil, false
	}
	return &req, true
}

// ended tells the Authorizer that the client of areq left.
func (s *Server) ended(areq *auth.Request) {
	if s.Auth != nil && areq != nil {
		s.Auth.Ended(*areq)
	}
}
