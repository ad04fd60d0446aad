package dashserver

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/sluicemedia/sluice/internal/packager"
)

// Track IDs the packager gives its tracks; DASH files name them v and a.
const (
	trackVideo = 1
	trackAudio = 2
)

// Cache bounds: more than a window of parts of many streams; a full cache
// is dropped and rebuilt on demand.
const (
	maxCachedParts = 16384
	maxCachedInits = 256
)

// splitter derives per-track fMP4 from the packager's muxed fMP4: DASH
// clients want one media component per AdaptationSet (ffmpeg's DASH
// demuxer assigns every packet of a Representation to its first stream;
// dash.js refuses muxed Representations; DASH-IF IOP §3.2.2). The sample
// bytes, decode times, durations and flags are the packager's, taken
// from its immutable parts; only the boxes around them are rewritten,
// once per part and shared by every DASH viewer.
type splitter struct {
	mu    sync.Mutex
	parts map[*packager.Part]*[3][]byte
	inits map[*packager.Init]*[3][]byte
}

// init returns the init section of in holding only track id.
func (c *splitter) init(in *packager.Init, id int) ([]byte, error) {
	c.mu.Lock()
	if v := c.inits[in]; v != nil {
		c.mu.Unlock()
		return v[id], nil
	}
	c.mu.Unlock()
	var full fmp4.Init
	if err := full.Unmarshal(bytes.NewReader(in.Data)); err != nil {
		return nil, fmt.Errorf("dash: parse init: %w", err)
	}
	var out [3][]byte
	for _, t := range full.Tracks {
		if t.ID != trackVideo && t.ID != trackAudio {
			continue
		}
		one := fmp4.Init{Tracks: []*fmp4.InitTrack{t}}
		var buf seekablebuffer.Buffer
		if err := one.Marshal(&buf); err != nil {
			return nil, fmt.Errorf("dash: marshal init: %w", err)
		}
		out[t.ID] = buf.Bytes()
	}
	c.mu.Lock()
	if c.inits == nil || len(c.inits) >= maxCachedInits {
		c.inits = make(map[*packager.Init]*[3][]byte)
	}
	c.inits[in] = &out
	c.mu.Unlock()
	return out[id], nil
}

// part returns the fragment of pt holding only track id's samples (nil
// when the part has none of them).
func (c *splitter) part(pt *packager.Part, id int) ([]byte, error) {
	c.mu.Lock()
	if v := c.parts[pt]; v != nil {
		c.mu.Unlock()
		return v[id], nil
	}
	c.mu.Unlock()
	var parts fmp4.Parts
	if err := parts.Unmarshal(pt.Data); err != nil {
		return nil, fmt.Errorf("dash: parse part: %w", err)
	}
	var out [3][]byte
	for _, p := range parts {
		for _, tr := range p.Tracks {
			if tr.ID != trackVideo && tr.ID != trackAudio {
				continue
			}
			one := fmp4.Part{SequenceNumber: p.SequenceNumber, Tracks: []*fmp4.PartTrack{tr}}
			var buf seekablebuffer.Buffer
			if err := one.Marshal(&buf); err != nil {
				return nil, fmt.Errorf("dash: marshal part: %w", err)
			}
			out[tr.ID] = append(out[tr.ID], buf.Bytes()...)
		}
	}
	c.mu.Lock()
	if c.parts == nil || len(c.parts) >= maxCachedParts {
		c.parts = make(map[*packager.Part]*[3][]byte)
	}
	c.parts[pt] = &out
	c.mu.Unlock()
	return out[id], nil
}

// segment returns track id's fragments of parts, in order.
func (c *splitter) segment(parts []*packager.Part, id int) ([][]byte, error) {
	bufs := make([][]byte, 0, len(parts))
	for _, pt := range parts {
		b, err := c.part(pt, id)
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			bufs = append(bufs, b)
		}
	}
	return bufs, nil
}

// trackBytes is the size of track id's fragments of seg.
func (c *splitter) trackBytes(seg *packager.Segment, id int) int {
	bufs, err := c.segment(seg.Parts, id)
	if err != nil {
		return 0
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
