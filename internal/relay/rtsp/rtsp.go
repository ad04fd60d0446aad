// Package rtsp pulls a stream from an RTSP server or IP camera into the hub
// through gortsplib: rtsp:// and rtsps:// URLs, RTP over UDP or TCP
// (interleaved), H.264 or H.265 video and AAC (RFC 3640 mpeg4-generic) or
// Opus audio; other tracks are not set up.
package rtsp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/pion/rtp"

	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
	"github.com/sluicemedia/sluice/internal/relay/ingest"
)

// TransportQuery is the source URL query parameter that picks the RTP
// transport: "tcp" (interleaved in the RTSP connection) or "udp". It is
// removed from the URL before it is sent to the server.
const TransportQuery = "transport"

// Puller pulls RTSP: URL schemes "rtsp" and "rtsps". The zero value is
// ready to use.
type Puller struct {
	// Transport is the RTP transport when the URL has no ?transport=:
	// "tcp", "udp", or "" (default) for gortsplib's automatic choice: UDP
	// first, then TCP when no packet arrives over UDP within 3 s or the
	// server refuses UDP.
	Transport string
	// TLSConfig is used for rtsps:// (default: the system roots, the
	// URL's host as server name).
	TLSConfig *tls.Config
	// ReadTimeout ends the pull when the server sends nothing for this
	// long. Default 10 s.
	ReadTimeout time.Duration
}

var _ relay.Puller = Puller{}

// parseSource returns the URL to send (without TransportQuery) and the
// transport protocol (nil: automatic).
func (p Puller) parseSource(src *url.URL) (*base.URL, *gortsplib.Protocol, error) {
	if src.Scheme != "rtsp" && src.Scheme != "rtsps" {
		return nil, nil, fmt.Errorf("unsupported scheme %q (want rtsp or rtsps)", src.Scheme)
	}
	u := *src
	transport := p.Transport
	q := u.Query()
	if q.Has(TransportQuery) {
		transport = q.Get(TransportQuery)
		q.Del(TransportQuery)
		u.RawQuery = q.Encode()
	}
	var proto *gortsplib.Protocol
	switch strings.ToLower(transport) {
	case "":
	case "tcp":
		v := gortsplib.ProtocolTCP
		proto = &v
	case "udp":
		v := gortsplib.ProtocolUDP
		proto = &v
	default:
		return nil, nil, fmt.Errorf("transport %q: want tcp or udp", transport)
	}
	return (*base.URL)(&u), proto, nil
}

// Pull implements relay.Puller.
func (p Puller) Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) error {
	u, proto, err := p.parseSource(src)
	if err != nil {
		return fmt.Errorf("rtsp pull: %w", err)
	}
	log = log.With("proto", "rtsp-pull")
	w := ingest.NewWriter(pub, stats, log)
	var lostMu sync.Mutex
	var lost uint64
	var lostLogged time.Time
	c := &gortsplib.Client{
		Scheme:      u.Scheme,
		Host:        u.Host,
		Protocol:    proto,
		TLSConfig:   p.TLSConfig,
		ReadTimeout: p.ReadTimeout,
		OnTransportSwitch: func(err error) {
			log.Info("rtsp pull: transport switched", "reason", err)
		},
		OnPacketsLost: func(n uint64) {
			lostMu.Lock()
			defer lostMu.Unlock()
			lost += n
			if now := time.Now(); now.Sub(lostLogged) >= 10*time.Second {
				lostLogged = now
				log.Warn("rtsp pull: RTP packets lost", "lost_total", lost)
			}
		},
		OnDecodeError: func(err error) { w.Bad(err) },
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("rtsp pull: connect: %w", err)
	}
	// Describe, Setup and Play block on the server; closing the client
	// is what aborts them.
	stop := make(chan struct{})
	var closeOnce sync.Once
	closeClient := func() { closeOnce.Do(c.Close) }
	defer closeClient()
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
		case <-pub.Done():
		case <-w.Failed():
		case <-stop:
			return
		}
		closeClient()
	}()

	tcp, err := p.play(c, u, pub, w, log)
	if err == nil {
		err = p.wait(c, stats, tcp)
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case w.Err() != nil:
		return fmt.Errorf("rtsp pull: %w", w.Err())
	}
	select {
	case <-pub.Done():
		return errors.New("rtsp pull: publisher closed")
	default:
	}
	return fmt.Errorf("rtsp pull: %w", err)
}

// play describes the source, sets up the tracks Sluice carries, installs
// their packet callbacks and starts playing; it reports whether RTP comes
// interleaved in the RTSP connection (TCP).
func (p Puller) play(c *gortsplib.Client, u *base.URL, pub *hub.Publisher, w *ingest.Writer, log *slog.Logger) (tcp bool, err error) {
	desc, _, err := c.Describe(u)
	if err != nil {
		return false, fmt.Errorf("describe: %w", err)
	}
	var video, audio *trackSetup
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			if video == nil {
				if t, err := newVideo(m, f, w); err != nil {
					log.Warn("rtsp pull: video track ignored", "error", err)
				} else if t != nil {
					video = t
					continue
				}
			}
			if audio == nil {
				if t, err := newAudio(m, f, w); err != nil {
					log.Warn("rtsp pull: audio track ignored", "error", err)
				} else if t != nil {
					audio = t
				}
			}
		}
	}
	if video == nil && audio == nil {
		return false, ingest.ErrNoTracks
	}
	var codecs []string
	var medias []*description.Media
	for _, t := range []*trackSetup{video, audio} {
		if t != nil && (len(medias) == 0 || medias[0] != t.medi) {
			medias = append(medias, t.medi)
		}
	}
	for _, m := range medias {
		if _, err := c.Setup(desc.BaseURL, m, 0, 0); err != nil {
			return false, fmt.Errorf("setup %s: %w", m.Type, err)
		}
	}
	for _, t := range []*trackSetup{video, audio} {
		if t == nil {
			continue
		}
		codecs = append(codecs, t.forma.Codec())
		t := t
		c.OnPacketRTP(t.medi, t.forma, func(pkt *rtp.Packet) {
			pts, ok := c.PacketPTS(t.medi, pkt)
			if !ok {
				return // waiting for the first random access point
			}
			t.handle(pkt, pts)
		})
	}
	pub.Announce(video != nil, audio != nil)
	if _, err := c.Play(nil); err != nil {
		return false, fmt.Errorf("play: %w", err)
	}
	transport := "?"
	if tr := c.Transport(); tr != nil && tr.Session != nil {
		transport = tr.Session.Protocol.String()
		tcp = tr.Session.Protocol == gortsplib.ProtocolTCP
	}
	log.Info("rtsp pull: playing", "transport", transport, "codecs", strings.Join(codecs, ","))
	return tcp, nil
}

// wait runs until the client fails or is closed, keeping stats.Bytes at
// the client's received byte count: the RTSP connection's, which over TCP
// includes the interleaved RTP, plus over UDP the RTP/RTCP sockets'.
func (p Puller) wait(c *gortsplib.Client, stats *relay.Stats, tcp bool) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var counted uint64
	update := func() {
		st := c.Stats()
		n := st.Conn.InboundBytes
		if !tcp {
			n += st.Session.InboundBytes
		}
		if n > counted {
			stats.Bytes.Add(n - counted)
			counted = n
		}
	}
	for {
		select {
		case err := <-done:
			update()
			return err
		case <-tick.C:
			update()
		}
	}
}
