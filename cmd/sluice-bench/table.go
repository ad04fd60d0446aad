package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// printTable reads result JSON files (of the viewer runs and of `whep`)
// and prints one markdown table, with Sluice ÷ nginx-rtmp ratios where
// both ran the same load.
func printTable(w io.Writer, files []string) error {
	var results []*Result
	var notes []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		r := &Result{}
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if r.Proto == "" { // a `whep` result
			wr := &WHEPResult{}
			if err := json.Unmarshal(b, wr); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			r = wr.asResult()
			notes = append(notes, fmt.Sprintf("whep %d viewers: video %.1f fps and %.0f kb/s (RTP payload, Opus audio) per viewer (median) for %.0f kb/s published; the AAC→Opus ffmpeg bridge used %.1f %% CPU besides the server's.",
				wr.Viewers, wr.VideoFPSMedian, wr.ReceivedKbpsMedian, wr.PublishBitrateKbps, wr.ChildrenCPUPercent))
		}
		results = append(results, r)
	}
	sort.SliceStable(results, func(i, j int) bool {
		a, b := results[i], results[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.Viewers != b.Viewers {
			return a.Viewers < b.Viewers
		}
		return a.Server > b.Server // sluice before nginx-rtmp
	})
	type key struct {
		proto   string
		viewers int
	}
	byKey := map[key]map[string]*Result{}
	for _, r := range results {
		k := key{r.Proto, r.Viewers}
		if byKey[k] == nil {
			byKey[k] = map[string]*Result{}
		}
		byKey[k][r.Server] = r
	}
	fmt.Fprintln(w, "| protocol | viewers | server | connected | failed | behind | stalls | latency p50 / p99 ms | first frame p50 / p99 ms | CPU % | CPU ms/s per viewer | RSS peak MB | RSS KB per viewer | CPU ratio | RSS/viewer ratio |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		cpuRatio, rssRatio := "", ""
		if strings.HasPrefix(r.Server, "sluice") {
			if n := byKey[key{r.Proto, r.Viewers}]["nginx-rtmp"]; n != nil {
				if n.ServerCPUPercent > 0 {
					cpuRatio = fmt.Sprintf("%.2f×", r.ServerCPUPercent/n.ServerCPUPercent)
				}
				if n.RSSPerViewerKB > 0 {
					rssRatio = fmt.Sprintf("%.2f×", r.RSSPerViewerKB/n.RSSPerViewerKB)
				}
			}
		}
		perViewer := 0.0
		if r.Viewers > 0 {
			perViewer = 10 * r.ServerCPUPercent / float64(r.Viewers) // % of a core → ms of CPU per second
		}
		proto := r.Proto
		if r.HLSMode != "" {
			proto += " (" + r.HLSMode + ")"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %d | %d | %d | %d | %.1f / %.1f | %.0f / %.0f | %.1f | %.3f | %.1f | %.1f | %s | %s |\n",
			proto, r.Viewers, r.Server, r.Connected, r.Failed, r.FallingBehind, r.Stalls,
			r.LatencyMedianMS, r.LatencyP99MS, r.FirstFrameMedianMS, r.FirstFrameP99MS, r.ServerCPUPercent, perViewer, r.ServerRSSPeakMB, r.RSSPerViewerKB, cpuRatio, rssRatio)
	}
	if len(notes) > 0 {
		sort.Strings(notes)
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
	return nil
}

// asResult maps a `whep` result onto a table row (Sluice only: nginx-rtmp
// has no WebRTC).
func (r *WHEPResult) asResult() *Result {
	return &Result{
		Server: "sluice", Proto: "whep", Viewers: r.Viewers, Connected: r.Connected, Failed: r.Failed,
		FirstError: r.FirstError, FallingBehind: r.Behind, Stalls: r.Stalls, Seconds: r.Seconds,
		PublishBitrateKbps: r.PublishBitrateKbps,
		LatencyMedianMS:    r.LatencyMedianMS, LatencyP99MS: r.LatencyP99MS, LatencyMaxMS: r.LatencyMaxMS,
		FirstFrameMedianMS: r.FirstFrameMedianMS, FirstFrameP99MS: r.FirstFrameP99MS,
		ServerCPUPercent: r.ServerCPUPercent, ServerRSSStartMB: r.ServerRSSStartMB,
		ServerRSSPeakMB: r.ServerRSSPeakMB, RSSPerViewerKB: r.RSSPerViewerKB,
	}
}
