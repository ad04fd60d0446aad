package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// documentedOnly are the metrics the Grafana dashboard queries that a short
// test cannot make appear: the transcoder series exist only while an ABR
// ladder's ffmpeg runs (one per source stream), which costs more CPU than
// this check is worth. For them the metric table of docs/api.md must list
// them instead. Keep this list short: every other name must be scraped.
var documentedOnly = map[string]bool{
	"sluice_transcoder_running":        true,
	"sluice_transcoder_speed":          true,
	"sluice_transcoder_restarts_total": true,
}

// TestGrafanaDashboardMetricsExist: every metric name a query of
// deploy/grafana/sluice.json uses is served by a real Sluice's /metrics
// (a cluster node with object storage; a stream published, played once
// over HTTP-FLV, one SRT handshake refused, so that the per-protocol and
// per-reason series exist), so the
// dashboard does not show "No data" for a renamed or invented metric.
func TestGrafanaDashboardMetricsExist(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	exprs, varMetrics := dashboardQueries(t)
	require.NotEmpty(t, exprs, "no expr in the dashboard")
	used := map[string]bool{}
	for _, e := range exprs {
		for _, m := range promQLMetrics(e) {
			used[m] = true
		}
	}
	for _, m := range varMetrics {
		used[m] = true
	}

	// A cluster node (real Redis) with object storage (real S3 server) and
	// recording upload, so that the cluster and upload series are
	// registered too.
	redis := testutil.StartRedis(t)
	s3 := testutil.StartS3(t)
	cfg := writeConfig(t, `storage:
  s3: { endpoint: "`+s3.Endpoint+`", bucket: `+s3.Bucket+`, access_key: `+s3.AccessKey+`, secret_key: `+s3.SecretKey+`, insecure: true }
record: { dir: "`+t.TempDir()+`", upload: true }
`)
	s := testutil.StartSluice(t, []string{"SLUICE_CLUSTER_REDIS=" + redis.URL(), "SLUICE_CLUSTER_NODE_ID=grafana"}, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/grafana", testutil.PublishOptions{})
	waitForStream(t, s, "live/grafana") // one HTTP-FLV play: sluice_viewers{protocol="http-flv"} once counted
	srtRefused(t, testutil.SRTURL(s.SRTAddr, "publish:nopath"), true)
	waitLogs(t, s, "srt connection refused", 1, 5*time.Second)

	// Hold one HTTP-FLV viewer while scraping, so that the per-protocol
	// viewer series are in the scrape.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.HTTPAddr+"/live/grafana.flv", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	go func() { _, _ = io.Copy(io.Discard, resp.Body) }() // keep up, or the hub drops it
	var scraped map[string]bool
	require.Eventually(t, func() bool {
		scraped = scrapedNames(getText(t, "http://"+s.HTTPAddr+"/metrics"))
		return scraped["sluice_stream_viewers"] && scraped["sluice_srt_refused_total"]
	}, 10*time.Second, 100*time.Millisecond, "sluice_stream_viewers and sluice_srt_refused_total never scraped")

	_, file, _, _ := runtime.Caller(0)
	apiDoc, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "docs", "api.md"))
	require.NoError(t, err)
	var missing, undocumented []string
	for m := range used {
		switch {
		case scraped[m]:
		case documentedOnly[m]:
			if !strings.Contains(string(apiDoc), "| `"+m+"` |") {
				undocumented = append(undocumented, m)
			}
		default:
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	sort.Strings(undocumented)
	require.Empty(t, missing, "metrics the dashboard queries that /metrics does not serve (used: %d names)", len(used))
	require.Empty(t, undocumented, "metrics the dashboard queries that are neither scraped here nor in docs/api.md's metric table")
	// The list of exceptions must not hide metrics the scrape has.
	for m := range documentedOnly {
		require.False(t, scraped[m], "%s is scraped: take it off documentedOnly", m)
	}
}

// dashboardQueries returns every "expr" of deploy/grafana/sluice.json and
// the metrics of its label_values() template variables.
func dashboardQueries(t *testing.T) (exprs, varMetrics []string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "deploy", "grafana", "sluice.json"))
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(b, &doc), "deploy/grafana/sluice.json is not JSON")
	labelValues := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok {
					switch k {
					case "expr":
						exprs = append(exprs, s)
					case "query", "definition":
						for _, m := range labelValues.FindAllStringSubmatch(s, -1) {
							varMetrics = append(varMetrics, m[1])
						}
					}
					continue
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	return exprs, varMetrics
}

// scrapedNames returns the metric names of a Prometheus text exposition:
// every sample's name (a histogram's _bucket, _sum and _count included)
// and every # TYPE line's.
func scrapedNames(text string) map[string]bool {
	names := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			continue
		}
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

// promQLWords are PromQL keywords: binary operators written as words,
// modifiers, and the number literals Inf and NaN.
var promQLWords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"offset": true, "start": true, "end": true, "inf": true, "nan": true,
}

// labelListWords take a parenthesized list of label names, not a
// function's arguments.
var labelListWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// aggregators are PromQL's aggregation operators, which may take their
// by/without clause before the parenthesis (sum by (x) (...)).
var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// promQLMetrics returns the metric names expr selects: the identifiers
// that are not a function or aggregation (followed by "(", or an
// aggregation followed by by/without), not a keyword,
// not a label name (inside {} or the list of by/without/on/ignoring/
// group_*), not in a string, a [range] or a Grafana $variable.
func promQLMetrics(expr string) []string {
	var out []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	// skipTo returns the index after the first close at or after i,
	// stepping over strings.
	skipTo := func(i int, closing byte) int {
		for i < len(expr) && expr[i] != closing {
			if q := expr[i]; q == '"' || q == '\'' || q == '`' {
				i++
				for i < len(expr) && expr[i] != q {
					if expr[i] == '\\' && q != '`' {
						i++
					}
					i++
				}
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '$': // Grafana variable: $name or ${name}
			i++
			if i < len(expr) && expr[i] == '{' {
				i = skipTo(i+1, '}')
				continue
			}
			for i < len(expr) && isPart(expr[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.': // number or duration (5m, 1e3, 0x1f)
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\t' || expr[k] == '\n') {
				k++
			}
			followedByParen := k < len(expr) && expr[k] == '('
			rest := strings.ToLower(expr[k:])
			clauseFirst := aggregators[strings.ToLower(word)] &&
				(strings.HasPrefix(rest, "by") || strings.HasPrefix(rest, "without")) // its clause follows
			switch {
			case labelListWords[strings.ToLower(word)] && followedByParen:
				j = skipTo(k+1, ')')
			case followedByParen, clauseFirst, promQLWords[strings.ToLower(word)]:
			default:
				out = append(out, word)
			}
			i = j
		default:
			i++
		}
	}
	return out
}

// TestGrafanaPromQLTokenizer checks promQLMetrics on the forms the
// dashboard uses and a few it may come to use.
func TestGrafanaPromQLTokenizer(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (path) (rate(sluice_stream_bytes_in_total{instance=~"$instance", path=~"$stream"}[$__rate_interval])) * 8`: {"sluice_stream_bytes_in_total"},
		`time() - max(process_start_time_seconds{instance=~"$instance"})`:                                                  {"process_start_time_seconds"},
		`a_total / ignoring(x) group_left(y) b offset 5m > bool 1e3 and on (z) c{l="{}"}`:                                  {"a_total", "b", "c"},
		`sum without (le) (h_bucket) or vector(0) unless ${var} > Inf`:                                                     {"h_bucket"},
		`histogram_quantile(0.99, sum by (le) (rate(lat_seconds_bucket[5m:1m])))`:                                          {"lat_seconds_bucket"},
	} {
		require.Equal(t, want, promQLMetrics(expr), expr)
	}
}

// TestGrafanaDashboardShape: the dashboard imports into any Grafana with a
// Prometheus data source: every panel and query uses the ${DS_PROMETHEUS}
// variable (no data source UID of the machine it was made on), and the
// instance and stream variables exist.
func TestGrafanaDashboardShape(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "deploy", "grafana", "sluice.json"))
	require.NoError(t, err)
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name, Type string
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title      string `json:"title"`
			Type       string `json:"type"`
			Datasource *struct {
				Type, UID string
			} `json:"datasource"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					Type, UID string
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	require.NotEmpty(t, d.UID)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	require.Equal(t, map[string]string{"DS_PROMETHEUS": "datasource", "instance": "query", "stream": "query"}, vars)
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotNil(t, p.Datasource, p.Title)
		require.Equal(t, "${DS_PROMETHEUS}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, q := range p.Targets {
			require.Equal(t, "${DS_PROMETHEUS}", q.Datasource.UID, p.Title)
			require.Contains(t, q.Expr, `instance=~"$instance"`, "%s: %s", p.Title, q.Expr)
			if strings.Contains(q.Expr, "by (path") { // a per-stream panel (the overview's totals are not)
				require.Contains(t, q.Expr, `path=~"$stream"`, "%s: %s", p.Title, q.Expr)
			}
		}
	}
}
