// Command hlslatency measures two LL-HLS latencies of a running Sluice
// (bench/hls.sh runs it):
//
//   - keyframe → listed part: an FLV clip is published with
//     internal/replay, which records when each keyframe was sent; a viewer
//     follows the live edge with blocking playlist reloads
//     (RFC 8216bis §6.2.5.2 _HLS_msn/_HLS_part) and records when each new
//     INDEPENDENT part (one starting with a keyframe) is first listed.
//     Each listing is paired with the newest keyframe sent before it
//     (latencies are far below a GOP).
//   - first request → first playlist: for fresh streams (no packager yet),
//     the time of the first GET of NAME.m3u8 and of NAME.mpd.
//
// It prints JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/replay"
)

type result struct {
	Keyframes    int       `json:"keyframes"`
	KeyToPartMS  []float64 `json:"key_to_part_ms"`
	OnDemandHLS  []float64 `json:"on_demand_m3u8_ms"`
	OnDemandDASH []float64 `json:"on_demand_mpd_ms"`
}

func main() {
	clipPath := flag.String("clip", "", "FLV clip (H.264/AAC)")
	rtmpBase := flag.String("rtmp", "rtmp://127.0.0.1:1935/live", "RTMP app URL")
	httpBase := flag.String("http", "http://127.0.0.1:8080/live", "HTTP app URL")
	dur := flag.Duration("duration", 30*time.Second, "latency measurement duration")
	fresh := flag.Int("fresh", 10, "fresh streams for the on-demand measurement")
	flag.Parse()
	clip, err := replay.LoadClip(*clipPath)
	if err != nil {
		log.Fatal(err)
	}
	keyTS := map[uint32]bool{} // clip timestamps of keyframes
	for _, tag := range clip.Media {
		if tag.Type == flv.TagVideo {
			if v, err := flv.ParseVideo(tag.Body); err == nil && v.Key {
				keyTS[tag.Timestamp] = true
			}
		}
	}
	loopMS := uint32(clip.Duration / time.Millisecond)
	var res result

	// Keyframe → listed part.
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var sends []time.Time
	pub := &replay.Publisher{URL: *rtmpBase + "/lat", Clip: clip, OnSend: func(typ uint8, ts uint32, at time.Time) {
		if typ == flv.TagVideo && keyTS[ts%loopMS] {
			mu.Lock()
			sends = append(sends, at)
			mu.Unlock()
		}
	}}
	go func() {
		if err := pub.Run(ctx); err != nil {
			log.Printf("publisher: %v", err)
		}
	}()
	listings := follow(ctx, *httpBase+"/lat.m3u8", *dur)
	cancel()
	mu.Lock()
	for _, l := range listings {
		i, _ := slices.BinarySearchFunc(sends, l, func(a, b time.Time) int { return a.Compare(b) })
		if i == 0 {
			continue
		}
		if d := l.Sub(sends[i-1]); d < 2*time.Second {
			res.KeyToPartMS = append(res.KeyToPartMS, float64(d.Microseconds())/1000)
		}
	}
	res.Keyframes = len(sends)
	mu.Unlock()

	// First request → first playlist / MPD, one fresh stream each.
	for i := range *fresh {
		for _, ext := range []string{".m3u8", ".mpd"} {
			name := fmt.Sprintf("od%d%s", i, map[string]string{".m3u8": "h", ".mpd": "d"}[ext])
			ctx, cancel := context.WithCancel(context.Background())
			p := &replay.Publisher{URL: *rtmpBase + "/" + name, Clip: clip}
			go func() { _ = p.Run(ctx) }()
			waitPublished(*httpBase + "/" + name + ".flv")
			start := time.Now()
			if st, _ := get(*httpBase + "/" + name + ext); st == http.StatusOK {
				ms := float64(time.Since(start).Microseconds()) / 1000
				if ext == ".m3u8" {
					res.OnDemandHLS = append(res.OnDemandHLS, ms)
				} else {
					res.OnDemandDASH = append(res.OnDemandDASH, ms)
				}
			}
			cancel()
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

var (
	partRE = regexp.MustCompile(`#EXT-X-PART:[^\n]*URI="[^"]*_part(\d+)\.(\d+)\.m4s"[^\n]*`)
	hintRE = regexp.MustCompile(`#EXT-X-PRELOAD-HINT:[^\n]*URI="[^"]*_part(\d+)\.(\d+)\.m4s"`)
)

// follow does blocking reloads at the live edge for d and returns when
// each new INDEPENDENT part was first listed.
func follow(ctx context.Context, url string, d time.Duration) []time.Time {
	var out []time.Time
	seen := map[string]bool{}
	end := time.Now().Add(d)
	req := url
	first := true
	for time.Now().Before(end) && ctx.Err() == nil {
		st, body := get(req)
		at := time.Now()
		if st != http.StatusOK {
			time.Sleep(200 * time.Millisecond)
			req = url
			continue
		}
		for _, m := range partRE.FindAllStringSubmatch(body, -1) {
			key := m[1] + "." + m[2]
			if seen[key] {
				continue
			}
			seen[key] = true
			if !first && strings.Contains(m[0], "INDEPENDENT=YES") {
				out = append(out, at)
			}
		}
		first = false // parts of the first playlist were listed before we asked
		if h := hintRE.FindStringSubmatch(body); h != nil {
			req = url + "?_HLS_msn=" + h[1] + "&_HLS_part=" + h[2]
		} else {
			req = url
		}
	}
	return out
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// waitPublished waits until the stream plays over HTTP-FLV (published
// with tracks), reading its first bytes.
func waitPublished(url string) {
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			ok := resp.StatusCode == http.StatusOK
			resp.Body.Close()
			cancel()
			if ok {
				return
			}
		} else {
			cancel()
		}
		time.Sleep(50 * time.Millisecond)
	}
}
