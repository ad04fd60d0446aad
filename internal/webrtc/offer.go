package webrtc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// errBadOffer is wrapped by every offer validation error: the client sent
// something it must fix (HTTP 400).
var errBadOffer = errors.New("bad SDP offer")

func badOffer(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadOffer, fmt.Sprintf(format, args...))
}

// codecOffer is one payload type an offer proposes.
type codecOffer struct {
	pt   uint8
	fmtp string
}

// offer is what a WHEP handler needs from a client's SDP offer.
type offer struct {
	// h264 lists the offered H.264 payload types with packetization-mode=1,
	// in the offer's order of preference.
	h264 []codecOffer
	// h265 and av1 list the offered H.265 and AV1 payload types.
	h265, av1 []codecOffer
	// opus lists the offered Opus payload types.
	opus []codecOffer
	// hasVideo and hasAudio report media sections of each kind in the
	// request's direction: that let us send (recvonly or sendrecv from a
	// WHEP client's side) or that the client sends on (sendonly or sendrecv
	// from a WHIP client's side).
	hasVideo, hasAudio bool
}

// maxOfferSize bounds the request body (a browser offer is 3–8 KiB).
const maxOfferSize = 64 << 10

// parseOfferFor validates an SDP offer (RFC 8866 syntax, RFC 8829 JSEP
// content) enough to answer with a clear reason rather than a pion error:
// it must parse, have a media section in a usable direction, carry ICE
// credentials (RFC 8839 §5.4) since answers come without trickle, and a
// DTLS fingerprint (RFC 8122 §5). publish false checks it for playback
// (WHEP: the client must receive), true for ingest (WHIP: the client must
// send, draft-ietf-wish-whip §4.2); only the directions that count differ.
func parseOfferFor(body []byte, publish bool) (*offer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return nil, badOffer("malformed SDP: %v", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, badOffer("no media sections (m=)")
	}
	sessUfrag, _ := sd.Attribute("ice-ufrag")
	sessPwd, _ := sd.Attribute("ice-pwd")
	_, sessFP := sd.Attribute("fingerprint")
	o := &offer{}
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Port.Value == 0 {
			continue // rejected or bundled-only section without a port
		}
		ufrag, _ := md.Attribute("ice-ufrag")
		pwd, _ := md.Attribute("ice-pwd")
		if ufrag == "" {
			ufrag = sessUfrag
		}
		if pwd == "" {
			pwd = sessPwd
		}
		if ufrag == "" || pwd == "" {
			return nil, badOffer("media section %d (%s) has no ICE credentials (a=ice-ufrag and a=ice-pwd); trickle-only offers are not supported", i, md.MediaName.Media)
		}
		if _, ok := md.Attribute("fingerprint"); !ok && !sessFP {
			return nil, badOffer("media section %d (%s) has no DTLS fingerprint (a=fingerprint)", i, md.MediaName.Media)
		}
		if _, ok := md.Attribute("inactive"); ok {
			continue
		}
		// The direction the client cannot use for this request: a viewer's
		// sendonly section has nothing to receive, a publisher's recvonly
		// section nothing to send.
		skip := "sendonly"
		if publish {
			skip = "recvonly"
		}
		if _, ok := md.Attribute(skip); ok {
			continue
		}
		switch md.MediaName.Media {
		case "video":
			o.hasVideo = true
			o.h264 = append(o.h264, offeredCodecs(md, "h264", h264Mode1)...)
			o.h265 = append(o.h265, offeredCodecs(md, "h265", nil)...)
			o.av1 = append(o.av1, offeredCodecs(md, "av1", nil)...)
		case "audio":
			o.hasAudio = true
			o.opus = append(o.opus, offeredCodecs(md, "opus", nil)...)
		}
	}
	if !o.hasVideo && !o.hasAudio {
		if publish {
			return nil, badOffer("no audio or video section the client sends on (sendonly or sendrecv)")
		}
		return nil, badOffer("no audio or video section the server can send on (recvonly or sendrecv)")
	}
	return o, nil
}

// offeredCodecs returns the payload types of md whose rtpmap encoding name
// is name (case-insensitive) and whose fmtp passes accept (nil: any).
func offeredCodecs(md *sdp.MediaDescription, name string, accept func(fmtp string) bool) []codecOffer {
	rtpmap := map[uint8]string{}
	fmtp := map[uint8]string{}
	for _, a := range md.Attributes {
		pt, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(pt, 10, 8)
		if err != nil {
			continue
		}
		switch a.Key {
		case "rtpmap":
			enc, _, _ := strings.Cut(rest, "/")
			rtpmap[uint8(n)] = strings.ToLower(enc)
		case "fmtp":
			fmtp[uint8(n)] = strings.TrimSpace(rest)
		}
	}
	var out []codecOffer
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || rtpmap[uint8(n)] != name {
			continue
		}
		if accept != nil && !accept(fmtp[uint8(n)]) {
			continue
		}
		out = append(out, codecOffer{pt: uint8(n), fmtp: fmtp[uint8(n)]})
	}
	return out
}

// fmtpParam returns the value of key in an fmtp parameter list
// ("a=1;b=2").
func fmtpParam(fmtp, key string) string {
	for _, kv := range strings.Split(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// h264Mode1 accepts H.264 with packetization-mode=1 (RFC 6184 §8.1), the
// mode every browser offers and the only one we send.
func h264Mode1(fmtp string) bool { return fmtpParam(fmtp, "packetization-mode") == "1" }

// chooseH264 picks the offered H.264 payload type to answer with, given the
// stream's SPS profile_idc (0 when unknown): one declaring the stream's own
// profile first, so the answer states what is really sent; then constrained
// baseline 42e01f, which every WebRTC decoder supports; then any baseline;
// then the first. The answer echoes the chosen fmtp, so its
// profile-level-id is always one the offer listed (RFC 6184 §8.2.2).
func chooseH264(offered []codecOffer, profileIdc byte) (codecOffer, bool) {
	if len(offered) == 0 {
		return codecOffer{}, false
	}
	plid := func(c codecOffer) string { return strings.ToLower(fmtpParam(c.fmtp, "profile-level-id")) }
	if profileIdc != 0 {
		want := fmt.Sprintf("%02x", profileIdc)
		for _, c := range offered {
			if strings.HasPrefix(plid(c), want) {
				if profileIdc != 0x42 || plid(c) == "42e01f" {
					return c, true
				}
			}
		}
	}
	for _, c := range offered {
		if plid(c) == "42e01f" {
			return c, true
		}
	}
	for _, c := range offered {
		if strings.HasPrefix(plid(c), "42") {
			return c, true
		}
	}
	return offered[0], true
}
