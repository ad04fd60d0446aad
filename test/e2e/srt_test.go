package e2e

import (
	"context"
	"crypto/rand"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

const srtConfig = `
paths:
  "keyed/*":
    publish_keys: ["k3y-publish"]
  "secret/*":
    srt_passphrase: "correct-horse-battery"
`

// TestSRTPublishEveryStreamIDFormPlaysEverywhere: ffmpeg publishes over
// SRT with each streamid form; the streams are normal hub streams, played
// by HTTP-FLV, LL-HLS, WHEP and an SRT reader.
func TestSRTPublishEveryStreamIDFormPlaysEverywhere(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil, "-config", writeConfig(t, srtConfig))
	require.NotEmpty(t, s.SRTAddr, "srt listening log line")
	forms := map[string]string{
		"live/plain":  "publish:live/plain",
		"keyed/query": "publish:keyed/query?key=k3y-publish",
		"live/srs":    "#!::r=live/srs,m=publish",
		"keyed/srs":   "#!::r=keyed/srs,m=publish,key=k3y-publish",
	}
	for _, sid := range forms {
		testutil.PublishTestPatternTS(t, testutil.SRTURL(s.SRTAddr, sid), testutil.PublishOptions{})
	}
	for path := range forms {
		waitForStream(t, s, path)
		streams, err := testutil.Probe(t, "http://"+s.HTTPAddr+"/"+path+".flv", 15*time.Second)
		require.NoError(t, err, path)
		codecs := []string{}
		for _, st := range streams {
			codecs = append(codecs, st.CodecName)
		}
		require.ElementsMatch(t, []string{"h264", "aac"}, codecs, "%s over HTTP-FLV", path)
	}
	var streams struct {
		Streams []struct {
			Path      string `json:"path"`
			Publisher *struct {
				Protocol string `json:"protocol"`
			} `json:"publisher"`
		} `json:"streams"`
	}
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/streams", &streams)
	srtPublished := 0
	for _, st := range streams.Streams {
		if st.Publisher != nil && st.Publisher.Protocol == "srt" {
			srtPublished++
		}
	}
	require.Equal(t, len(forms), srtPublished, "streams published over SRT in /api/v1/streams")

	res, err := testutil.Decode(t, "http://"+s.HTTPAddr+"/live/plain.flv", 2*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 30, "HTTP-FLV frames decoded")

	res, err = testutil.Decode(t, "http://"+s.HTTPAddr+"/live/srs.m3u8", 2*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 30, "LL-HLS frames decoded")

	v := playWHEP(t, s.HTTPAddr, "keyed/query")
	v.waitFrames(t, 50, 30*time.Second)

	for _, sid := range []string{"read:live/plain", "#!::r=live/srs,m=request"} {
		res, err = testutil.Decode(t, testutil.SRTURL(s.SRTAddr, sid), 3*time.Second)
		require.NoError(t, err, sid)
		require.GreaterOrEqual(t, res.VideoFrames, 50, "frames an SRT reader (%s) decoded", sid)
		require.Empty(t, res.Errors, "ffmpeg errors reading %s", sid)
	}
	metrics := getText(t, "http://"+s.HTTPAddr+"/metrics")
	require.Contains(t, metrics, `sluice_publishers{protocol="srt"} 4`)
	require.Contains(t, metrics, `sluice_srt_connections{state="publish"} 4`)
}

// srtRefused dials url with ffmpeg and expects the connection to fail.
func srtRefused(t *testing.T, url string, publish bool) {
	t.Helper()
	var p *testutil.Process
	if publish {
		p = testutil.PublishTestPatternTS(t, url, testutil.PublishOptions{Pattern: testutil.Pattern{Duration: 3 * time.Second}})
	} else {
		p = testutil.Start(t, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", url, "-t", "1", "-f", "null", "-")
	}
	err := p.Wait(20 * time.Second)
	require.Error(t, err, "ffmpeg should fail to connect to %s; stderr: %s", url, p.Stderr())
}

// TestSRTRefusesAtHandshake: a bad streamid, a missing or wrong key or
// passphrase and a busy path are each refused at handshake with one log
// line; the right passphrase is let in.
func TestSRTRefusesAtHandshake(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil, "-config", writeConfig(t, srtConfig))
	good := testutil.SRTURL(s.SRTAddr, "publish:secret/cam", "passphrase", "correct-horse-battery")
	testutil.PublishTestPatternTS(t, good, testutil.PublishOptions{})
	waitForStream(t, s, "secret/cam")

	cases := []struct {
		url     string
		publish bool
		reason  string
	}{
		{testutil.SRTURL(s.SRTAddr, "publish:nopath"), true, "bad streamid"},
		{testutil.SRTURL(s.SRTAddr, "#!::r=live/x,m=delete"), true, "bad streamid"},
		{testutil.SRTURL(s.SRTAddr, "publish:keyed/a"), true, "publish denied"},
		{testutil.SRTURL(s.SRTAddr, "publish:keyed/a?key=wrong"), true, "publish denied"},
		{testutil.SRTURL(s.SRTAddr, "publish:secret/b", "passphrase", "wrong-horse-battery"), true, "wrong passphrase"},
		{testutil.SRTURL(s.SRTAddr, "publish:secret/b"), true, "does not encrypt"},
		{testutil.SRTURL(s.SRTAddr, "read:secret/cam", "passphrase", "wrong-horse-battery"), false, "wrong passphrase"},
		{testutil.SRTURL(s.SRTAddr, "publish:live/x", "passphrase", "some-passphrase"), true, "has no srt_passphrase"},
		{testutil.SRTURL(s.SRTAddr, "publish:secret/cam", "passphrase", "correct-horse-battery"), true, "already being published"},
		{testutil.SRTURL(s.SRTAddr, "read:live/none"), false, "no stream is published"},
	}
	for _, tc := range cases {
		before := len(s.Logs("srt connection refused"))
		srtRefused(t, tc.url, tc.publish)
		waitLogs(t, s, "srt connection refused", before+1, 5*time.Second)
		logs := s.Logs("srt connection refused")
		require.Len(t, logs, before+1, "one refusal line for %s", tc.url)
		reason, _ := logs[before]["reason"].(string)
		require.Contains(t, reason, tc.reason, tc.url)
	}
	// The first publisher was never disturbed; the right passphrase reads.
	res, err := testutil.Decode(t, testutil.SRTURL(s.SRTAddr, "read:secret/cam", "passphrase", "correct-horse-battery"), 2*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 30)
	metrics := getText(t, "http://"+s.HTTPAddr+"/metrics")
	for _, r := range []string{"bad_streamid", "auth", "passphrase", "busy", "not_found"} {
		require.Contains(t, metrics, `sluice_srt_refused_total{reason="`+r+`"}`)
	}
}

// TestSRTHostilePublisherHarmsNoOne: raw UDP garbage at the port and an
// SRT publisher sending garbage as payload are dropped (one line), while
// another SRT publisher's viewers keep decoding.
func TestSRTHostilePublisherHarmsNoOne(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	testutil.PublishTestPatternTS(t, testutil.SRTURL(s.SRTAddr, "publish:live/good"), testutil.PublishOptions{})
	waitForStream(t, s, "live/good")

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var decoded testutil.DecodeResult
	var decodeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		decoded, decodeErr = testutil.Decode(t, "http://"+s.HTTPAddr+"/live/good.flv", 6*time.Second)
	}()

	// Raw UDP garbage: not even an SRT handshake.
	uc, err := net.Dial("udp", s.SRTAddr)
	require.NoError(t, err)
	junk := make([]byte, 1400)
	for range 200 {
		_, _ = rand.Read(junk)
		_, _ = uc.Write(junk)
	}
	uc.Close()

	// An SRT publisher whose payload is garbage, then one whose payload
	// looks like TS (sync bytes) but is garbage inside.
	for i, gen := range []func([]byte){
		func(b []byte) { _, _ = rand.Read(b) },
		func(b []byte) {
			_, _ = rand.Read(b)
			for j := 0; j < len(b); j += 188 {
				b[j] = 0x47
			}
		},
	} {
		before := len(s.Logs("srt connection dropped"))
		cfg := gosrt.DefaultConfig()
		cfg.StreamId = []string{"publish:live/junk0", "publish:live/junk1"}[i]
		c, err := gosrt.Dial("srt", s.SRTAddr, cfg)
		require.NoError(t, err)
		buf := make([]byte, 1316)
		for range 2000 {
			gen(buf)
			if _, err := c.Write(buf); err != nil {
				break
			}
			if ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		waitLogs(t, s, "srt connection dropped", before+1, 15*time.Second)
		c.Close()
		logs := s.Logs("srt connection dropped")
		require.Len(t, logs, before+1, "one line for the garbage publisher")
		t.Logf("garbage publisher %d dropped: %v", i, logs[before]["reason"])
	}
	wg.Wait()
	require.NoError(t, decodeErr)
	require.GreaterOrEqual(t, decoded.VideoFrames, 120, "the good stream's HTTP-FLV viewer kept decoding (6 s at 25 fps)")
	for _, l := range s.Logs("") {
		if lvl, _ := l["level"].(string); lvl == "ERROR" {
			msg, _ := l["msg"].(string)
			require.False(t, strings.Contains(msg, "panic"), "server error: %v", l)
		}
	}
}

// waitLogs waits until s has logged at least n lines containing substr.
func waitLogs(t *testing.T, s *testutil.Sluice, substr string, n int, timeout time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.Logs(substr)) >= n }, timeout, 20*time.Millisecond,
		"want %d %q log lines within %s, have %d", n, substr, timeout, len(s.Logs(substr)))
}
