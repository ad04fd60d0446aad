package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// stallGap is the media gap that counts as a stall.
const stallGap = time.Second

// viewer plays one stream and measures what it receives.
type viewer struct {
	url   string
	proto string // rtmp, http-flv, ws-flv, hls
	sends *sendLog
	// HLS viewers: the shared HTTP client and the clip's frame index to
	// align their timeline with the publisher's (align.go).
	client *http.Client
	clip   *clipIndex
	// hlsMode describes what the HLS viewer found, e.g. "ll-hls fmp4".
	hlsMode string

	connected atomic.Bool
	failed    atomic.Bool
	// gotFrame is set at the first video frame; firstFrame is how long it
	// took from the request.
	gotFrame   atomic.Bool
	started    time.Time
	firstFrame time.Duration

	mu            sync.Mutex
	err           string
	measuring     bool
	measureStart  time.Time
	measuredBytes uint64
	latencies     []time.Duration
	stalls        int
	lastArrival   time.Time
	// granularity is the longest media duration delivered at once (an HLS
	// segment or part; 0 for streaming protocols): bytes arrive in steps
	// of that size, which the "behind" check allows for.
	granularity time.Duration
}

func (v *viewer) startMeasure(at time.Time) {
	v.mu.Lock()
	v.measuring, v.measureStart = true, at
	v.mu.Unlock()
}

func (v *viewer) stopMeasure() {
	v.mu.Lock()
	v.measuring = false
	v.mu.Unlock()
}

func (v *viewer) fail(err error) {
	v.mu.Lock()
	if v.err == "" {
		v.err = err.Error()
	}
	v.mu.Unlock()
	v.failed.Store(true)
}

func (v *viewer) run(ctx context.Context) {
	v.started = time.Now()
	var err error
	switch v.proto {
	case "rtmp":
		err = v.playRTMP(ctx)
	case "ws-flv":
		err = v.playWSFLV(ctx)
	case "hls":
		err = v.playHLS(ctx)
	default:
		err = v.playHTTPFLV(ctx)
	}
	if err != nil && ctx.Err() == nil {
		v.fail(err)
	}
}

// onTag accounts one received media tag.
func (v *viewer) onTag(typ uint8, ts uint32, body []byte) {
	v.onMedia(typ == flv.TagVideo, len(body), ts, true, time.Now(), 0)
}

// onMedia accounts one received frame of n payload bytes that arrived at
// now; for video, ts is its RTMP timestamp when known (tsOK). slack is the
// media duration the previous delivery carried (an HLS segment or part):
// frames that come in chunks arrive that much apart without a stall, so
// the stall gap counts from there.
func (v *viewer) onMedia(video bool, n int, ts uint32, tsOK bool, now time.Time, slack time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if video && !v.gotFrame.Load() {
		v.firstFrame = now.Sub(v.started)
		v.gotFrame.Store(true)
	}
	if !v.measuring {
		return
	}
	v.measuredBytes += uint64(n)
	if !video {
		return
	}
	if !v.lastArrival.IsZero() && now.Sub(v.lastArrival) > stallGap+slack {
		v.stalls++
	}
	v.lastArrival = now
	if !tsOK {
		return
	}
	if sent, ok := v.sends.lookup(ts); ok && sent.After(v.measureStart) {
		v.latencies = append(v.latencies, now.Sub(sent))
	}
}

func (v *viewer) playHTTPFLV(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", v.url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", v.url, resp.Status)
	}
	return v.readFLV(resp.Body)
}

// playWSFLV plays WebSocket-FLV: the same FLV stream in binary messages.
func (v *viewer) playWSFLV(ctx context.Context) error {
	c, resp, err := websocket.Dial(ctx, v.url, &websocket.DialOptions{HTTPClient: v.client})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("websocket %s: %s: %w", v.url, resp.Status, err)
		}
		return err
	}
	c.SetReadLimit(-1)
	defer c.CloseNow()
	return v.readFLV(websocket.NetConn(ctx, c, websocket.MessageBinary))
}

// readFLV reads an FLV stream to its end.
func (v *viewer) readFLV(body io.Reader) error {
	r := flv.NewReader(body, 32<<20)
	if _, _, err := r.ReadHeader(); err != nil {
		return err
	}
	v.connected.Store(true)
	for {
		tag, err := r.ReadTag()
		if err == io.EOF {
			return fmt.Errorf("stream ended")
		}
		if err != nil {
			return err
		}
		v.onTag(tag.Type, tag.Timestamp, tag.Body)
	}
}

func (v *viewer) playRTMP(ctx context.Context) error {
	c, err := rtmp.Dial(ctx, v.url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Play(ctx); err != nil {
		return err
	}
	v.connected.Store(true)
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if m.Type == rtmp.MsgVideo || m.Type == rtmp.MsgAudio {
			v.onTag(m.Type, m.Timestamp, m.Payload)
		}
	}
}
