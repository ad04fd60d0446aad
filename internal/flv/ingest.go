package flv

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/av"
)

// announceAfter is how much media a publisher without usable metadata sends
// before its track set is taken as final.
const announceAfter = time.Second

// Sink receives what an Ingest makes of a stream; *hub.Publisher is one.
type Sink interface {
	// Announce declares the track kinds once they are known.
	Announce(hasVideo, hasAudio bool)
	// WritePacket takes one coded frame.
	WritePacket(pkt *av.Packet) error
}

// Clock extends wrapping 32-bit FLV/RTMP millisecond timestamps to a
// continuous timeline; *rtmp.Timeline is one.
type Clock interface {
	Extend(ts uint32) int64
}

// Ingest turns the tags of one incoming FLV stream — an RTMP publisher's
// or a pulled source's (RTMP play, HTTP-FLV) audio, video, aggregate and
// onMetaData messages — into packets for its Sink: it demuxes legacy and
// Enhanced RTMP bodies, extends timestamps, drops frames that precede
// their sequence header (one log line), and announces the track set once
// it is known (every codec the metadata names is configured, or both
// kinds are present, or a second of media has passed). Use one Ingest
// per stream, from one goroutine.
type Ingest struct {
	// Sink receives the packets. Required.
	Sink Sink
	// Clock extends the wire timestamps. Required.
	Clock Clock
	// Log receives the once-per-stream warnings. Default slog.Default().
	Log *slog.Logger
	// Unsupported, if set, is called for a frame of a codec Sluice does
	// not carry (the frame is dropped either way); its error ends the
	// stream. The RTMP server tells its publisher.
	Unsupported func(typ uint8, body []byte, err error) error

	demux        Demuxer
	metaKnown    bool
	expectVideo  bool
	expectAudio  bool
	announced    bool
	firstTS      int64
	haveFirstTS  bool
	droppedNoHdr int
}

// Metadata handles a data message (@setDataFrame / onMetaData); other
// data messages are ignored.
func (in *Ingest) Metadata(vals []any) {
	if len(vals) > 0 && vals[0] == "@setDataFrame" {
		vals = vals[1:]
	}
	if len(vals) < 2 || vals[0] != "onMetaData" {
		return
	}
	var md amf0.ECMAArray
	switch v := vals[1].(type) {
	case amf0.ECMAArray:
		md = v
	case amf0.Object:
		md = amf0.ECMAArray(v)
	default:
		return
	}
	in.metaKnown = true
	in.expectVideo = hasCodec(md, "videocodecid")
	in.expectAudio = hasCodec(md, "audiocodecid")
}

func hasCodec(md amf0.ECMAArray, key string) bool {
	v, ok := md.Get(key)
	if !ok {
		return false
	}
	switch x := v.(type) {
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return false
}

// Tag handles one audio (TagAudio) or video (TagVideo) body at wire
// timestamp wireTS. Other tag types are ignored. Its error (malformed
// media, or the Sink's) ends the stream.
func (in *Ingest) Tag(typ uint8, wireTS uint32, body []byte) error {
	if len(body) == 0 || (typ != TagAudio && typ != TagVideo) {
		return nil // some encoders send empty audio/video messages
	}
	ts := in.Clock.Extend(wireTS)
	var (
		pkt *av.Packet
		err error
	)
	if typ == TagVideo {
		pkt, err = in.demux.Video(ts, body)
	} else {
		pkt, err = in.demux.Audio(ts, body)
	}
	switch {
	case errors.Is(err, ErrNoSequenceHeader):
		in.droppedNoHdr++
		if in.droppedNoHdr == 1 {
			in.log().Warn("flv frame before its sequence header dropped", "type", typ)
		}
		return nil
	case errors.Is(err, ErrUnsupportedCodec):
		if in.Unsupported != nil {
			return in.Unsupported(typ, body, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("malformed media: %w", err)
	}
	if !in.haveFirstTS {
		in.firstTS, in.haveFirstTS = ts, true
	}
	in.maybeAnnounce(ts)
	if pkt == nil {
		return nil
	}
	return in.Sink.WritePacket(pkt)
}

func (in *Ingest) log() *slog.Logger {
	if in.Log != nil {
		return in.Log
	}
	return slog.Default()
}

// maybeAnnounce declares the track set once it is known.
func (in *Ingest) maybeAnnounce(ts int64) {
	if in.announced {
		return
	}
	v, a := in.demux.VideoTrack() != nil, in.demux.AudioTrack() != nil
	ready := v && a
	if in.metaKnown {
		ready = (v || !in.expectVideo) && (a || !in.expectAudio) && (v || a)
	}
	if !ready && time.Duration(ts-in.firstTS)*time.Millisecond >= announceAfter && (v || a) {
		ready = true
	}
	if ready {
		in.announced = true
		in.Sink.Announce(v, a)
	}
}

// Aggregate unpacks an aggregate message (a run of FLV tags, RTMP spec
// §7.1.6) whose own timestamp is wireTS; sub-tag timestamps are relative
// to the first one.
func (in *Ingest) Aggregate(wireTS uint32, b []byte) error {
	var base uint32
	first := true
	for len(b) > 0 {
		if len(b) < TagHeaderSize {
			return errors.New("malformed aggregate message: truncated tag header")
		}
		typ := b[0]
		size := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		ts := uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]) | uint32(b[7])<<24
		if len(b) < TagHeaderSize+size+4 {
			return errors.New("malformed aggregate message: truncated tag body")
		}
		body := b[TagHeaderSize : TagHeaderSize+size]
		b = b[TagHeaderSize+size+4:]
		if first {
			base, first = ts, false
		}
		if err := in.Tag(typ, wireTS+(ts-base), body); err != nil {
			return err
		}
	}
	return nil
}
