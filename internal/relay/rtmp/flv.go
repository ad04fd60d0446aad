package rtmprelay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Uint64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(uint64(n))
	return n, err
}

// pullFLV reads an HTTP-FLV source: GET, then the FLV header and tags
// through flv.Reader (bounded tag sizes) into flv.Ingest.
func (p *Puller) pullFLV(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.String(), nil)
	if err != nil {
		return fmt.Errorf("http-flv: %w", err)
	}
	req.Header.Set("User-Agent", "sluice")
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:       p.TLS,
		ResponseHeaderTimeout: p.dialTimeout(),
		Proxy:                 http.ProxyFromEnvironment,
	}}
	defer client.CloseIdleConnections()
	dialTimer := time.AfterFunc(p.dialTimeout(), func() { cancel(errors.New("no answer within " + p.dialTimeout().String())) })
	resp, err := client.Do(req)
	dialTimer.Stop()
	if err != nil {
		if c := context.Cause(ctx); c != nil && ctx.Err() != nil {
			err = c
		}
		return fmt.Errorf("http-flv: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http-flv: source answered %s", resp.Status)
	}
	body := &countingReader{r: resp.Body}
	// A watchdog ends an attempt that received nothing for ReadTimeout:
	// the response body has no read deadline of its own.
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last, at := uint64(0), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				n := body.n.Load()
				if n > last {
					stats.Bytes.Add(n - last)
					last, at = n, now
				} else if now.Sub(at) >= p.readTimeout() {
					cancel(errors.New("nothing received for " + p.readTimeout().String()))
					return
				}
			}
		}
	}()
	fr := flv.NewReader(body, 0)
	if _, _, err := fr.ReadHeader(); err != nil {
		return p.flvErr(ctx, err)
	}
	in := flv.Ingest{Sink: &sink{pub: pub, stats: stats}, Clock: &rtmp.Timeline{}, Log: log}
	for {
		tag, err := fr.ReadTag()
		if err != nil {
			return p.flvErr(ctx, err)
		}
		switch tag.Type {
		case flv.TagScript:
			if vals, err := amf0.Decode(tag.Body); err == nil {
				in.Metadata(vals)
			}
		default:
			if err := in.Tag(tag.Type, tag.Timestamp, tag.Body); err != nil {
				return err
			}
		}
	}
}

func (p *Puller) flvErr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		err = c
	}
	if errors.Is(err, io.EOF) {
		return errors.New("http-flv: source ended the stream")
	}
	return fmt.Errorf("http-flv: %w", err)
}
