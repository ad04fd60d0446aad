package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// A stream may carry, besides the publisher's tracks, one derived audio
// track: the same audio in another codec, made by a transcoder
// (internal/transcode) for protocols that cannot carry the original — AAC
// for FLV, RTMP and MPEG-TS when the publisher sends Opus (WHIP), Opus for
// WebRTC when it sends AAC (RTMP). Derived packets live in the same ring,
// on the same timeline, so every reader keeps one cursor and one lag rule.
// Each reader sees at most one audio track: the first codec of its
// PreferAudio list that the stream has, original before derived; readers
// without preferences see only the publisher's audio.

// ErrNotDerived is returned by WriteDerived for a packet whose track is not
// marked Derived or whose codec is not the announced one.
var ErrNotDerived = errors.New("hub: packet is not of the announced derived track")

// AnnounceDerived tells readers that audio in codec c is coming (or stops
// announcing it when c is av.CodecUnknown). Readers that prefer c over the
// original codec skip the original audio from now on, so they do not start
// with one codec and switch to another a moment later; they get no audio
// until the first derived packet.
func (s *Stream) AnnounceDerived(c av.Codec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.derivedCodec = c
	if c == av.CodecUnknown {
		s.derived = nil
	}
	s.wake() // readers re-evaluate their audio choice
}

// WriteDerived inserts a packet of the announced derived track. Its DTS and
// PTS must already be on the stream's timeline (the transcoder takes them
// from the original packets); they are not rebased.
func (s *Stream) WriteDerived(pkt *av.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return ErrEnded
	}
	if pkt.Track == nil || !pkt.Track.Derived || pkt.Track.Codec != s.derivedCodec || pkt.Kind() != av.KindAudio {
		return fmt.Errorf("%w (announced %s)", ErrNotDerived, s.derivedCodec)
	}
	if pkt.Arrival.IsZero() {
		pkt.Arrival = time.Now()
	}
	s.ring.push(pkt)
	s.derived = pkt.Track
	s.trim()
	s.wakeFor(pkt)
	return nil
}

// audioChoice is the one audio track a reader passes on.
type audioChoice struct {
	codec   av.Codec // CodecUnknown: any codec
	derived bool
	none    bool
}

func (c audioChoice) passes(t *av.Track) bool {
	return !c.none && t.Derived == c.derived && (c.codec == av.CodecUnknown || t.Codec == c.codec)
}

// AudioPref names an audio track a reader can carry: a codec, from the
// publisher, the derived track, or either.
type AudioPref struct {
	Codec av.Codec
	// From is which track may give it: AnyAudio, PublishedAudio or
	// DerivedAudio.
	From AudioSource
}

// AudioSource is where an AudioPref's track comes from.
type AudioSource uint8

// Audio sources.
const (
	// AnyAudio: the publisher's track or the derived one, whichever has
	// the codec.
	AnyAudio AudioSource = iota
	// PublishedAudio: only the publisher's own track.
	PublishedAudio
	// DerivedAudio: only the stream's derived track.
	DerivedAudio
)

// PreferAudio sets the audio codecs the reader can carry, best first,
// from either track: the first codec that the publisher's track or the
// derived one has wins. Call it before the first Read.
func (r *Reader) PreferAudio(codecs ...av.Codec) {
	r.audioPrefs = r.audioPrefs[:0]
	for _, c := range codecs {
		r.audioPrefs = append(r.audioPrefs, AudioPref{Codec: c})
	}
}

// PreferAudioTracks is PreferAudio with the track named per entry, for
// readers that rank a published codec above a derived one of another
// codec and below the same codec published (fMP4: the publisher's AAC or
// Opus, else Opus derived from MP3, else the MP3). Call it before the
// first Read.
func (r *Reader) PreferAudioTracks(prefs ...AudioPref) {
	r.audioPrefs = append(r.audioPrefs[:0], prefs...)
}

// audioChoice picks the reader's audio track. Caller holds s.mu (read).
func (r *Reader) audioChoice() audioChoice {
	if len(r.audioPrefs) == 0 {
		return audioChoice{}
	}
	s := r.s
	original := av.CodecUnknown
	if s.audio != nil {
		original = s.audio.Codec
	}
	for _, p := range r.audioPrefs {
		switch {
		case p.Codec == original && p.From != DerivedAudio:
			return audioChoice{codec: p.Codec}
		case p.Codec == s.derivedCodec && p.From != PublishedAudio:
			return audioChoice{codec: p.Codec, derived: true}
		}
	}
	return audioChoice{none: true}
}

// Tracks returns the video track and the audio track this reader passes on
// (see PreferAudio); audio is nil when the reader gets none or its derived
// track has not produced a packet yet.
func (r *Reader) Tracks() (video, audio *av.Track) {
	s := r.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch c := r.audioChoice(); {
	case c.none:
		return s.video, nil
	case c.derived:
		return s.video, s.derived
	default:
		return s.video, s.audio
	}
}

// Subscribe attaches a reader to this stream (Hub.Subscribe by path may
// find a newer stream at the same path).
func (s *Stream) Subscribe(ctx context.Context, info ClientInfo) (*Reader, error) {
	return s.subscribe(ctx, info)
}
