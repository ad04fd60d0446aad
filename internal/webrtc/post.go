package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	pion "github.com/pion/webrtc/v4"

	"github.com/sluicemedia/sluice/internal/auth"
)

// offerPost is a WHEP or WHIP POST being answered, from its first byte until
// the session it creates takes over the authorization and the session slot.
type offerPost struct {
	srv  *Server
	w    http.ResponseWriter
	log  *slog.Logger
	kind string // "whep" or "whip", for logs
	// grant is the authorization the router gave; Ended when done.
	grant *auth.Grant
	body  []byte
	off   *offer
	// ip holds a session slot (reserve) while reserved is set.
	ip       string
	reserved bool
	owned    bool // a session took over grant and the slot (handOver)
}

// beginOffer does what every WHEP (publish false) and WHIP (publish true)
// POST, already authorized (g), starts with: reading and checking the SDP
// offer. On false the refusal is written and nothing is held; otherwise
// the caller must defer p.finish.
func (s *Server) beginOffer(w http.ResponseWriter, r *http.Request, kind string, g auth.Grant, path string, publish bool) (*offerPost, bool) {
	p := &offerPost{srv: s, w: w, kind: kind, log: s.Logger.With("proto", kind, "path", path, "remote", r.RemoteAddr),
		grant: &g}
	body, ok := readOffer(w, r, p.refuse)
	if !ok {
		p.finish()
		return nil, false
	}
	off, err := parseOfferFor(body, publish)
	if err != nil {
		p.refuse(http.StatusBadRequest, "%v", err)
		p.finish()
		return nil, false
	}
	p.body, p.off = body, off
	return p, true
}

// refuse answers the request with code and a one-line reason, logged.
func (p *offerPost) refuse(code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.log.Info(p.kind+" request refused", "status", code, "reason", msg)
	http.Error(p.w, msg, code)
}

// reserve claims a session slot for the client (refusing with 503 or 429
// when none is left).
func (p *offerPost) reserve(remote string) bool {
	ip, status, err := p.srv.reserve(remote)
	if err != nil {
		p.refuse(status, "%v", err)
		return false
	}
	p.ip, p.reserved = ip, true
	return true
}

// handOver marks the slot and the authorization as the session's now: it
// releases both when it ends.
func (p *offerPost) handOver() { p.owned = true }

// finish releases what the request still holds unless a session took it.
func (p *offerPost) finish() {
	if p.owned {
		return
	}
	if p.reserved {
		p.srv.release(p.ip)
	}
	ended(p.grant)
}

// answer negotiates the session's PeerConnection with the offer and
// answers 201 with the SDP answer and the session resource at location.
// A failure closes the session (its run goroutine tears it down) and, if
// the client is still there, is refused with the reason.
func (p *offerPost) answer(r *http.Request, pc *pion.PeerConnection, sess *lifecycle, log *slog.Logger, location string, plan mediaPlan) {
	sdp, err := answerOffer(r.Context(), pc, string(p.body))
	if err != nil {
		var ne *negotiationError
		if errors.As(err, &ne) {
			sess.close("setup failed")
			p.refuse(ne.status, "%s", ne.msg)
		} else {
			sess.close("client went away during setup")
		}
		return
	}
	log.Info(p.kind+" session started", "video", plan.video != nil, "audio", plan.audio != nil,
		"sessions", p.srv.Sessions())
	writeAnswer(p.w, location, sdp)
}
