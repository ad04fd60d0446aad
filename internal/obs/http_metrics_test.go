package obs

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestHTTPConnCollector(t *testing.T) {
	snap := HTTPConnSnapshot{Open: 12, RefusedMax: 3, RefusedPerIP: 5, WriteTimeouts: 7, IdleTimeouts: 11, HeaderTimeouts: 2}
	c := NewHTTPConnCollector(func() HTTPConnSnapshot { return snap })
	want := `
# HELP sluice_http_connections Open HTTP and HTTPS connections.
# TYPE sluice_http_connections gauge
sluice_http_connections 12
# HELP sluice_http_connections_refused_total HTTP and HTTPS connections closed at accept by a cap: max_connections or max_connections_per_ip.
# TYPE sluice_http_connections_refused_total counter
sluice_http_connections_refused_total{reason="max_connections"} 3
sluice_http_connections_refused_total{reason="max_connections_per_ip"} 5
# HELP sluice_http_timeouts_total HTTP and HTTPS connections closed by a timeout: write (client stopped reading), idle (keep-alive), read_header (request not sent in time).
# TYPE sluice_http_timeouts_total counter
sluice_http_timeouts_total{kind="idle"} 11
sluice_http_timeouts_total{kind="read_header"} 2
sluice_http_timeouts_total{kind="write"} 7
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want)))
}
