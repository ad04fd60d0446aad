package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"

	"github.com/sluicemedia/sluice/internal/replay"
)

// whepOptions configure `sluice-bench whep`.
type whepOptions struct {
	clip, publish, whep string
	viewers             int
	duration, warmup    time.Duration
	pid                 int
	logFile             string
	jsonOut             string
}

// WHEPResult is what `sluice-bench whep` measures.
type WHEPResult struct {
	Viewers, Connected, Failed int
	FirstError                 string `json:",omitempty"`
	Seconds                    float64
	// Time from the WHEP POST to the first video RTP packet and to the
	// first complete frame (marker bit).
	FirstPacketMedianMS, FirstPacketP99MS float64
	FirstFrameMedianMS, FirstFrameP99MS   float64
	// Per viewer during the measurement.
	VideoFPSMedian, AudioPPSMedian float64
	// Server and its child processes (the AAC→Opus ffmpeg bridge).
	ServerCPUPercent, ChildrenCPUPercent float64
	ServerRSSMB                          float64
	// From the server's debug log ("whep frame sent", -log): hub arrival
	// of a live frame to the RTP send of its last packet.
	SendLatencyMedianMS, SendLatencyP99MS, SendLatencyMaxMS float64
	SendLatencySamples                                      int
	// Publish → viewer latency of video frames (publisher write → last
	// RTP packet of the frame read by the viewer, one clock; RTP
	// timestamps aligned as in align.go), over the measurement.
	LatencyMedianMS, LatencyP99MS, LatencyMaxMS float64
	// Stalls: gaps > 1 s between complete video frames. Behind: viewers
	// that got < 95 % of the video frames published in the window.
	Stalls, Behind int
	// RTP payload bytes received per viewer (video + Opus audio), median,
	// and the published FLV payload bit rate (video + AAC audio).
	ReceivedKbpsMedian, PublishBitrateKbps float64
	// Server RSS after warm-up, peak during the window, and the growth
	// per viewer.
	ServerRSSStartMB, ServerRSSPeakMB, RSSPerViewerKB float64
}

// whepMain runs `sluice-bench whep`: one RTMP publisher (FLV clip replayed
// in real time, H.264 + AAC) and N pion WHEP viewers in this process.
func whepMain(args []string) int {
	var o whepOptions
	fs := flag.NewFlagSet("whep", flag.ExitOnError)
	fs.StringVar(&o.clip, "clip", "", "FLV clip to publish (H.264/AAC); required")
	fs.StringVar(&o.publish, "rtmp", "", "RTMP URL to publish to; required")
	fs.StringVar(&o.whep, "whep", "", "WHEP endpoint, http://H/APP/NAME/whep; required")
	fs.IntVar(&o.viewers, "viewers", 20, "number of WHEP viewers")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measurement duration after every viewer got a frame")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "time after the publish starts before viewers connect")
	fs.IntVar(&o.pid, "pid", 0, "server process ID to sample CPU from /proc (0: none)")
	fs.StringVar(&o.logFile, "log", "", "server JSON log (debug level) to read the per-frame send latency from")
	fs.StringVar(&o.jsonOut, "json", "", "write the result as JSON to this file")
	_ = fs.Parse(args)
	if o.clip == "" || o.publish == "" || o.whep == "" {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := runWHEP(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench whep:", err)
		return 1
	}
	fmt.Print(res.Markdown())
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench whep:", err)
			return 1
		}
	}
	return 0
}

// whepViewer is one pion WHEP client counting what it receives.
type whepViewer struct {
	pc                      *pion.PeerConnection
	posted                  time.Time
	firstPacket, firstFrame time.Duration
	gotFrame, failed        atomic.Bool
	frames, audio           atomic.Int64
	bytes                   atomic.Int64
	err                     string
	wg                      sync.WaitGroup

	// Measurement, guarded by mu.
	mu           sync.Mutex
	align        aligner
	measuring    bool
	measureStart time.Time
	latencies    []time.Duration
	stalls       int
	lastFrame    time.Time
}

func (v *whepViewer) startMeasure(at time.Time) {
	v.mu.Lock()
	v.measuring, v.measureStart = true, at
	v.mu.Unlock()
}

func (v *whepViewer) stopMeasure() {
	v.mu.Lock()
	v.measuring = false
	v.mu.Unlock()
}

func newWHEPAPI() *pion.API {
	me := &pion.MediaEngine{}
	_ = me.RegisterDefaultCodecs()
	se := pion.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se))
}

func (v *whepViewer) start(api *pion.API, url string, ix *clipIndex, sends *sendLog) error {
	v.align = aligner{ix: ix, sends: sends}
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return err
	}
	v.pc = pc
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			video := tr.Kind() == pion.RTPCodecTypeVideo
			// RTP timestamps unwrapped to 64 bits, and the first coded
			// slice of the current frame while the timeline is not aligned.
			var ext int64
			var last uint32
			started := false
			depack := &codecs.H264Packet{IsAVC: true}
			var vcl []byte
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				v.bytes.Add(int64(len(p.Payload)))
				if !video {
					v.audio.Add(1)
					continue
				}
				now := time.Now()
				if !started {
					ext, last, started = int64(p.Timestamp), p.Timestamp, true
				} else {
					ext += int64(int32(p.Timestamp - last))
					last = p.Timestamp
				}
				mu.Lock()
				if v.firstPacket == 0 {
					v.firstPacket = time.Since(v.posted)
				}
				if p.Marker {
					if v.firstFrame == 0 {
						v.firstFrame = time.Since(v.posted)
						v.gotFrame.Store(true)
					}
					v.frames.Add(1)
				}
				mu.Unlock()
				v.mu.Lock()
				if !v.align.ok && vcl == nil {
					if out, err := depack.Unmarshal(p.Payload); err == nil && len(out) > 0 {
						if n := firstVCLLengthPrefixed(out, 4); n != nil {
							vcl = append([]byte(nil), n...)
						}
					}
				}
				if p.Marker {
					ts, ok := v.align.rtmpTS(ext/90, now, func() []byte { return vcl })
					vcl = nil
					if v.measuring {
						if !v.lastFrame.IsZero() && now.Sub(v.lastFrame) > stallGap {
							v.stalls++
						}
						v.lastFrame = now
						if ok {
							if sent, found := v.align.sends.lookup(ts); found && sent.After(v.measureStart) {
								v.latencies = append(v.latencies, now.Sub(sent))
							}
						}
					}
				}
				v.mu.Unlock()
			}
		}()
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	v.posted = time.Now()
	resp, err := http.Post(url, "application/sdp", strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, strings.TrimSpace(string(answer)))
	}
	return pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)})
}

func (v *whepViewer) close() {
	if v.pc != nil {
		_ = v.pc.Close()
	}
	v.wg.Wait()
}

func runWHEP(ctx context.Context, o whepOptions) (*WHEPResult, error) {
	clip, err := replay.LoadClip(o.clip)
	if err != nil {
		return nil, err
	}
	ix := newClipIndex(clip)
	sends := &sendLog{sent: make(map[uint32]time.Time)}
	var pubFrames atomic.Int64
	pub, pubErr, stopPub, err := startPublisher(ctx, o.publish, clip, o.warmup, sends, func() { pubFrames.Add(1) })
	if err != nil {
		return nil, err
	}
	defer stopPub()

	rss0, _ := readRSS(o.pid)
	api := newWHEPAPI()
	viewers := make([]*whepViewer, o.viewers)
	var wg sync.WaitGroup
	for i := range viewers {
		v := &whepViewer{}
		viewers[i] = v
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := v.start(api, o.whep, ix, sends); err != nil {
				v.err = err.Error()
				v.failed.Store(true)
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, v := range viewers {
			v.close()
		}
	}()
	waitAll(len(viewers), func(i int) bool { return viewers[i].gotFrame.Load() || viewers[i].failed.Load() }, 30*time.Second)

	cpu0, _ := readCPU(o.pid)
	kids0 := childrenCPU(o.pid)
	frames0 := make([]int64, len(viewers))
	audio0 := make([]int64, len(viewers))
	bytes0 := make([]int64, len(viewers))
	start := time.Now()
	for i, v := range viewers {
		frames0[i], audio0[i], bytes0[i] = v.frames.Load(), v.audio.Load(), v.bytes.Load()
		v.startMeasure(start)
	}
	pubFrames0, pubBytes0 := pubFrames.Load(), pub.BytesSent()
	peakRSS := rss0
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for end := start.Add(o.duration); time.Now().Before(end); {
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
	elapsed := time.Since(start).Seconds()
	cpu1, _ := readCPU(o.pid)
	kids1 := childrenCPU(o.pid)
	rss, _ := readRSS(o.pid)
	peakRSS = max(peakRSS, rss)
	published := pubFrames.Load() - pubFrames0
	for _, v := range viewers {
		v.stopMeasure()
	}

	res := &WHEPResult{Viewers: o.viewers, Seconds: elapsed,
		PublishBitrateKbps: float64(pub.BytesSent()-pubBytes0) * 8 / elapsed / 1000}
	var pkt, frm, lat []time.Duration
	var fps, pps, kbps []float64
	for i, v := range viewers {
		if !v.gotFrame.Load() {
			res.Failed++
			if res.FirstError == "" {
				res.FirstError = v.err
			}
			continue
		}
		res.Connected++
		pkt = append(pkt, v.firstPacket)
		frm = append(frm, v.firstFrame)
		fps = append(fps, float64(v.frames.Load()-frames0[i])/elapsed)
		pps = append(pps, float64(v.audio.Load()-audio0[i])/elapsed)
		kbps = append(kbps, float64(v.bytes.Load()-bytes0[i])*8/elapsed/1000)
		if float64(v.frames.Load()-frames0[i]) < 0.95*float64(published) {
			res.Behind++
		}
		v.mu.Lock()
		lat = append(lat, v.latencies...)
		res.Stalls += v.stalls
		v.mu.Unlock()
	}
	res.LatencyMedianMS, res.LatencyP99MS, res.LatencyMaxMS = percentiles(lat)
	res.ReceivedKbpsMedian = medianF(kbps)
	res.FirstPacketMedianMS, res.FirstPacketP99MS, _ = percentiles(pkt)
	res.FirstFrameMedianMS, res.FirstFrameP99MS, _ = percentiles(frm)
	res.VideoFPSMedian, res.AudioPPSMedian = medianF(fps), medianF(pps)
	if o.pid > 0 {
		res.ServerCPUPercent = 100 * (cpu1 - cpu0) / elapsed
		res.ChildrenCPUPercent = 100 * (kids1 - kids0) / elapsed
		res.ServerRSSMB = float64(rss) / (1 << 20)
		res.ServerRSSStartMB = float64(rss0) / (1 << 20)
		res.ServerRSSPeakMB = float64(peakRSS) / (1 << 20)
		if o.viewers > 0 {
			res.RSSPerViewerKB = (float64(peakRSS) - float64(rss0)) / 1024 / float64(o.viewers)
		}
	}
	if o.logFile != "" {
		lat, err := sendLatencies(o.logFile)
		if err != nil {
			return nil, err
		}
		res.SendLatencySamples = len(lat)
		res.SendLatencyMedianMS, res.SendLatencyP99MS, res.SendLatencyMaxMS = percentiles(lat)
	}
	return res, nil
}

// childrenCPU sums the CPU seconds of pid's child processes (the ffmpeg
// bridges), from /proc/PID/task/*/children.
func childrenCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	total := 0.0
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				if s, err := readCPU(c); err == nil {
					total += s
				}
			}
		}
	}
	return total
}

// sendLatencies reads the latency_us of every "whep frame sent" line of a
// JSON server log.
func sendLatencies(file string) ([]time.Duration, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"whep frame sent"`) {
			continue
		}
		var line struct {
			LatencyUS int64 `json:"latency_us"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			out = append(out, time.Duration(line.LatencyUS)*time.Microsecond)
		}
	}
	return out, sc.Err()
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return c[len(c)/2]
}

// Markdown renders the result as a small table.
func (r *WHEPResult) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| WHEP viewers | connected | behind | stalls | TTF packet med/p99 ms | TTF frame med/p99 ms | fps/viewer | audio pkt/s | kb/s per viewer (published) | publish → viewer latency med/p99/max ms | server CPU %% | ffmpeg CPU %% | RSS MB | send latency med/p99/max ms (n) |\n")
	fmt.Fprintf(&b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %.0f / %.0f | %.0f / %.0f | %.1f | %.1f | %.0f (%.0f) | %.1f / %.1f / %.1f | %.1f | %.1f | %.0f | %.2f / %.2f / %.2f (%d) |\n",
		r.Viewers, r.Connected, r.Behind, r.Stalls, r.FirstPacketMedianMS, r.FirstPacketP99MS, r.FirstFrameMedianMS, r.FirstFrameP99MS,
		r.VideoFPSMedian, r.AudioPPSMedian, r.ReceivedKbpsMedian, r.PublishBitrateKbps,
		r.LatencyMedianMS, r.LatencyP99MS, r.LatencyMaxMS, r.ServerCPUPercent, r.ChildrenCPUPercent, r.ServerRSSMB,
		r.SendLatencyMedianMS, r.SendLatencyP99MS, r.SendLatencyMaxMS, r.SendLatencySamples)
	if r.FirstError != "" {
		fmt.Fprintf(&b, "\nfirst error: %s\n", r.FirstError)
	}
	return b.String()
}
