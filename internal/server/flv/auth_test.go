package flvserver

import (
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

// A viewer ends the grant the router authorized it with once, when it
// leaves (on_stop). The access decision itself is the router's
// (internal/app).
func TestViewerEndsItsGrant(t *testing.T) {
	testutil.CheckGoroutines(t)
	_, h := setup(t)
	var mu sync.Mutex
	var ended []auth.Request
	srv := &Server{Hub: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".flv")
		req := auth.Request{Action: auth.Play, Path: path, Protocol: "http-flv", Token: "good"}
		srv.ServeStream(w, r, path, auth.NewGrant(req, func(r auth.Request) {
			mu.Lock()
			defer mu.Unlock()
			ended = append(ended, r)
		}))
	}))
	defer ts.Close()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ended)
	}

	resp, err := http.Get(ts.URL + "/live/x.flv")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireFLVStart(t, resp.Body)
	require.Equal(t, 0, count(), "ended while still watching")
	resp.Body.Close()
	require.Eventually(t, func() bool { return count() == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, auth.Request{Action: auth.Play, Path: "live/x", Protocol: "http-flv", Token: "good"}, ended[0])
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, 1, count(), "ended once")
}
