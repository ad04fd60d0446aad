package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	pion "github.com/pion/webrtc/v4"
)

// negotiationError carries the HTTP status for a failed offer/answer.
type negotiationError struct {
	status int
	msg    string
}

func (e *negotiationError) Error() string { return e.msg }

// answerOffer applies the client's offer, creates the answer and waits for
// ICE gathering to complete, so the answer holds every candidate (neither
// WHIP nor WHEP trickles here). It returns the answer SDP, or a
// *negotiationError, or ctx's error when the client went away.
func answerOffer(ctx context.Context, pc *pion.PeerConnection, offerSDP string) (string, error) {
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return "", &negotiationError{http.StatusBadRequest, fmt.Sprintf("%v: %v", errBadOffer, err)}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", &negotiationError{http.StatusBadRequest, fmt.Sprintf("%v: cannot answer: %v", errBadOffer, err)}
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", &negotiationError{http.StatusInternalServerError, fmt.Sprintf("set local description: %v", err)}
	}
	timer := time.NewTimer(gatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
		return "", &negotiationError{http.StatusInternalServerError, fmt.Sprintf("ICE gathering did not complete within %s", gatherTimeout)}
	case <-ctx.Done():
		return "", ctx.Err()
	}
	local := pc.LocalDescription()
	if local == nil {
		return "", &negotiationError{http.StatusInternalServerError, "no local description"}
	}
	return local.SDP, nil
}

// writeAnswer sends 201 Created with the answer and the session resource
// (WHEP/WHIP: the Location header names the resource to DELETE). The ETag
// names the session's one ICE session (RFC 9725 §4.3; clients such as
// MediaMTX require it). No Accept-Patch is sent: this server neither
// trickles nor restarts ICE, so clients do not PATCH (and a PATCH gets 405
// with Allow: DELETE, OPTIONS); a client's own candidates are learned from
// its connectivity checks (peer-reflexive, RFC 8445 §7.3.1.3).
func writeAnswer(w http.ResponseWriter, location, sdp string) {
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", location)
	w.Header().Set("ETag", `"`+location[strings.LastIndexByte(location, '/')+1:]+`"`)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, sdp)
}

// refuseSessionMethod answers the methods a session resource does not
// take: PATCH (no trickle ICE or ICE restart) and anything but DELETE. It
// reports whether it answered; DELETE is left to the caller. (CORS
// preflights are answered by the router.)
func refuseSessionMethod(w http.ResponseWriter, r *http.Request, kind string) bool {
	switch r.Method {
	case http.MethodPatch:
		w.Header().Set("Allow", "DELETE, OPTIONS")
		http.Error(w, "trickle ICE and ICE restarts are not supported: the SDP answer already holds every ICE candidate; to reconnect, DELETE this session and POST a new offer", http.StatusMethodNotAllowed)
	case http.MethodDelete:
		return false
	default:
		w.Header().Set("Allow", "DELETE, OPTIONS")
		http.Error(w, "method not allowed on a "+kind+" session", http.StatusMethodNotAllowed)
	}
	return true
}

// readOffer checks the Content-Type and reads the SDP offer of a WHIP or
// WHEP POST, bounded to maxOfferSize; on failure it has answered through
// refuse (415, 413 or 400) and reports false.
func readOffer(w http.ResponseWriter, r *http.Request, refuse func(code int, format string, args ...any)) ([]byte, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		refuse(http.StatusUnsupportedMediaType, "Content-Type must be application/sdp (an SDP offer)")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(http.StatusRequestEntityTooLarge, "SDP offer larger than %d bytes", maxOfferSize)
		} else {
			refuse(http.StatusBadRequest, "read SDP offer: %v", err)
		}
		return nil, false
	}
	return body, true
}
