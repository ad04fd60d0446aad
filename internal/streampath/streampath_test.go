package streampath

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", MaxSegmentLen)
	for _, p := range []string{
		"live/cam1",
		"a/b",
		"LIVE/Cam_1.hd-2",
		"live/cam1.flv", // a dot is allowed; URL suffixes are the router's business
		"..a/b..",
		"apis/x", // only exact reserved words are reserved
		"live/api",
		long + "/" + long,
	} {
		require.NoError(t, Validate(p), p)
	}

	for _, tc := range []struct{ path, want string }{
		{"", `invalid stream path "": want APP/NAME`},
		{"live", `invalid stream path "live": want APP/NAME`},
		{"live/cam1/extra", `want APP/NAME`},
		{"/live/cam1", `want APP/NAME`},
		{"live/", `"live/": name is empty`},
		{"/cam1", `app is empty`},
		{"live//cam1", `want APP/NAME`},
		{"./cam1", `app "." is not allowed`},
		{"live/..", `name ".." is not allowed`},
		{"live/a b", `name "a b" has the character ' ' at byte 1`},
		{"live/caméra", `name "caméra" has the character 'é' at byte 3`},
		{"live/cam?x=1", `the character '?'`},
		{"live/cam%201", `the character '%'`},
		{"live\\cam", `want APP/NAME`},
		{"live/\x00", `the character '\x00'`},
		{"api/cam1", `app "api" is reserved`},
		{"metrics/x", `app "metrics" is reserved`},
		{"healthz/x", `is reserved`},
		{"static/x", `is reserved`},
		{"API/x", `app "API" is reserved`},
		{"live/" + long + "a", `name is 129 bytes long, at most 128 characters allowed`},
		{long + "a/x", `app is 129 bytes long`},
	} {
		err := Validate(tc.path)
		require.Error(t, err, tc.path)
		require.ErrorIs(t, err, ErrInvalid, tc.path)
		require.Contains(t, err.Error(), tc.want, tc.path)
		require.True(t, strings.HasPrefix(err.Error(), "streampath: "), err.Error())
	}
}

func TestErrorQuotesTruncatedInput(t *testing.T) {
	err := Validate(strings.Repeat("x", 5000))
	require.Error(t, err)
	require.Less(t, len(err.Error()), 300)
	require.Contains(t, err.Error(), `"xxxxxxxx`)
	require.Contains(t, err.Error(), `"...:`)
}

func TestSplit(t *testing.T) {
	app, name, err := Split("live/cam1")
	require.NoError(t, err)
	require.Equal(t, "live", app)
	require.Equal(t, "cam1", name)
	_, _, err = Split("live")
	require.ErrorIs(t, err, ErrInvalid)
}

func TestIsReserved(t *testing.T) {
	for _, s := range []string{"api", "metrics", "healthz", "static", "Api", "STATIC"} {
		require.True(t, IsReserved(s), s)
	}
	for _, s := range []string{"", "live", "apis", "health"} {
		require.False(t, IsReserved(s), s)
	}
}

func TestFromRTMP(t *testing.T) {
	for _, tc := range []struct {
		app, key  string
		wantPath  string
		wantQuery url.Values
	}{
		{"live", "cam1", "live/cam1", url.Values{}},
		{"live", "cam1?key=s3cret", "live/cam1", url.Values{"key": {"s3cret"}}},
		{"live?token=x", "cam1", "live/cam1", url.Values{"token": {"x"}}},
		{"live?token=x&a=1", "cam1?key=s3cret&a=2", "live/cam1",
			url.Values{"token": {"x"}, "key": {"s3cret"}, "a": {"1", "2"}}},
		{"live/", "cam1", "live/cam1", url.Values{}},
		{"/live", "cam1", "live/cam1", url.Values{}},
		{"live", "cam1?", "live/cam1", url.Values{}},
		{"live", "cam1?key=a%2Bb", "live/cam1", url.Values{"key": {"a+b"}}},
		{"live", "cam1?key=a?b", "live/cam1", url.Values{"key": {"a?b"}}},
		// The whole path in the app, an empty stream key (MediaMTX).
		{"live/mtxsrc", "", "live/mtxsrc", url.Values{}},
		{"/live/mtxsrc/", "", "live/mtxsrc", url.Values{}},
		{"live/mtxsrc?key=s3cret", "", "live/mtxsrc", url.Values{"key": {"s3cret"}}},
		{"live/mtxsrc", "?key=s3cret", "live/mtxsrc", url.Values{"key": {"s3cret"}}},
	} {
		path, q, err := FromRTMP(tc.app, tc.key)
		require.NoError(t, err, "%q %q", tc.app, tc.key)
		require.Equal(t, tc.wantPath, path)
		require.Equal(t, tc.wantQuery, q)
	}
}

func TestFromRTMPErrors(t *testing.T) {
	for _, tc := range []struct{ app, key, want string }{
		{"", "cam1", `rtmp app "", stream key "cam1": invalid stream path: the app names no application`},
		{"?x=1", "cam1", "names no application"},
		{"live", "", "the stream key names no stream"},
		{"live", "?key=s3cret", `stream key "?...": invalid stream path: the stream key names no stream`},
		{"live/sub", "cam1", `invalid stream path "live/sub/cam1": want APP/NAME`},
		{"live/a/b", "", `invalid stream path "live/a/b": want APP/NAME`},
		{"live/", "", "the stream key names no stream"},
		{"api/x", "", `app "api" is reserved`},
		{"live", "a/b", `want APP/NAME`},
		{"api", "cam1", `app "api" is reserved`},
		{"live", "cam 1?key=s3cret", `name "cam 1" has the character ' '`},
		{"live", "..", `name ".." is not allowed`},
		{"live", "cam1?key=%zz", "malformed query"},
		{"live?t=%", "cam1", "malformed query"},
	} {
		path, q, err := FromRTMP(tc.app, tc.key)
		require.Error(t, err, "%q %q", tc.app, tc.key)
		require.ErrorIs(t, err, ErrInvalid)
		require.Contains(t, err.Error(), tc.want)
		require.True(t, strings.HasPrefix(err.Error(), "streampath: "), err.Error())
		require.NotContains(t, err.Error(), "s3cret", "errors must not leak the key")
		require.Empty(t, path)
		require.Nil(t, q)
	}
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// checkValid is the specification Validate must agree with.
func checkValid(t *testing.T, p string) {
	parts := strings.Split(p, "/")
	require.Len(t, parts, 2, "%q", p)
	for _, s := range parts {
		require.Regexp(t, segmentRE, s)
		require.NotEqual(t, ".", s)
		require.NotEqual(t, "..", s)
	}
	require.False(t, IsReserved(parts[0]))
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"live/cam1", "", "/", "a/b/c", "api/x", "./x", "live/..", "live/ca\xffm", "live/" + strings.Repeat("z", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := Validate(p)
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalid))
			require.Less(t, len(err.Error()), 1024, "errors quote a truncated input")
			return
		}
		checkValid(t, p)
	})
}

func FuzzFromRTMP(f *testing.F) {
	f.Add("live", "cam1")
	f.Add("live?token=x", "cam1?key=s3cret")
	f.Add("live/", "cam1?a=1&a=2")
	f.Add("live/mtxsrc", "")
	f.Add("live/mtxsrc?key=x", "?token=y")
	f.Add("", "")
	f.Add("api", "x")
	f.Add("live", "cam1?key=%zz")
	f.Add("a/b", "c")
	f.Fuzz(func(t *testing.T, app, key string) {
		path, q, err := FromRTMP(app, key)
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalid))
			require.Empty(t, path)
			require.Nil(t, q)
			return
		}
		require.NotNil(t, q)
		require.NoError(t, Validate(path))
		checkValid(t, path)
		require.NotContains(t, path, "?")
	})
}
