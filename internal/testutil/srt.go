package testutil

import (
	"net/url"
	"testing"
)

// SRTURL returns the srt:// URL of addr for ffmpeg's libsrt with the given
// streamid and extra options, e.g. "passphrase", "s3cret-pass". Debian's
// ffmpeg takes the streamid as written up to the next "&" (it does not
// URL-decode it), so it is not escaped; it must not contain "&".
func SRTURL(addr, streamID string, opts ...string) string {
	q := "streamid=" + streamID
	for i := 0; i+1 < len(opts); i += 2 {
		q += "&" + opts[i] + "=" + url.QueryEscape(opts[i+1])
	}
	return "srt://" + addr + "?" + q
}

// PublishTestPatternTS runs ffmpeg publishing the Pattern in real time as
// MPEG-TS to url (srt://...), until the test ends or Duration passes.
func PublishTestPatternTS(t testing.TB, url string, o PublishOptions) *Process {
	t.Helper()
	args := append([]string{"-hide_banner", "-loglevel", "error", "-re"}, o.Pattern.withDefaults().args()...)
	args = append(args, o.Extra...)
	args = append(args, "-f", "mpegts", url)
	return Start(t, "ffmpeg", args...)
}
