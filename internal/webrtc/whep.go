package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	pion "github.com/pion/webrtc/v4"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// gatherTimeout bounds ICE candidate gathering before answering. With the
// ICE muxes and no STUN servers gathering completes almost at once.
const gatherTimeout = 5 * time.Second

// ResourcePath returns the WHEP session resource URL path for the stream at
// path and a session ID: /{app}/{name}/whep/{id}.
func ResourcePath(path, id string) string { return "/" + path + "/whep/" + id }

// ServeWHEP handles POST /{app}/{name}/whep for the stream at path
// (draft-ietf-wish-whep-03, "Playback session setup"): the body is the
// viewer's SDP offer; the answer is 201 Created with the SDP answer, which
// already holds every ICE candidate (ICE gathering completes before
// answering, as WHEP allows when the server does not trickle), and the
// session resource in Location. The caller has authorized the play (g,
// ended when the session ends; see auth.go). Errors: 415 wrong
// Content-Type, 413 offer too large, 400 unusable offer (with the reason), 404 stream not
// published, 503 session limit reached.
func (s *Server) ServeWHEP(w http.ResponseWriter, r *http.Request, path string, g auth.Grant) {
	post, ok := s.beginOffer(w, r, "whep", g, path, false)
	if !ok {
		return
	}
	defer post.finish()
	refuse := post.refuse
	if st := s.Hub.Stream(path); st == nil || st.Ended() {
		refuse(http.StatusNotFound, "stream %s is not published", path)
		return
	}
	if !post.reserve(r.RemoteAddr) {
		return
	}

	reader, err := s.Hub.Subscribe(r.Context(), path, hub.ClientInfo{Protocol: "whep", Remote: r.RemoteAddr})
	switch {
	case errors.Is(err, hub.ErrNotFound), errors.Is(err, hub.ErrEnded), errors.Is(err, hub.ErrNotReady):
		refuse(http.StatusNotFound, "stream %s is not published", path)
		return
	case err != nil:
		refuse(http.StatusServiceUnavailable, "subscribe to %s: %v", path, err)
		return
	}
	keepReader := false
	defer func() {
		if !keepReader {
			reader.Close()
		}
	}()
	// Browsers' WebRTC has no AAC: Opus, the publisher's or derived.
	reader.PreferAudio(av.CodecOpus)

	// The answer names the video codec: wait (a little) for the first
	// video packet of a stream that has just started.
	wctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	reader.Stream().WaitVideo(wctx)
	cancel()
	plan, code, err := planMedia(post.off, reader.Stream())
	if err != nil {
		refuse(code, "%v", err)
		return
	}
	pc, err := s.newPeerConnection(plan)
	if err != nil {
		refuse(http.StatusInternalServerError, "create peer connection: %v", err)
		return
	}
	id := newID()
	sess := newSession(s, id, path, reader.Stream(), post.log.With("session", id))
	sess.ip = post.ip
	sess.pc, sess.reader, sess.grant = pc, reader, post.grant
	var senders []*pion.RTPSender
	if plan.video != nil {
		sess.video, err = pion.NewTrackLocalStaticRTP(plan.video.RTPCodecCapability, "video", "sluice")
		if err == nil {
			var snd *pion.RTPSender
			if snd, err = pc.AddTrack(sess.video); err == nil {
				senders = append(senders, snd)
				sess.reports.setTrack(syncVideo, senderSSRC(snd), videoRate, sess.vBase)
			}
		}
	}
	if err == nil && plan.audio != nil {
		sess.audio, err = pion.NewTrackLocalStaticRTP(plan.audio.RTPCodecCapability, "audio", "sluice")
		if err == nil {
			var snd *pion.RTPSender
			if snd, err = pc.AddTrack(sess.audio); err == nil {
				senders = append(senders, snd)
				sess.reports.setTrack(syncAudio, senderSSRC(snd), opusRate, sess.aBase)
			}
		}
	}
	if err != nil {
		_ = pc.Close()
		refuse(http.StatusInternalServerError, "add track: %v", err)
		return
	}
	sess.cache = s.acquireCache(sess.stream)
	if !s.register(sess, len(senders)+1) {
		_ = pc.Close()
		s.releaseCache(sess.stream, sess.cache)
		refuse(http.StatusServiceUnavailable, "server shutting down")
		return
	}
	// From here the session owns the slot and the reader: run tears both
	// down, whatever happens next.
	keepReader = true
	post.handOver()
	go sess.run()
	go sess.sendReports() // counted by register
	for _, snd := range senders {
		go sess.drainRTCP(snd) // counted by register
	}
	pc.OnConnectionStateChange(sess.onState)

	post.answer(r, pc, &sess.lifecycle, sess.log, ResourcePath(path, id), plan)
}

// ServeSession handles a request on a session resource
// /{app}/{name}/whep/{id}: DELETE ends the session (draft-ietf-wish-whep-03,
// "Playback session setup": the viewer terminates the session with DELETE);
// PATCH is refused with 405 since this server neither trickles nor
// restarts ICE ("ICE support"); the router answers CORS preflights.
func (s *Server) ServeSession(w http.ResponseWriter, r *http.Request, path, id string) {
	if refuseSessionMethod(w, r, "WHEP") {
		return
	}
	sess := s.session(id)
	if sess == nil || sess.path != path {
		http.Error(w, "no such WHEP session", http.StatusNotFound)
		return
	}
	sess.close("deleted by client")
	select {
	case <-sess.finished:
	case <-time.After(5 * time.Second):
	}
	w.WriteHeader(http.StatusOK)
}

// mediaPlan is what a session sends: the codec of each track, or nil.
type mediaPlan struct {
	video *pion.RTPCodecParameters
	audio *pion.RTPCodecParameters
}

// planMedia matches an offer with the stream: H.264 video if the stream has
// video and the offer a video section, Opus audio if the stream has AAC or
// Opus audio and the offer Opus. It returns the HTTP status for an error.
func planMedia(off *offer, st *hub.Stream) (mediaPlan, int, error) {
	var plan mediaPlan
	video, audio := st.Tracks()
	hasVideo, hasAudio := st.Kinds()
	hasVideo = hasVideo || video != nil
	hasAudio = hasAudio || audio != nil
	videoCodec := av.CodecH264 // until the first video packet tells
	if video != nil {
		videoCodec = video.Codec
	}
	if hasVideo && off.hasVideo {
		var err error
		if plan.video, err = chooseVideo(off, video); err != nil {
			return plan, http.StatusBadRequest, err
		}
	}
	// Opus as published or derived (internal/transcode) from AAC or MP3.
	audioOK := audio == nil || audio.Codec == av.CodecAAC || audio.Codec == av.CodecOpus || audio.Codec == av.CodecMP3
	if hasAudio && audioOK && len(off.opus) > 0 {
		c := off.opus[0]
		plan.audio = &pion.RTPCodecParameters{
			PayloadType: pion.PayloadType(c.pt),
			RTPCodecCapability: pion.RTPCodecCapability{
				MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: c.fmtp,
			},
		}
	}
	if plan.video == nil && plan.audio == nil {
		what := strings.ToUpper(videoCodec.String()) + " video"
		if !hasVideo {
			what = "Opus audio"
		}
		return plan, http.StatusBadRequest, fmt.Errorf("%w: nothing to send; the offer must receive %s", errBadOffer, what)
	}
	return plan, 0, nil
}

// chooseVideo picks the offered payload type for the stream's video codec
// (H.264 when not known yet): the stream is sent as published, never
// transcoded, so the offer must include its codec.
func chooseVideo(off *offer, video *av.Track) (*pion.RTPCodecParameters, error) {
	codec := av.CodecH264
	if video != nil {
		codec = video.Codec
	}
	var offered []codecOffer
	var mime string
	switch codec {
	case av.CodecH265:
		offered, mime = off.h265, pion.MimeTypeH265
	case av.CodecAV1:
		offered, mime = off.av1, pion.MimeTypeAV1
	default:
		offered, mime = off.h264, pion.MimeTypeH264
	}
	if len(offered) == 0 {
		if codec == av.CodecH264 {
			return nil, fmt.Errorf("%w: no H.264 with packetization-mode=1 offered (the stream's video is H.264)", errBadOffer)
		}
		return nil, fmt.Errorf("%w: the stream's video is %s and the offer has no %s (video is sent as published, not transcoded)",
			errBadOffer, strings.ToUpper(codec.String()), mime)
	}
	c := offered[0]
	if codec == av.CodecH264 {
		var profile byte
		if video != nil {
			if sps, _, err := av.H264ParameterSets(video.Config); err == nil && len(sps) > 0 && len(sps[0]) > 1 {
				profile = sps[0][1]
			}
		}
		c, _ = chooseH264(offered, profile)
	}
	return &pion.RTPCodecParameters{
		PayloadType: pion.PayloadType(c.pt),
		RTPCodecCapability: pion.RTPCodecCapability{
			// ConfigureNack adds the nack and nack pli feedback.
			MimeType: mime, ClockRate: 90000, SDPFmtpLine: c.fmtp,
		},
	}, nil
}

// newPeerConnection builds a PeerConnection that knows exactly the codecs
// of plan, on the server's shared ICE sockets.
func (s *Server) newPeerConnection(plan mediaPlan) (*pion.PeerConnection, error) {
	me := &pion.MediaEngine{}
	if plan.video != nil {
		if err := me.RegisterCodec(*plan.video, pion.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("register %s: %w", plan.video.MimeType, err)
		}
	}
	if plan.audio != nil {
		if err := me.RegisterCodec(*plan.audio, pion.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register Opus: %w", err)
		}
	}
	ir := &interceptor.Registry{}
	// The NACK responder copies every packet it keeps (pion reuses the
	// packets it sends from a pool, so it must): a history of 256 packets,
	// about 1 s of 2.5 Mb/s video and 5 s of Opus, answers NACKs on paths
	// of any sane RTT at a quarter of the default's memory per viewer.
	if err := pion.ConfigureNackWithOptions(me, ir, nil, nack.ResponderSize(nackHistory)); err != nil {
		return nil, fmt.Errorf("configure NACK: %w", err)
	}
	// No report interceptor: the session sends its own sender reports, on
	// one clock for both tracks (sender_reports.go), and receives no media
	// to send receiver reports about.
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(s.settings), pion.WithInterceptorRegistry(ir))
	return api.NewPeerConnection(pion.Configuration{ICEServers: s.ICEServers})
}

// senderSSRC is the SSRC a sender's RTP goes out with (one encoding: no
// simulcast is sent).
func senderSSRC(snd *pion.RTPSender) uint32 {
	if enc := snd.GetParameters().Encodings; len(enc) > 0 {
		return uint32(enc[0].SSRC)
	}
	return 0
}

// nackHistory is how many sent packets per track the NACK responder keeps.
const nackHistory = 256

// newID returns a random, unguessable session ID (128 bits, hex).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// IsSessionID reports whether id has the form of a session ID, so routers
// can reject garbage early.
func IsSessionID(id string) bool {
	if len(id) != 32 {
		return false
	}
	return strings.Trim(id, "0123456789abcdef") == ""
}
