package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// Keyframe requests (RFC 4585 §6.3.1 Picture Loss Indication) to a WHIP
// publisher are sent at most once per pliInterval, whatever asks: a packet
// loss, a new WHEP viewer, or the wait for the first keyframe (asked every
// pliInterval until it arrives).
const pliInterval = time.Second

// WHIPResourcePath returns the WHIP session resource URL path for the
// stream at path and a session ID: /{app}/{name}/whip/{id}.
func WHIPResourcePath(path, id string) string { return "/" + path + "/whip/" + id }

// ServeWHIP handles POST /{app}/{name}/whip (draft-ietf-wish-whip-16 §4.2,
// "Ingest session set up"): the body is the publisher's SDP offer with
// sendonly (or sendrecv) H.264 video, packetization-mode=1, and/or Opus
// audio; the answer is 201 Created with the SDP answer, which holds every
// ICE candidate (the server does not trickle, §4.3), and the session
// resource in Location. The media becomes a hub stream at path, playable by
// every protocol.
//
// The caller has authorized the publish (g, ended when the session ends).
// Errors: 415 wrong Content-Type, 413 offer too
// large, 400 unusable offer (with the reason), 409 the path already has a
// publisher, 503 session limit reached.
func (s *Server) ServeWHIP(w http.ResponseWriter, r *http.Request, path string, g auth.Grant) {
	post, ok := s.beginOffer(w, r, "whip", g, path, true)
	if !ok {
		return
	}
	defer post.finish()
	refuse := post.refuse
	plan, err := planIngest(post.off)
	if err != nil {
		refuse(http.StatusBadRequest, "%v", err)
		return
	}
	if !post.reserve(r.RemoteAddr) {
		return
	}

	pub, err := s.Hub.Publish(path, hub.ClientInfo{Protocol: "whip", Remote: r.RemoteAddr})
	switch {
	case errors.Is(err, hub.ErrBusy):
		// draft-ietf-wish-whip: the server decides; CONTRACT.md: 409.
		refuse(http.StatusConflict, "stream %s is already being published", path)
		return
	case err != nil:
		refuse(http.StatusServiceUnavailable, "publish %s: %v", path, err)
		return
	}
	keepPub := false
	defer func() {
		if !keepPub {
			pub.Close("whip setup failed")
		}
	}()
	pub.Announce(plan.video != nil, plan.audio != nil)

	pc, err := s.newPeerConnection(plan)
	if err != nil {
		refuse(http.StatusInternalServerError, "create peer connection: %v", err)
		return
	}
	id := newID()
	sess := newWHIPSession(s, id, path, pub, pc, post.grant, post.log.With("session", id))
	sess.ip = post.ip
	if !s.registerWHIP(sess) {
		_ = pc.Close()
		refuse(http.StatusServiceUnavailable, "server shutting down")
		return
	}
	// From here the session owns the slot, the publisher and the auth
	// request: run tears them down, whatever happens next.
	keepPub = true
	post.handOver()
	pc.OnTrack(sess.onTrack)
	pc.OnConnectionStateChange(sess.onState)
	go sess.run()

	post.answer(r, pc, &sess.lifecycle, sess.log, WHIPResourcePath(path, id), plan)
}

// ServeWHIPSession handles a request on a WHIP session resource
// /{app}/{name}/whip/{id}: DELETE ends the publish (draft-ietf-wish-whip-16
// §4.2: the client terminates the session with DELETE; the stream then
// waits hub.republish_grace for a new publisher); PATCH is refused with 405
// since this server neither trickles nor restarts ICE (§4.3); OPTIONS
// answers CORS preflight.
func (s *Server) ServeWHIPSession(w http.ResponseWriter, r *http.Request, path, id string) {
	if refuseSessionMethod(w, r, "WHIP") {
		return
	}
	s.mu.Lock()
	sess := s.whips[id]
	s.mu.Unlock()
	if sess == nil || sess.path != path {
		http.Error(w, "no such WHIP session", http.StatusNotFound)
		return
	}
	sess.close("deleted by client")
	select {
	case <-sess.finished:
	case <-time.After(5 * time.Second):
	}
	w.WriteHeader(http.StatusOK)
}

// planIngest picks the codecs to receive: for a video section H.264
// packetization-mode=1 (constrained baseline first: no B-frames, playable
// by every protocol and WHEP viewer), else H.265, else AV1 (both reach
// Enhanced RTMP, fMP4 HLS, DASH and WHEP viewers that support them); Opus
// for an audio section. A video section with none of them is an error
// rather than silently dropped video; an audio section without Opus is
// answered as rejected.
func planIngest(off *offer) (mediaPlan, error) {
	var plan mediaPlan
	if off.hasVideo {
		c, ok := chooseH264(off.h264, 0)
		mime := pion.MimeTypeH264
		switch {
		case ok:
		case len(off.h265) > 0:
			c, mime = off.h265[0], pion.MimeTypeH265
		case len(off.av1) > 0:
			c, mime = off.av1[0], pion.MimeTypeAV1
		default:
			return plan, fmt.Errorf("%w: the video section offers no H.264 with packetization-mode=1, H.265 or AV1 (the video codecs ingested)", errBadOffer)
		}
		plan.video = &pion.RTPCodecParameters{
			PayloadType: pion.PayloadType(c.pt),
			RTPCodecCapability: pion.RTPCodecCapability{
				MimeType: mime, ClockRate: 90000, SDPFmtpLine: c.fmtp,
				// Keyframe requests: PLI ("nack pli", added with NACK)
				// and FIR (RFC 5104 §7.1) for publishers that offer it.
				RTCPFeedback: []pion.RTCPFeedback{{Type: "ccm", Parameter: "fir"}},
			},
		}
	}
	if off.hasAudio && len(off.opus) > 0 {
		c := off.opus[0]
		plan.audio = &pion.RTPCodecParameters{
			PayloadType: pion.PayloadType(c.pt),
			RTPCodecCapability: pion.RTPCodecCapability{
				MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: c.fmtp,
			},
		}
	}
	if plan.video == nil && plan.audio == nil {
		return plan, fmt.Errorf("%w: nothing to ingest; send H.264 video and/or Opus audio", errBadOffer)
	}
	return plan, nil
}

// registerWHIP adds a WHIP session unless the server is closed or the path
// already has one, counting its run goroutine in wg.
func (s *Server) registerWHIP(ws *whipSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.whips[ws.id] = ws
	s.whipPath[ws.path] = ws
	s.wg.Add(1)
	return true
}

func (s *Server) unregisterWHIP(ws *whipSession) int {
	s.mu.Lock()
	delete(s.whips, ws.id)
	if s.whipPath[ws.path] == ws {
		delete(s.whipPath, ws.path)
	}
	s.mu.Unlock()
	return s.release(ws.ip)
}

// requestKeyframe asks the WHIP publisher of path, if any, for a keyframe
// (rate-limited). WHEP sessions call it when a viewer connects.
func (s *Server) requestKeyframe(path, why string) {
	s.mu.Lock()
	ws := s.whipPath[path]
	s.mu.Unlock()
	if ws != nil {
		ws.requestKeyframe(why)
	}
}

// whipSession is one WHIP publisher: a PeerConnection whose received
// tracks are depacketized into the hub.
//
// Goroutines, each ending when the PeerConnection closes: run (waits for
// the connection, asks for keyframes, tears down), and per received track
// one RTP reader and one RTCP drain. run is counted in Server.wg; the
// track goroutines in tracks, which teardown waits for.
type whipSession struct {
	srv   *Server
	id    string
	path  string
	log   *slog.Logger
	start time.Time
	pc    *pion.PeerConnection
	pub   *hub.Publisher
	grant *auth.Grant

	lifecycle

	tracksMu     sync.Mutex
	tracksClosed bool
	tracks       sync.WaitGroup

	// writeMu serializes the track readers' writes to the publisher (a
	// single writer, hub.Publisher) and guards epoch.
	writeMu sync.Mutex
	epoch   time.Time // arrival of the session's first RTP packet

	// syncMu guards the tracks' RTP clocks and sender reports (av_sync.go);
	// taken before writeMu.
	syncMu    sync.Mutex
	clocks    [2]*rtpClock   // syncVideo, syncAudio
	srs       [2]senderClock // the tracks' latest sender reports
	srDirty   bool           // a report came since the last align
	syncMoves atomic.Uint64  // audio corrections made

	videoSSRC atomic.Uint32
	sawKey    atomic.Bool
	// fir is set when the publisher's video negotiated "ccm fir"
	// (RFC 5104 §7.1): keyframe requests then carry a FIR too.
	fir     atomic.Bool
	pliMu   sync.Mutex
	lastPLI time.Time
	firSeq  uint8 // FIR command sequence number (RFC 5104 §4.3.1.1); guarded by pliMu

	ip string // client IP, for release

	// Counters for the closing log line.
	frames, dropped, audioPkts, lost, plis atomic.Uint64
}

func newWHIPSession(srv *Server, id, path string, pub *hub.Publisher, pc *pion.PeerConnection,
	grant *auth.Grant, log *slog.Logger) *whipSession {
	s := &whipSession{srv: srv, id: id, path: path, log: log, start: time.Now(), pc: pc, pub: pub, grant: grant}
	s.init()
	return s
}

// run waits for the peer to connect (at most SessionTimeout), asks for a
// keyframe until one arrives, ends with the session or the stream, and
// then tears the session down.
func (s *whipSession) run() {
	defer s.srv.wg.Done()
	defer s.teardown()
	timer := time.NewTimer(s.srv.SessionTimeout)
	select {
	case <-s.connected:
		timer.Stop()
		s.log.Info("whip session connected", "after", time.Since(s.start).Round(time.Millisecond))
	case <-timer.C:
		s.close("peer did not connect within " + s.srv.SessionTimeout.String())
		return
	case <-s.ctx.Done():
		timer.Stop()
		return
	case <-s.pub.Done():
		timer.Stop()
		s.close("stream ended")
		return
	}
	tick := time.NewTicker(pliInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.pub.Done():
			s.close("publisher kicked or stream ended")
			return
		case <-tick.C:
			if !s.sawKey.Load() {
				s.requestKeyframe("waiting for the first keyframe")
			}
		case why := <-s.pub.KeyframeRequests():
			// A reader waits for a keyframe, or the segment grid is due.
			s.requestKeyframe(why)
		}
	}
}

func (s *whipSession) teardown() {
	s.close("session ended")
	s.tracksMu.Lock()
	s.tracksClosed = true
	s.tracksMu.Unlock()
	_ = s.pc.Close() // ends the track readers
	s.tracks.Wait()
	s.pub.Close("whip: " + s.closeReason())
	ended(s.grant)
	left := s.srv.unregisterWHIP(s)
	s.log.Info("whip session closed", "reason", s.closeReason(),
		"duration", time.Since(s.start).Round(time.Millisecond), "frames", s.frames.Load(),
		"dropped_frames", s.dropped.Load(), "audio_packets", s.audioPkts.Load(),
		"lost_packets", s.lost.Load(), "plis", s.plis.Load(), "audio_alignments", s.syncMoves.Load(), "sessions", left)
	close(s.finished)
}

// onTrack starts reading a received track (called by pion).
func (s *whipSession) onTrack(tr *pion.TrackRemote, rcv *pion.RTPReceiver) {
	s.tracksMu.Lock()
	if s.tracksClosed {
		s.tracksMu.Unlock()
		return
	}
	s.tracks.Add(2)
	s.tracksMu.Unlock()
	track, ssrc := syncAudio, uint32(tr.SSRC())
	if tr.Kind() == pion.RTPCodecTypeVideo {
		track = syncVideo
	}
	go func() {
		defer s.tracks.Done()
		// RTCP from the sender goes through the interceptors; it must be
		// read so it does not pile up. Its sender reports align the
		// tracks (av_sync.go).
		for {
			pkts, _, err := rcv.ReadRTCP()
			if err != nil {
				return
			}
			s.onSenderReports(track, ssrc, pkts)
		}
	}()
	go func() {
		defer s.tracks.Done()
		mime := strings.ToLower(tr.Codec().MimeType)
		switch {
		case tr.Kind() == pion.RTPCodecTypeVideo && videoIngestFor(mime) != nil:
			s.videoSSRC.Store(uint32(tr.SSRC()))
			s.fir.Store(hasFeedback(tr.Codec().RTCPFeedback, "ccm", "fir"))
			s.requestKeyframe("video track started")
			s.readVideo(tr, videoIngestFor(mime))
		case tr.Kind() == pion.RTPCodecTypeAudio && mime == strings.ToLower(pion.MimeTypeOpus):
			s.readAudio(tr)
		default:
			s.log.Warn("whip: ignoring track", "codec", tr.Codec().MimeType)
			drainTrack(tr)
		}
	}()
}

// hasFeedback reports whether fb holds the RTCP feedback typ param
// (RFC 4585 §4.2 a=rtcp-fb).
func hasFeedback(fb []pion.RTCPFeedback, typ, param string) bool {
	for _, f := range fb {
		if strings.EqualFold(f.Type, typ) && strings.EqualFold(f.Parameter, param) {
			return true
		}
	}
	return false
}

func drainTrack(tr *pion.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
}

// startOffset returns the stream time of a track's first packet, arrived
// at now: its distance from the session's first packet.
func (s *whipSession) startOffset(now time.Time) time.Duration {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.epoch.IsZero() {
		s.epoch = now
	}
	return now.Sub(s.epoch)
}

// write publishes one packet; it reports false when the publisher ended.
func (s *whipSession) write(p *av.Packet) bool {
	s.writeMu.Lock()
	err := s.pub.WritePacket(p)
	s.writeMu.Unlock()
	if err != nil {
		s.close("publish: " + err.Error())
		return false
	}
	return true
}

// videoIngestFor returns the ingest of a video MIME type (lower case), or
// nil.
func videoIngestFor(mime string) videoIngest {
	switch mime {
	case strings.ToLower(pion.MimeTypeH264):
		return &h264Video{}
	case strings.ToLower(pion.MimeTypeH265):
		return &h265Video{}
	case strings.ToLower(pion.MimeTypeAV1):
		return &av1Video{}
	}
	return nil
}

// readVideo depacketizes video (H.264: RFC 6184; H.265: RFC 7798; AV1:
// the AV1 RTP payload format) into hub access units with 90 kHz RTP
// timestamps as PTS = DTS (WebRTC encoders send no B-frames).
// An access unit with a lost or malformed packet is dropped, and so is
// every frame after it until the next keyframe, which is asked for with a
// PLI.
func (s *whipSession) readVideo(tr *pion.TrackRemote, ingest videoIngest) {
	var (
		clock   = rtpClock{rate: 90000}
		waitKey = true
		lastDTS time.Duration
		started bool
		ok      = true
	)
	onAU := func(au accessUnit) {
		if !ok {
			return
		}
		if au.broken {
			s.dropped.Add(1)
			waitKey = true
			s.requestKeyframe("frame lost")
			return
		}
		data, key, track := ingest.convert(au)
		if len(data) == 0 { // malformed payloads: as good as lost
			s.dropped.Add(1)
			waitKey = true
			s.requestKeyframe("frame malformed")
			return
		}
		if track == nil || (waitKey && !key) {
			s.dropped.Add(1)
			if track == nil || waitKey {
				s.requestKeyframe("waiting for a keyframe")
			}
			return
		}
		waitKey = false
		if key {
			s.sawKey.Store(true)
		}
		pts := s.trackPTS(syncVideo, &clock, au.ts, au.arrival)
		dts := pts
		if started && dts <= lastDTS {
			// Never backwards within the track, nor a repeated DTS (a
			// zero-length sample).
			dts = lastDTS + time.Millisecond
		}
		lastDTS, started = dts, true
		s.frames.Add(1)
		ok = s.write(&av.Packet{Track: track, DTS: dts, PTS: max(pts, dts), Key: key, Data: data, Arrival: au.arrival})
	}
	s.readInOrder(tr, func(p *rtp.Packet, lost bool, now time.Time) bool {
		ingest.push(p, lost, now, onAU)
		return ok
	})
}

// readInOrder reads tr's RTP packets and hands them to emit in sequence
// order (reorderBuffer), with whether packets before each were lost, until
// emit returns false (the publisher ended: the rest is drained) or the
// track ends.
func (s *whipSession) readInOrder(tr *pion.TrackRemote, emit func(p *rtp.Packet, lostBefore bool, now time.Time) bool) {
	var rb reorderBuffer
	for ok := true; ok; {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		before := rb.Lost
		rb.push(pkt, now, func(p *rtp.Packet, lost bool) {
			if ok {
				ok = emit(p, lost, now)
			}
		})
		s.lost.Add(rb.Lost - before)
	}
	drainTrack(tr)
}

// readAudio publishes Opus (RFC 7587: one Opus packet per RTP packet,
// 48 kHz timestamps) as hub Opus packets; lost packets are skipped (the
// decoder conceals them).
func (s *whipSession) readAudio(tr *pion.TrackRemote) {
	track, err := av.NewTrack(av.CodecOpus, av.OpusHead(2))
	if err != nil {
		s.log.Error("whip: opus track", "err", err)
		drainTrack(tr)
		return
	}
	clock := rtpClock{rate: av.OpusSampleRate}
	var last time.Duration
	started := false
	s.readInOrder(tr, func(p *rtp.Packet, _ bool, now time.Time) bool {
		if len(p.Payload) == 0 {
			return true
		}
		pts := s.trackPTS(syncAudio, &clock, p.Timestamp, now)
		if started && pts <= last {
			// Audio moved back by sender reports: what it sent again for
			// that span is dropped rather than overlapping.
			return true
		}
		last, started = pts, true
		s.audioPkts.Add(1)
		return s.write(&av.Packet{Track: track, DTS: pts, PTS: pts, Key: true, Data: p.Payload, Arrival: now})
	})
}

// requestKeyframe sends a Picture Loss Indication (RFC 4585 §6.3.1) for
// the video track, with a Full Intra Request (RFC 5104 §4.3.1) when the
// publisher negotiated it, at most once per pliInterval.
func (s *whipSession) requestKeyframe(why string) {
	ssrc := s.videoSSRC.Load()
	if ssrc == 0 {
		return
	}
	s.pliMu.Lock()
	if !s.lastPLI.IsZero() && time.Since(s.lastPLI) < pliInterval {
		s.pliMu.Unlock()
		return
	}
	s.lastPLI = time.Now()
	pkts := []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}
	if s.fir.Load() {
		// §4.3.1.1: a new request increments the sequence number.
		s.firSeq++
		pkts = append(pkts, &rtcp.FullIntraRequest{MediaSSRC: ssrc,
			FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: s.firSeq}}})
	}
	s.pliMu.Unlock()
	if err := s.pc.WriteRTCP(pkts); err == nil {
		s.plis.Add(1)
		s.log.Debug("whip keyframe requested", "why", why)
	}
}
