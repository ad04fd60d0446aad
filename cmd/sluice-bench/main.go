// Command sluice-bench loads a running Sluice (or any RTMP server) with one
// publisher and N viewers and reports delivery, latency and the server's
// CPU and memory.
//
// The publisher replays an FLV clip in real time and records the wall-clock
// send time of every video frame by timestamp; viewers run in the same
// process, so publish→viewer latency is measured on one clock. Viewers
// play RTMP, HTTP-FLV, WebSocket-FLV or HLS (hls.go: LL-HLS with blocking
// reloads and preload hints, or classic playlist polling); `sluice-bench
// whep` runs WebRTC viewers (whep.go) and `sluice-bench table` renders
// result files as one markdown table.
//
//	sluice-bench -clip clip.flv -rtmp rtmp://127.0.0.1:1935/live/bench \
//	    -play http://127.0.0.1:8080/live/bench.flv -viewers 100 -duration 30s -pid $(pidof sluice)
//	sluice-bench -clip clip.flv -rtmp rtmp://127.0.0.1:1935/live/bench \
//	    -play http://127.0.0.1:8080/live/bench.m3u8 -viewers 100 -duration 30s -pid $(pidof sluice)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/replay"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "whep" { // whep.go
		os.Exit(whepMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "table" {
		if err := printTable(os.Stdout, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench table:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.clip, "clip", "", "FLV clip to publish (H.264/AAC); required")
	flag.StringVar(&o.publish, "rtmp", "", "RTMP URL to publish to; required")
	flag.StringVar(&o.play, "play", "", "URL viewers play: rtmp://…, http(s)://…/x.flv (HTTP-FLV), ws(s)://…/x.flv (WebSocket-FLV) or http(s)://…/x.m3u8 (HLS: a media playlist, e.g. /APP/NAME/hls/media.m3u8 with a ladder); required")
	flag.IntVar(&o.viewers, "viewers", 10, "number of viewers")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measurement duration after all viewers connected")
	flag.DurationVar(&o.warmup, "warmup", 8*time.Second, "time after the publish starts before viewers connect and the RSS baseline is taken (let the server's buffers fill: hub.max_lag + one GOP)")
	flag.IntVar(&o.pid, "pid", 0, "server process ID to sample CPU and RSS from /proc (0: none)")
	flag.StringVar(&o.jsonOut, "json", "", "write the result as JSON to this file")
	flag.StringVar(&o.label, "label", "sluice", "name of the server under test, for the table")
	flag.StringVar(&o.proto, "proto", "", "viewer kind and table label: rtmp, http-flv, ws-flv or hls (default: from -play)")
	flag.Parse()
	if o.clip == "" || o.publish == "" || o.play == "" {
		flag.Usage()
		os.Exit(2)
	}
	if o.proto == "" {
		o.proto = protoOf(o.play)
	}
	switch o.proto {
	case "rtmp", "http-flv", "ws-flv", "hls":
	default:
		fmt.Fprintf(os.Stderr, "sluice-bench: unknown -proto %q (rtmp, http-flv, ws-flv, hls)\n", o.proto)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench:", err)
		os.Exit(1)
	}
	fmt.Print(res.Markdown())
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			os.Exit(1)
		}
	}
}

type options struct {
	clip, publish, play string
	viewers             int
	duration, warmup    time.Duration
	pid                 int
	jsonOut             string
	label, proto        string
}

// sendLog maps a video timestamp to the wall-clock time it was sent.
// startPublisher replays clip to url until stop (or ctx ends), recording
// the send time of every video frame in sends (and calling onVideo, if
// set), and waits warmup before returning; pubErr reports the publisher's
// end. stop is nil when err is not.
func startPublisher(ctx context.Context, url string, clip *replay.Clip, warmup time.Duration,
	sends *sendLog, onVideo func()) (pub *replay.Publisher, pubErr <-chan error, stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	pub = &replay.Publisher{URL: url, Clip: clip, OnSend: func(typ uint8, ts uint32, at time.Time) {
		if typ == 9 { // FLV video tag
			sends.record(ts, at)
			if onVideo != nil {
				onVideo()
			}
		}
	}}
	errc := make(chan error, 1)
	go func() { errc <- pub.Run(ctx) }()
	select {
	case <-time.After(warmup):
		return pub, errc, cancel, nil
	case err := <-errc:
		cancel()
		return nil, nil, nil, fmt.Errorf("publisher: %w", err)
	}
}

type sendLog struct {
	mu   sync.RWMutex
	sent map[uint32]time.Time
	last uint32
}

func (l *sendLog) record(ts uint32, at time.Time) {
	l.mu.Lock()
	l.sent[ts] = at
	l.last = max(l.last, ts)
	l.mu.Unlock()
}

// latest returns the newest timestamp sent.
func (l *sendLog) latest() uint32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.last
}

func (l *sendLog) lookup(ts uint32) (time.Time, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	t, ok := l.sent[ts]
	return t, ok
}

// protoOf guesses the viewer kind from the play URL.
func protoOf(play string) string {
	switch {
	case strings.HasPrefix(play, "rtmp"):
		return "rtmp"
	case strings.HasPrefix(play, "ws"):
		return "ws-flv"
	case strings.Contains(play, ".m3u8"):
		return "hls"
	}
	return "http-flv"
}

// newHTTPClient returns the client every HTTP viewer shares: one idle
// connection kept per viewer (HLS viewers make one request at a time).
func newHTTPClient(viewers int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: max(viewers, 2) * 2, // MaxIdleConns 0: no total limit
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

func run(ctx context.Context, o options) (*Result, error) {
	if o.proto == "" {
		o.proto = protoOf(o.play)
	}
	clip, err := replay.LoadClip(o.clip)
	if err != nil {
		return nil, err
	}
	index := newClipIndex(clip)
	client := newHTTPClient(o.viewers)
	defer client.CloseIdleConnections()
	sends := &sendLog{sent: make(map[uint32]time.Time)}
	pub, pubErr, stopPub, err := startPublisher(ctx, o.publish, clip, o.warmup, sends, nil)
	if err != nil {
		return nil, err
	}
	defer stopPub()

	cpu0, _ := readCPU(o.pid)
	rss0, _ := readRSS(o.pid)
	vctx, cancelViewers := context.WithTimeout(ctx, o.duration+10*time.Second)
	defer cancelViewers()
	viewers := make([]*viewer, o.viewers)
	var wg sync.WaitGroup
	for i := range viewers {
		v := &viewer{url: o.play, proto: o.proto, sends: sends, client: client, clip: index}
		viewers[i] = v
		wg.Add(1)
		go func() { defer wg.Done(); v.run(vctx) }()
	}
	// Measure from when every viewer has its first video frame: a server
	// without a GOP cache makes viewers wait for the next keyframe, which is
	// reported as time to first frame, not as falling behind.
	waitAll(len(viewers), func(i int) bool { return viewers[i].gotFrame.Load() || viewers[i].failed.Load() }, 30*time.Second)
	start := time.Now()
	pubBytes0 := pub.BytesSent()
	for _, v := range viewers {
		v.startMeasure(start)
	}
	peakRSS := rss0
	ticker := time.NewTicker(500 * time.Millisecond)
	end := start.Add(o.duration)
	for time.Now().Before(end) {
		select {
		case <-ticker.C:
			if r, err := readRSS(o.pid); err == nil && r > peakRSS {
				peakRSS = r
			}
		case err := <-pubErr:
			return nil, fmt.Errorf("publisher stopped: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ticker.Stop()
	elapsed := time.Since(start)
	pubBytes := pub.BytesSent() - pubBytes0
	cpu1, _ := readCPU(o.pid)
	for _, v := range viewers {
		v.stopMeasure()
	}
	cancelViewers()
	wg.Wait()

	res := &Result{
		Server: o.label, Proto: o.proto,
		Play: o.play, Viewers: o.viewers, Seconds: elapsed.Seconds(),
		PublishBitrateKbps: float64(pubBytes) * 8 / elapsed.Seconds() / 1000,
		ServerPID:          o.pid,
	}
	var lat, ttff []time.Duration
	var ratios []float64
	for _, v := range viewers {
		v.mu.Lock()
		switch {
		case v.failed.Load() && !v.connected.Load():
			res.Failed++
			if res.FirstError == "" {
				res.FirstError = v.err
			}
		default:
			res.Connected++
		}
		if pubBytes > 0 {
			ratios = append(ratios, float64(v.measuredBytes)/float64(pubBytes))
		}
		// Chunked delivery (HLS) brings the bytes of a window up to one
		// chunk early or late: allow one chunk's worth.
		expect := 0.95 * float64(pubBytes) * max(0, 1-v.granularity.Seconds()/elapsed.Seconds())
		if float64(v.measuredBytes) < expect {
			res.FallingBehind++
		}
		if v.hlsMode != "" && res.HLSMode == "" {
			res.HLSMode = v.hlsMode
		}
		res.Stalls += v.stalls
		if v.gotFrame.Load() {
			ttff = append(ttff, v.firstFrame)
		}
		lat = append(lat, v.latencies...)
		v.mu.Unlock()
	}
	res.LatencyMedianMS, res.LatencyP99MS, res.LatencyMaxMS = percentiles(lat)
	res.FirstFrameMedianMS, res.FirstFrameP99MS, _ = percentiles(ttff)
	if len(ratios) > 0 {
		sort.Float64s(ratios)
		res.ReceivedRatioMin, res.ReceivedRatioMedian = ratios[0], ratios[len(ratios)/2]
	}
	if o.pid > 0 {
		res.ServerCPUSeconds = cpu1 - cpu0
		res.ServerCPUPercent = 100 * res.ServerCPUSeconds / elapsed.Seconds()
		res.ServerRSSStartMB = float64(rss0) / (1 << 20)
		res.ServerRSSPeakMB = float64(peakRSS) / (1 << 20)
		if o.viewers > 0 {
			res.RSSPerViewerKB = float64(peakRSS-rss0) / 1024 / float64(o.viewers)
		}
	}
	return res, nil
}

func percentiles(d []time.Duration) (median, p99, maxv float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	return ms(d[len(d)/2]), ms(d[(len(d)*99)/100]), ms(d[len(d)-1])
}

// Result is one run's report.
type Result struct {
	Server string `json:"server"`
	Proto  string `json:"proto"`
	Play   string `json:"play"`
	// HLSMode is what the HLS viewers played, e.g. "ll-hls fmp4" or
	// "hls mpegts".
	HLSMode             string  `json:"hls_mode,omitempty"`
	Viewers             int     `json:"viewers"`
	Connected           int     `json:"connected"`
	Failed              int     `json:"failed"`
	FirstError          string  `json:"first_error,omitempty"`
	FallingBehind       int     `json:"falling_behind"`
	ReceivedRatioMin    float64 `json:"received_ratio_min"`
	ReceivedRatioMedian float64 `json:"received_ratio_median"`
	Stalls              int     `json:"stalls"`
	Seconds             float64 `json:"seconds"`
	PublishBitrateKbps  float64 `json:"publish_bitrate_kbps"`
	LatencyMedianMS     float64 `json:"latency_median_ms"`
	LatencyP99MS        float64 `json:"latency_p99_ms"`
	LatencyMaxMS        float64 `json:"latency_max_ms"`
	// FirstFrame*: from the play request to the first video frame.
	FirstFrameMedianMS float64 `json:"first_frame_median_ms"`
	FirstFrameP99MS    float64 `json:"first_frame_p99_ms"`
	ServerPID          int     `json:"server_pid,omitempty"`
	ServerCPUSeconds   float64 `json:"server_cpu_seconds"`
	ServerCPUPercent   float64 `json:"server_cpu_percent"`
	ServerRSSStartMB   float64 `json:"server_rss_start_mb"`
	ServerRSSPeakMB    float64 `json:"server_rss_peak_mb"`
	RSSPerViewerKB     float64 `json:"rss_per_viewer_kb"`
}

// Markdown renders the result as a table row with its header.
func (r *Result) Markdown() string {
	var b strings.Builder
	b.WriteString("| play | viewers | connected | failed | behind | stalls | publish kb/s | latency p50 ms | p99 ms | max ms | server CPU % | RSS start MB | RSS peak MB | RSS/viewer KB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n",
		r.Play, r.Viewers, r.Connected, r.Failed, r.FallingBehind, r.Stalls, r.PublishBitrateKbps,
		r.LatencyMedianMS, r.LatencyP99MS, r.LatencyMaxMS, r.ServerCPUPercent, r.ServerRSSStartMB, r.ServerRSSPeakMB, r.RSSPerViewerKB)
	if r.FirstError != "" {
		fmt.Fprintf(&b, "\nfirst viewer error: %s\n", r.FirstError)
	}
	return b.String()
}

// waitAll polls until ready(i) holds for every i < n, or timeout passes.
func waitAll(n int, ready func(i int) bool, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		all := true
		for i := 0; i < n && all; i++ {
			all = ready(i)
		}
		if all {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
