// Package replay publishes an FLV clip to an RTMP URL in real time, looping
// it with continuous timestamps. Tests and sluice-bench use it as a
// publisher whose every frame's send time is known.
package replay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// Clip is an FLV file in memory, split into its configuration (metadata and
// sequence headers) and its media tags.
type Clip struct {
	// Config holds the script and sequence-header tags, sent once.
	Config []flv.Tag
	// Media holds audio and video frames in file order.
	Media []flv.Tag
	// Duration is one loop's length: the last timestamp plus one frame.
	Duration time.Duration
}

// LoadClip reads an FLV file.
func LoadClip(path string) (*Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := flv.NewReader(f, 64<<20)
	if _, _, err := r.ReadHeader(); err != nil {
		return nil, fmt.Errorf("replay: %s: %w", path, err)
	}
	c := &Clip{}
	var last uint32
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("replay: %s: %w", path, err)
		}
		if isConfig(tag) {
			c.Config = append(c.Config, tag)
			continue
		}
		c.Media = append(c.Media, tag)
		last = max(last, tag.Timestamp)
	}
	if len(c.Media) == 0 {
		return nil, fmt.Errorf("replay: %s has no media", path)
	}
	c.Duration = time.Duration(last)*time.Millisecond + 40*time.Millisecond
	return c, nil
}

func isConfig(tag flv.Tag) bool {
	switch tag.Type {
	case flv.TagScript:
		return true
	case flv.TagVideo:
		v, err := flv.ParseVideo(tag.Body)
		return err == nil && v.PacketType == flv.SequenceHeader
	case flv.TagAudio:
		a, err := flv.ParseAudio(tag.Body)
		return err == nil && a.PacketType == flv.SequenceHeader
	}
	return false
}

// Publisher sends a Clip to URL until its context ends.
type Publisher struct {
	URL  string
	Clip *Clip
	TLS  *tls.Config
	// OnSend, if set, is called after each media tag is written with the
	// timestamp it was sent with and the wall-clock send time.
	OnSend func(typ uint8, ts uint32, sent time.Time)
	// StartTimestamp is added to every media timestamp, wrapping at 2^32
	// ms as RTMP's do (e.g. 2^32 − 5000 for an encoder whose clock wraps
	// five seconds in). Default 0.
	StartTimestamp uint32

	bytes atomic.Uint64
}

// BytesSent returns the media payload bytes written so far.
func (p *Publisher) BytesSent() uint64 { return p.bytes.Load() }

// Run dials, publishes and sends the clip in real time, looping. It returns
// nil when ctx ends, or the first error.
func (p *Publisher) Run(ctx context.Context) error {
	c, err := rtmp.Dial(ctx, p.URL, p.TLS)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Publish(ctx); err != nil {
		return err
	}
	for _, tag := range p.Clip.Config {
		typ := tag.Type
		if typ == flv.TagScript {
			typ = rtmp.MsgDataAMF0
		}
		if err := c.WriteMessage(&rtmp.Message{Type: typ, Payload: tag.Body}); err != nil {
			return err
		}
	}
	start := time.Now()
	for loop := 0; ; loop++ {
		base := time.Duration(loop) * p.Clip.Duration
		for _, tag := range p.Clip.Media {
			at := base + time.Duration(tag.Timestamp)*time.Millisecond
			if d := time.Until(start.Add(at)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return nil
				}
			}
			ts := p.StartTimestamp + uint32(at/time.Millisecond) // wraps like the wire field
			if err := c.WriteMessage(&rtmp.Message{Type: tag.Type, Timestamp: ts, Payload: tag.Body}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			p.bytes.Add(uint64(len(tag.Body)))
			if p.OnSend != nil {
				p.OnSend(tag.Type, ts, time.Now())
			}
		}
	}
}
