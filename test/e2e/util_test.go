package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// atomicTS holds the latest timestamp a reader goroutine saw.
type atomicTS struct{ v atomic.Uint32 }

func (a *atomicTS) set(ts uint32) { a.v.Store(ts) }
func (a *atomicTS) get() uint32   { return a.v.Load() }

// getJSON GETs url and decodes its JSON body into v, failing on non-200.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	require.NoError(t, json.Unmarshal(body, v), "GET %s: %s", url, body)
}

// getText GETs url and returns its body, failing on non-200.
func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	return string(body)
}

// waitLog waits until the server has logged a line whose msg contains
// substr: logs reach the test through a pipe, after the response that
// caused them.
func waitLog(t *testing.T, s interface {
	Logs(string) []map[string]any
}, substr string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.Logs(substr)) > 0 }, 5*time.Second, 20*time.Millisecond,
		"no %q log line within 5 s", substr)
}
