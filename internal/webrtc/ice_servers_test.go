package webrtc

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/turn/v5"
	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// startTURN runs a TURN server (pion/turn) on loopback with one user and
// returns its port.
func startTURN(t *testing.T, user, pass string) int {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	const realm = "sluice.test"
	key := turn.GenerateAuthKey(user, realm, pass)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: realm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == user
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"},
		}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return conn.LocalAddr().(*net.UDPAddr).Port
}

// With a TURN server in webrtc.ice_servers, the answer also offers a
// relayed candidate, for viewers that cannot reach the server directly.
func TestICEServersAddRelayCandidates(t *testing.T) {
	testutil.CheckGoroutines(t)
	port := startTURN(t, "sluice", "secret")
	s, h := newTestServer(t, func(s *Server) {
		s.ICEServers = []pion.ICEServer{{
			URLs:     []string{"turn:127.0.0.1:" + strconv.Itoa(port) + "?transport=udp"},
			Username: "sluice", Credential: "secret",
		}}
	})
	publishTestStream(t, h, "live/turn")
	_, offer := newClientOffer(t)
	resp := post(t, s, "live/turn", "application/sdp", offer)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	var relay []string
	for _, line := range strings.Split(string(answer), "\r\n") {
		if strings.HasPrefix(line, "a=candidate:") && strings.Contains(line, " typ relay") {
			relay = append(relay, line)
		}
	}
	t.Logf("relayed candidates: %q", relay)
	require.NotEmpty(t, relay, "a relay candidate from the TURN server in the answer:\n%s", answer)
	require.Contains(t, string(answer), " typ host ", "host candidates stay")
}
