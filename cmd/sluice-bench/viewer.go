package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// stallGap is the media gap that counts as a stall.
const stallGap = time.Second

// viewer plays one stream and measures what it receives.
type viewer struct {
	url   string
	sends *sendLog

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
	if strings.HasPrefix(v.url, "rtmp") {
		err = v.playRTMP(ctx)
	} else {
		err = v.playHTTPFLV(ctx)
	}
	if err != nil && ctx.Err() == nil {
		v.fail(err)
	}
}

// onTag accounts one received media tag.
func (v *viewer) onTag(typ uint8, ts uint32, body []byte) {
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if typ == flv.TagVideo && !v.gotFrame.Load() {
		v.firstFrame = now.Sub(v.started)
		v.gotFrame.Store(true)
	}
	if !v.measuring {
		return
	}
	v.measuredBytes += uint64(len(body))
	if typ != flv.TagVideo {
		return
	}
	if !v.lastArrival.IsZero() && now.Sub(v.lastArrival) > stallGap {
		v.stalls++
	}
	v.lastArrival = now
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
	r := flv.NewReader(resp.Body, 32<<20)
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
