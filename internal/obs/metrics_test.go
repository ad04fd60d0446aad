package obs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestStreamCollectorReadsSnapshotsAtScrape(t *testing.T) {
	snaps := []StreamSnapshot{
		{Path: "live/a", PublisherProtocol: "rtmp", Viewers: map[string]int{"rtmp": 2, "ws-flv": 1},
			BytesIn: 1000, PacketsIn: 10, Skips: 3, Drops: 1, Republishes: 2, BufferedBytes: 500},
		{Path: "live/b", PublisherProtocol: "rtmps", Viewers: map[string]int{"rtmp": 1}, BytesIn: 7},
		{Path: "live/c", Viewers: map[string]int{}}, // in its republish grace period
	}
	calls := 0
	c := NewStreamCollector(StreamSourceFunc(func() []StreamSnapshot { calls++; return snaps }))

	want := `
# HELP sluice_streams Live streams.
# TYPE sluice_streams gauge
sluice_streams 3
# HELP sluice_publishers Connected publishers by protocol.
# TYPE sluice_publishers gauge
sluice_publishers{protocol="rtmp"} 1
sluice_publishers{protocol="rtmps"} 1
# HELP sluice_viewers Connected viewers of all streams by protocol.
# TYPE sluice_viewers gauge
sluice_viewers{protocol="rtmp"} 3
sluice_viewers{protocol="ws-flv"} 1
# HELP sluice_stream_bytes_in_total Media payload bytes published to the stream.
# TYPE sluice_stream_bytes_in_total counter
sluice_stream_bytes_in_total{path="live/a"} 1000
sluice_stream_bytes_in_total{path="live/b"} 7
sluice_stream_bytes_in_total{path="live/c"} 0
# HELP sluice_stream_reader_skips_total Times a viewer of the stream lagged and jumped to the newest keyframe.
# TYPE sluice_stream_reader_skips_total counter
sluice_stream_reader_skips_total{path="live/a"} 3
sluice_stream_reader_skips_total{path="live/b"} 0
sluice_stream_reader_skips_total{path="live/c"} 0
# HELP sluice_stream_reader_drops_total Viewers of the stream disconnected as too slow.
# TYPE sluice_stream_reader_drops_total counter
sluice_stream_reader_drops_total{path="live/a"} 1
sluice_stream_reader_drops_total{path="live/b"} 0
sluice_stream_reader_drops_total{path="live/c"} 0
# HELP sluice_stream_viewers Connected viewers of one stream by protocol.
# TYPE sluice_stream_viewers gauge
sluice_stream_viewers{path="live/a",protocol="rtmp"} 2
sluice_stream_viewers{path="live/a",protocol="ws-flv"} 1
sluice_stream_viewers{path="live/b",protocol="rtmp"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"sluice_streams", "sluice_publishers", "sluice_viewers", "sluice_stream_bytes_in_total",
		"sluice_stream_reader_skips_total", "sluice_stream_reader_drops_total", "sluice_stream_viewers"))
	require.Equal(t, 1, calls, "one snapshot per scrape")

	// Counters move with the snapshots: nothing is cached between scrapes.
	snaps[0].BytesIn = 5000
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP sluice_stream_bytes_in_total Media payload bytes published to the stream.
# TYPE sluice_stream_bytes_in_total counter
sluice_stream_bytes_in_total{path="live/a"} 5000
sluice_stream_bytes_in_total{path="live/b"} 7
sluice_stream_bytes_in_total{path="live/c"} 0
`), "sluice_stream_bytes_in_total"))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestStreamCollectorNoStreams(t *testing.T) {
	c := NewStreamCollector(StreamSourceFunc(func() []StreamSnapshot { return nil }))
	require.Equal(t, 1, testutil.CollectAndCount(c), "only sluice_streams 0")
}

func TestMetricsHandlerServesTextFormat(t *testing.T) {
	reg := NewMetricsRegistry(StreamSourceFunc(func() []StreamSnapshot {
		return []StreamSnapshot{{Path: "live/a", PublisherProtocol: "rtmp", BytesIn: 42}}
	}), "v1.2.3")
	srv := httptest.NewServer(MetricsHandler(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	body := string(b)
	for _, s := range []string{
		`sluice_stream_bytes_in_total{path="live/a"} 42`,
		`sluice_publishers{protocol="rtmp"} 1`,
		`sluice_info{version="v1.2.3"} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
		"go_build_info{",
	} {
		require.Contains(t, body, s)
	}
}
