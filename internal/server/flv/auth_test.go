package flvserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// fakeAuth is a hand fake of Authorizer.
type fakeAuth struct {
	authorize func(req auth.Request) error
	mu        sync.Mutex
	asked     []auth.Request
	ended     []auth.Request
}

func (f *fakeAuth) Authorize(_ context.Context, req auth.Request) error {
	f.mu.Lock()
	f.asked = append(f.asked, req)
	f.mu.Unlock()
	return f.authorize(req)
}

func (f *fakeAuth) Ended(req auth.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, req)
}

func (f *fakeAuth) endedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ended)
}

func TestAuthDeniesAndNotifies(t *testing.T) {
	testutil.CheckGoroutines(t)
	_, h := setup(t)
	fa := &fakeAuth{authorize: func(req auth.Request) error {
		switch req.Token {
		case "good":
			return nil
		case "":
			return fmt.Errorf("%w: no token", auth.ErrUnauthorized)
		}
		return fmt.Errorf("%w: not this path", auth.ErrForbidden)
	}}
	srv := &Server{Hub: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: fa}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeStream(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".flv"))
	}))
	defer ts.Close()

	get := func(url string, hdr ...string) (*http.Response, string) {
		req, err := http.NewRequest("GET", url, nil)
		require.NoError(t, err)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b := make([]byte, 256)
		n, _ := io.ReadAtLeast(resp.Body, b, 1)
		return resp, string(b[:n])
	}
	resp, body := get(ts.URL + "/live/x.flv")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, `Bearer realm="sluice"`, resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, "unauthorized: no token\n", body)
	resp, body = get(ts.URL + "/live/x.flv?token=bad")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "forbidden: not this path\n", body)
	require.Equal(t, 0, fa.endedCount(), "denied viewers are not notified")

	resp, _ = get(ts.URL+"/live/x.flv?x=1", "Authorization", "Bearer good")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return fa.endedCount() == 1 }, 5*time.Second, 10*time.Millisecond)
	fa.mu.Lock()
	got := fa.ended[0]
	fa.mu.Unlock()
	require.Equal(t, auth.Play, got.Action)
	require.Equal(t, "live/x", got.Path)
	require.Equal(t, "http-flv", got.Protocol)
	require.Equal(t, "good", got.Token)
	require.Equal(t, "1", got.Query.Get("x"))
	require.NotEmpty(t, got.Remote)
}
