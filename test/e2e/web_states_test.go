//go:build unix

package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// pageState is what web/test/player.mjs --expect missing|end prints.
type pageState struct {
	OK          bool     `json:"ok"`
	Error       string   `json:"error"`
	Screenshot  string   `json:"screenshot"`
	PageErrors  []string `json:"pageErrors"`
	Status      string   `json:"status"`
	LiveBadge   bool     `json:"liveBadge"`
	Overlay     string   `json:"overlay"`
	FatalErrors []string `json:"fatalErrors"`
	PlayedLive  bool     `json:"playedLive"`
	Statuses    []struct {
		After     float64 `json:"after"`
		Status    string  `json:"status"`
		LiveBadge bool    `json:"liveBadge"`
		Overlay   string  `json:"overlay"`
	} `json:"statuses"`
}

// libraryJargon is how the player libraries name failures that the server
// can explain in its own words.
var libraryJargon = []string{"NetworkError", "HttpStatusCodeInvalid", "DASH error", "networkError", "manifestLoadError", "levelLoadError", "WHEP endpoint answered"}

// TestWebPlayerStates checks what the player page says when there is
// nothing to play: for a stream that is not published, every protocol
// shows the server's reason ("stream … is not published (HTTP 404)"), not
// the library's error code; and when a playing stream's publisher leaves,
// the LIVE badge goes and the page says the stream ended — WebRTC too,
// whose connection outlives its media and used to show "playing" at
// 0 kbit/s on a frozen frame.
func TestWebPlayerStates(t *testing.T) {
	root := repoRoot(t)
	script := requireBrowserTools(t, root)
	artifacts := artifactsDir(t, root)
	// A short grace, so a stream ends soon after its publisher leaves.
	s := testutil.StartSluice(t, []string{"SLUICE_HUB_REPUBLISH_GRACE=1s"})
	base := "http://" + s.HTTPAddr

	protos := []string{"flv", "wsflv", "hls", "dash", "whep"}
	t.Run("missing", func(t *testing.T) {
		for _, proto := range protos {
			t.Run(proto, func(t *testing.T) {
				res := runPageScenario(t, root, script, base, proto, "live/nobody", artifacts, "missing", nil)
				t.Logf("%s: status %q, overlay %q, errors %q", proto, res.Status, res.Overlay, res.FatalErrors)
				require.Empty(t, res.PageErrors, "JavaScript exceptions")
				require.NotEmpty(t, res.FatalErrors, "an error shown for a stream that is not published: %s", res.Error)
				msg := res.FatalErrors[0]
				require.Contains(t, msg, "stream live/nobody is not published (HTTP 404)", "the server's reason")
				for _, j := range libraryJargon {
					require.NotContains(t, msg, j, "library jargon in the message shown")
				}
				require.Equal(t, "offline", res.Status)
				require.False(t, res.LiveBadge, "no LIVE badge")
				require.Contains(t, res.Overlay, "is not published")
			})
		}
	})

	t.Run("end", func(t *testing.T) {
		for _, proto := range protos {
			t.Run(proto, func(t *testing.T) {
				path := "live/end" + proto
				pub := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/"+path, testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360"}})
				waitForStream(t, s, path)
				var stopped time.Time
				res := runPageScenario(t, root, script, base, proto, path, artifacts, "end", func() {
					pub.Kill()
					stopped = time.Now()
				})
				t.Logf("%s: statuses after the publisher left: %+v; final %q, overlay %q", proto, res.Statuses, res.Status, res.Overlay)
				require.Empty(t, res.PageErrors, "JavaScript exceptions")
				require.True(t, res.PlayedLive, "the stream played with the LIVE badge first: %s", res.Error)
				require.False(t, stopped.IsZero(), "the publisher was stopped")
				require.True(t, res.OK, "the page must leave \"playing\" and drop the LIVE badge once the stream ended; final status %q, badge %v", res.Status, res.LiveBadge)
				require.Equal(t, "ended", res.Status, "final status")
				require.False(t, res.LiveBadge)
				require.Contains(t, res.Overlay, "Stream ended")
				// No protocol claims to be live for long after the
				// publisher left (grace 1 s + the player's own buffer).
				for _, st := range res.Statuses {
					if st.LiveBadge {
						require.Less(t, st.After, 12.0, "LIVE still shown %.1f s after the publisher left (%s)", st.After, st.Status)
					}
				}
			})
		}
	})
}

// runPageScenario runs player.mjs --expect expect (see
// startBrowserScript) and calls onPlaying (if set) when the script says the
// stream plays.
func runPageScenario(t *testing.T, root, script, base, proto, path, artifacts, expect string, onPlaying func()) pageState {
	t.Helper()
	const timeout = 40 // seconds, inside the script
	playing := func(line string) bool {
		if line != `{"event":"playing"}` {
			return false
		}
		if onPlaying != nil {
			onPlaying()
		}
		return true
	}
	var res pageState
	startBrowserScript(t, root, script, (timeout+15)*time.Second, playing, "--base", base, "--proto", proto, "--path", path,
		"--out", artifacts, "--expect", expect, "--timeout", strconv.Itoa(timeout)).result(&res)
	return res
}
