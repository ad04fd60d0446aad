package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestWHEPPartialOfferWithoutPatch plays WHEP the way MediaMTX pulls a
// WHEP source: an offer that holds no ICE candidate (the client would
// trickle them by PATCH if the server sent Accept-Patch). The server sends
// none, so the client sends no PATCH; the 201 carries the ETag such
// clients insist on; and the session connects anyway, the server learning
// the client's address from its connectivity checks (peer-reflexive
// candidates, RFC 8445 §7.3.1.3).
func TestWHEPPartialOfferWithoutPatch(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/p", testutil.PublishOptions{})
	waitForStream(t, s, "live/p")

	v := newWHEPViewer(t)
	pc := v.pc
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	// The offer as created, before gathering: no candidates at all.
	partial := regexp.MustCompile(`(?m)^a=(candidate|end-of-candidates).*\r\n`).ReplaceAllString(offer.SDP, "")
	require.NotContains(t, partial, "a=candidate")
	require.NoError(t, pc.SetLocalDescription(offer))

	v.posted = time.Now()
	resp, err := http.Post("http://"+s.HTTPAddr+"/live/p/whep", "application/sdp", strings.NewReader(partial))
	require.NoError(t, err)
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.NotEmpty(t, resp.Header.Get("ETag"), "RFC 9725 §4.3 ETag (MediaMTX: \"ETag is missing\")")
	require.Empty(t, resp.Header.Get("Accept-Patch"), "no trickle: the client must not PATCH")
	require.Contains(t, string(answer), "a=candidate:")
	require.NoError(t, pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))
	v.waitFrames(t, 30, 30*time.Second)
}
