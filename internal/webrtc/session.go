package webrtc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// session is one WHEP viewer: a PeerConnection fed by its own hub reader.
//
// Goroutines: run (waits for the connection, then pumps the reader into the
// tracks and tears everything down), one RTCP drain per sender (ends when
// the PeerConnection closes), the sender-report loop (ends with the session
// context), and, for AAC streams, one Opus forwarder (ends with the session
// context). All are counted in Server.wg.
type session struct {
	srv    *Server
	id     string
	path   string
	stream *hub.Stream
	log    *slog.Logger
	start  time.Time
	ip     string // client IP, for release

	pc     *pion.PeerConnection
	reader *hub.Reader
	grant  *auth.Grant // Ended when the session ends
	cache  *payloadCache
	video  *pion.TrackLocalStaticRTP // nil when not sent
	audio  *pion.TrackLocalStaticRTP // nil when not sent
	// reports makes the RTCP sender reports of both tracks from one
	// clock (sender_reports.go).
	reports senderReports

	lifecycle

	// Owned by run.
	vSeq, aSeq uint16
	vBase      uint32 // random RTP timestamp offsets (RFC 3550 §5.1)
	aBase      uint32
	sawKey     bool
	firstFrame bool
	// traceFrom, when set (debug logging), logs the latency from hub
	// arrival to RTP send of every live frame (arrived after it), for
	// bench/webrtc.sh.
	traceFrom time.Time
	// releaseBridge lets go of the stream's AAC→Opus bridge (nil when the
	// session holds none).
	releaseBridge func()
}

func newSession(srv *Server, id, path string, st *hub.Stream, log *slog.Logger) *session {
	s := &session{
		srv: srv, id: id, path: path, stream: st, log: log, start: time.Now(),
		vSeq: uint16(rand.Uint32()), aSeq: uint16(rand.Uint32()),
		vBase: rand.Uint32(), aBase: rand.Uint32(),
	}
	s.init()
	// Closing the PeerConnection at once too unblocks a write stuck on a
	// slow TCP peer.
	s.onClose = func() {
		if s.pc != nil {
			s.srv.wg.Add(1)
			go func() {
				defer s.srv.wg.Done()
				_ = s.pc.Close()
			}()
		}
	}
	return s
}

// drainRTCP reads a sender's RTCP so interceptors (NACK responder, reports)
// see it, and passes a viewer's keyframe requests (its decoder lost its
// reference: PLI, RFC 4585 §6.3.1; FIR, RFC 5104 §4.3.1) on to the stream's
// WHIP publisher, if any (rate-limited there); an RTMP publisher cannot be
// asked. It ends when the PeerConnection closes.
func (s *session) drainRTCP(sender *pion.RTPSender) {
	defer s.srv.wg.Done()
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.srv.requestKeyframe(s.path, "whep viewer asked for a keyframe")
			}
		}
	}
}

// sendReports sends the RTCP sender reports of the session's tracks every
// reportInterval until the session ends.
func (s *session) sendReports() {
	defer s.srv.wg.Done()
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			// One report per datagram, as each track's SSRC sends its own
			// compound packet (RFC 3550 §6.1).
			for _, sr := range s.reports.reports(now) {
				_ = s.pc.WriteRTCP([]rtcp.Packet{sr}) // fails only once closed
			}
		case <-s.ctx.Done():
			return
		}
	}
}

// run waits for the peer to connect (at most SessionTimeout), sends media
// until the stream ends, the viewer is dropped or the session is closed,
// and then tears the session down.
func (s *session) run() {
	defer s.srv.wg.Done()
	defer s.teardown()

	timer := time.NewTimer(s.srv.SessionTimeout)
	select {
	case <-s.connected:
		timer.Stop()
		s.log.Info("whep session connected", "after", time.Since(s.start).Round(time.Millisecond))
		// The hub's GOP cache starts the viewer at once; a fresh keyframe
		// from a WHIP publisher (rate-limited) shortens a long GOP.
		s.srv.requestKeyframe(s.path, "whep viewer joined")
		if s.log.Enabled(s.ctx, slog.LevelDebug) {
			s.traceFrom = time.Now()
		}
		s.acquireBridge()
	case <-timer.C:
		s.close("peer did not connect within " + s.srv.SessionTimeout.String())
		return
	case <-s.ctx.Done():
		timer.Stop()
		return
	}

	buf := make([]*av.Packet, 0, 64)
	for {
		pkts, err := s.reader.Read(s.ctx, buf[:0])
		for _, p := range pkts {
			if werr := s.write(p); werr != nil {
				s.close("write: " + werr.Error())
				return
			}
		}
		if err != nil {
			switch {
			case errors.Is(err, context.Canceled):
			case errors.Is(err, hub.ErrEnded):
				s.close("stream ended")
			case errors.Is(err, hub.ErrLagging):
				s.close("viewer too slow")
			case errors.Is(err, hub.ErrKicked):
				s.close("kicked")
			default:
				s.close("read: " + err.Error())
			}
			return
		}
	}
}

// acquireBridge holds the stream's AAC→Opus bridge while this session
// sends audio and the publisher's audio is not Opus.
func (s *session) acquireBridge() {
	if s.audio == nil || s.srv.Bridges == nil {
		return
	}
	if _, audio := s.stream.Tracks(); audio != nil && audio.Codec == av.CodecOpus {
		return
	}
	s.releaseBridge = s.srv.Bridges.Acquire(s.stream, av.CodecOpus)
}

func (s *session) teardown() {
	s.close("session ended")
	if s.pc != nil {
		_ = s.pc.Close()
	}
	s.reader.Close()
	s.srv.releaseCache(s.stream, s.cache)
	if s.releaseBridge != nil {
		s.releaseBridge()
	}
	ended(s.grant)
	left := s.srv.unregister(s)
	s.log.Info("whep session closed", "reason", s.closeReason(),
		"duration", time.Since(s.start).Round(time.Millisecond), "sessions", left)
	close(s.finished)
}

// write sends one hub packet. It returns an error only when the session
// cannot go on (its PeerConnection is closed).
func (s *session) write(p *av.Packet) error {
	switch p.Track.Codec {
	case av.CodecH264, av.CodecH265, av.CodecAV1:
		return s.writeVideo(p)
	case av.CodecOpus: // the publisher's, or derived from its AAC
		return s.writeOpus(p)
	}
	return nil
}

// writeVideo sends one access unit as RTP packets, the marker bit on the
// last (RFC 6184 §5.1, RFC 7798 §4.1, AV1 RTP §4.1), from the stream's
// shared payloads.
func (s *session) writeVideo(p *av.Packet) error {
	if s.video == nil {
		return nil
	}
	if !s.sawKey {
		if !p.Key {
			return nil
		}
		s.sawKey = true
	}
	payloads, err := s.cache.payloads(p)
	if err != nil {
		s.log.Debug("whep: skip bad video packet", "err", err)
		return nil
	}
	ts := s.vBase + rtpTime(p.PTS, videoRate)
	octets := 0
	for i, pl := range payloads {
		pkt := rtp.Packet{
			Header: rtp.Header{
				Version: 2, Marker: i == len(payloads)-1,
				SequenceNumber: s.vSeq, Timestamp: ts,
			},
			Payload: pl,
		}
		s.vSeq++
		octets += len(pl)
		if err := s.video.WriteRTP(&pkt); err != nil && errors.Is(err, io.ErrClosedPipe) {
			return err
		}
	}
	s.reports.sent(syncVideo, p, len(payloads), octets)
	if !s.traceFrom.IsZero() && p.Arrival.After(s.traceFrom) {
		s.log.Debug("whep frame sent", "latency_us", time.Since(p.Arrival).Microseconds())
	}
	if !s.firstFrame {
		s.firstFrame = true
		s.log.Debug("whep first video frame sent", "after", time.Since(s.start).Round(time.Millisecond))
	}
	return nil
}

// writeOpus sends one Opus packet (RFC 7587: one packet per RTP packet,
// 48 kHz clock).
func (s *session) writeOpus(p *av.Packet) error {
	if s.audio == nil {
		return nil
	}
	pkt := rtp.Packet{
		Header: rtp.Header{
			Version: 2, Marker: false,
			SequenceNumber: s.aSeq, Timestamp: s.aBase + rtpTime(p.PTS, opusRate),
		},
		Payload: p.Data,
	}
	s.aSeq++
	if err := s.audio.WriteRTP(&pkt); err != nil && errors.Is(err, io.ErrClosedPipe) {
		return err
	}
	s.reports.sent(syncAudio, p, 1, len(p.Data))
	return nil
}

// RTP clock rates: 90 kHz for video (RFC 6184 §8.2.1, RFC 7798 §7.1, the
// AV1 RTP spec), 48 kHz for Opus whatever its sampling rate (RFC 7587 §4.1).
const (
	videoRate = 90000
	opusRate  = 48000
)

// rtpTime converts a media time to RTP clock ticks (wrapping, as RTP
// timestamps do).
func rtpTime(d time.Duration, rate int64) uint32 {
	sec := int64(d / time.Second)
	frac := int64(d % time.Second)
	return uint32(sec*rate + frac*rate/int64(time.Second))
}
