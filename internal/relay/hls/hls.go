// Package hls pulls a live HLS stream (HLS ingest) into the hub through
// gohlslib: a multivariant or media playlist at an http:// or https://
// URL, MPEG-TS or fMP4 segments. Tracks: H.264 and AAC in MPEG-TS (what
// gohlslib reads from TS), H.264, H.265, AAC and Opus in fMP4; other
// tracks (AV1, VP9, FLAC, KLV, MP3) are ignored.
package hls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
	"github.com/sluicemedia/sluice/internal/relay/ingest"
)

// Puller pulls HLS: URL schemes "http" and "https" whose path ends in
// ".m3u8" (the Manager decides by scheme and suffix; http(s)://….flv is
// the FLV puller's). The zero value is ready to use.
//
// The live edge is joined 3 segments from the playlist's end (gohlslib's
// default); gohlslib paces delivery at wall-clock rate, reloads the
// playlist, and fails (ending Pull with its error, so the Manager
// reconnects) when the playlist or a segment can no longer be fetched,
// when the client falls out of the source's window, or at #EXT-X-ENDLIST.
type Puller struct {
	// HTTPClient makes the requests. Default: a client with a cookie jar
	// and a 10 s response header timeout.
	HTTPClient *http.Client
}

var _ relay.Puller = Puller{}

// Pull implements relay.Puller.
func (p Puller) Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) error {
	if src.Scheme != "http" && src.Scheme != "https" {
		return fmt.Errorf("hls pull: unsupported scheme %q (want http or https)", src.Scheme)
	}
	log = log.With("proto", "hls-pull")
	w := ingest.NewWriter(pub, stats, log)

	hc := p.HTTPClient
	if hc == nil {
		jar, _ := cookiejar.New(nil)
		own := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       30 * time.Second,
		}
		defer own.CloseIdleConnections() // no keep-alive goroutines outlive the pull
		hc = &http.Client{Jar: jar, Transport: own}
	}
	counted := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	counted.Transport = &transport{base: base, stats: stats, last: make(map[string][32]byte)}

	var trackErr error
	c := &gohlslib.Client{
		URI:        src.String(),
		HTTPClient: &counted,
		OnDownloadPrimaryPlaylist: func(u string) {
			log.Debug("hls pull: playlist", "url", u)
		},
		OnDownloadStreamPlaylist: func(u string) { log.Debug("hls pull: media playlist", "url", u) },
		OnDownloadSegment:        func(u string) { log.Debug("hls pull: segment", "url", u) },
		OnDownloadPart:           func(string) {},
		OnDecodeError:            func(err error) { w.Bad(err) },
	}
	c.OnTracks = func(tracks []*gohlslib.Track) error {
		hasVideo, hasAudio, err := p.setTracks(c, tracks, w, log)
		if err != nil {
			trackErr = err
			return err
		}
		pub.Announce(hasVideo, hasAudio)
		return nil
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("hls pull: %w", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait2() }()

	select {
	case err := <-waitErr:
		if trackErr != nil {
			return fmt.Errorf("hls pull: %w", trackErr)
		}
		if errors.Is(err, gohlslib.ErrClientEOS) {
			return errors.New("hls pull: source playlist ended (#EXT-X-ENDLIST)")
		}
		return fmt.Errorf("hls pull: %w", err)
	case <-w.Failed():
		c.Close()
		return fmt.Errorf("hls pull: %w", w.Err())
	case <-pub.Done():
		c.Close()
		return errors.New("hls pull: publisher closed")
	case <-ctx.Done():
		c.Close()
		return ctx.Err()
	}
}

// setTracks installs a data callback for the first video track and the
// first audio track Sluice can carry.
func (Puller) setTracks(c *gohlslib.Client, tracks []*gohlslib.Track, w *ingest.Writer, log *slog.Logger) (hasVideo, hasAudio bool, err error) {
	for _, t := range tracks {
		rate := t.ClockRate
		if rate <= 0 {
			continue
		}
		switch codec := t.Codec.(type) {
		case *codecs.H264:
			if hasVideo {
				continue
			}
			ing := &av.NALUIngest{Codec: av.CodecH264}
			ing.SetParams(nil, codec.SPS, codec.PPS)
			c.OnDataH26x(t, func(pts, dts int64, au [][]byte) {
				w.Video(ing, au, ingest.Duration(pts, rate), ingest.Duration(dts, rate))
			})
			hasVideo = true
		case *codecs.H265:
			if hasVideo {
				continue
			}
			ing := &av.NALUIngest{Codec: av.CodecH265}
			ing.SetParams(codec.VPS, codec.SPS, codec.PPS)
			c.OnDataH26x(t, func(pts, dts int64, au [][]byte) {
				w.Video(ing, au, ingest.Duration(pts, rate), ingest.Duration(dts, rate))
			})
			hasVideo = true
		case *codecs.MPEG4Audio:
			if hasAudio {
				continue
			}
			asc, err := codec.Config.Marshal()
			if err != nil {
				log.Warn("hls pull: AAC track ignored", "error", err)
				continue
			}
			track, err := av.NewTrack(av.CodecAAC, asc)
			if err != nil {
				log.Warn("hls pull: AAC track ignored", "error", err)
				continue
			}
			samples := 1024
			if codec.Config.FrameLengthFlag {
				samples = 960
			}
			c.OnDataMPEG4Audio(t, func(pts int64, aus [][]byte) {
				w.AAC(track, samples, aus, ingest.Duration(pts, rate))
			})
			hasAudio = true
		case *codecs.Opus:
			if hasAudio {
				continue
			}
			track, err := av.NewTrack(av.CodecOpus, av.OpusHead(max(codec.ChannelCount, 1)))
			if err != nil {
				continue
			}
			c.OnDataOpus(t, func(pts int64, pkts [][]byte) {
				w.Opus(track, pkts, ingest.Duration(pts, rate), opus.PacketDuration2)
			})
			hasAudio = true
		default:
			log.Info("hls pull: track ignored", "codec", fmt.Sprintf("%T", t.Codec))
		}
	}
	if !hasVideo && !hasAudio {
		return false, false, ingest.ErrNoTracks
	}
	return hasVideo, hasAudio, nil
}
