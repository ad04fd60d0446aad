package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func request(origin string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://sluice.example:8080/live/a.m3u8", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	return r
}

func TestAnyOrigin(t *testing.T) {
	for _, p := range []*Policy{nil, {}, must(t, []string{"*"}), must(t, []string{"https://a.example", "*"})} {
		require.True(t, p.Any())
		require.True(t, p.Allowed(request("https://evil.example")))
		h := http.Header{}
		p.SetHeaders(h, request("https://evil.example"), "Location")
		require.Equal(t, "*", h.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "Location", h.Get("Access-Control-Expose-Headers"))
		require.Empty(t, h.Get("Vary"), "the answer does not depend on Origin")
	}
}

func TestListedOrigins(t *testing.T) {
	p := must(t, []string{"https://A.example", "http://localhost:3000"})
	require.False(t, p.Any())
	for origin, want := range map[string]bool{
		"":                           true, // not a browser's cross-origin request
		"https://a.example":          true, // case-insensitive
		"http://localhost:3000":      true,
		"http://sluice.example:8080": true, // the server's own pages
		"https://evil.example":       false,
		"http://a.example":           false, // another scheme is another origin
		"http://localhost:3001":      false,
		"null":                       false,
	} {
		r := request(origin)
		require.Equal(t, want, p.Allowed(r), origin)
		h := http.Header{}
		p.SetHeaders(h, r, "Location")
		require.Equal(t, []string{"Origin"}, h.Values("Vary"), origin)
		if want && origin != "" {
			require.Equal(t, origin, h.Get("Access-Control-Allow-Origin"), "echoed")
			require.Equal(t, "Location", h.Get("Access-Control-Expose-Headers"))
		} else {
			require.Empty(t, h.Get("Access-Control-Allow-Origin"), origin)
			require.Empty(t, h.Get("Access-Control-Expose-Headers"), origin)
		}
		rec := httptest.NewRecorder()
		p.SetHeaders(rec.Header(), r)
		p.Preflight(rec, "GET, OPTIONS")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Equal(t, want && origin != "", rec.Header().Get("Access-Control-Allow-Methods") == "GET, OPTIONS", origin)
	}
}

func TestEmptyListAllowsOnlySameOrigin(t *testing.T) {
	p := must(t, nil)
	require.False(t, p.Any())
	require.True(t, p.Allowed(request("")))
	require.True(t, p.Allowed(request("http://sluice.example:8080")))
	require.False(t, p.Allowed(request("https://a.example")))
}

func TestBadOrigins(t *testing.T) {
	for _, o := range []string{"a.example", "https://a.example/", "https://a.example/x", "https://a.example?x",
		"https://u@a.example", "https://a.example#f", "https://", "mailto:x@a.example", ""} {
		_, err := New([]string{"https://ok.example", o})
		require.Error(t, err, o)
		require.Contains(t, err.Error(), "[1]", o)
	}
}

func must(t *testing.T, origins []string) *Policy {
	t.Helper()
	p, err := New(origins)
	require.NoError(t, err)
	return p
}
