package flv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// Demuxer turns the audio and video tag bodies of one stream (from an RTMP
// publisher or an FLV file), in order, into hub packets. It keeps the current
// Track per kind: a sequence header with a new configuration creates a new
// Track, and every coded frame points at the Track in force. The zero value
// is ready to use; it is not safe for concurrent use.
//
// Only the default track (TrackID 0) of Enhanced RTMP multitrack streams is
// kept; tags of other tracks, metadata, commands and end-of-sequence tags
// yield (nil, nil).
type Demuxer struct {
	video, audio *av.Track
	// naluLenSize is the NAL unit length size of the publisher's video
	// frames (1, 2 or 4); Packet.Data always uses 4.
	naluLenSize int
}

// VideoTrack returns the current video track, nil before the first video
// sequence header.
func (d *Demuxer) VideoTrack() *av.Track { return d.video }

// AudioTrack returns the current audio track, nil before the first audio
// sequence header (or the first Opus frame, for which one is implied).
func (d *Demuxer) AudioTrack() *av.Track { return d.audio }

// Video handles one video tag body with timestamp ts (milliseconds on a
// continuous 64-bit timeline: callers extend the wrapping 32-bit FLV/RTMP
// value first, see rtmp.Timeline). A
// sequence header replaces the video track when its configuration differs
// from the current one and returns (nil, nil). A coded frame returns a packet
// with DTS ts, PTS ts+CTS, Key from the frame type and a copy of the payload
// (body may be reused by the caller); H.264/H.265 NAL unit lengths are
// rewritten to 4 bytes when the publisher uses 1 or 2. A coded frame before
// any sequence header yields an error wrapping ErrNoSequenceHeader, which
// callers usually treat as "drop".
func (d *Demuxer) Video(ts int64, body []byte) (*av.Packet, error) {
	v, err := ParseVideo(body)
	if err != nil {
		return nil, err
	}
	if v.TrackID != 0 {
		return nil, nil
	}
	switch v.PacketType {
	case SequenceHeader:
		return nil, d.videoConfig(v)
	case Coded:
	default:
		return nil, nil
	}
	if d.video == nil {
		return nil, fmt.Errorf("flv: %s video frame at %d ms: %w", v.Codec, ts, ErrNoSequenceHeader)
	}
	if d.video.Codec != v.Codec {
		return nil, fmt.Errorf("flv: %s video frame at %d ms on a %s track: %w", v.Codec, ts, d.video.Codec, ErrNoSequenceHeader)
	}
	if len(v.Data) == 0 {
		return nil, nil // some encoders send empty NALU packets
	}
	var data []byte
	if d.naluLenSize != 0 && d.naluLenSize != 4 {
		data, err = widenNALULengths(v.Data, d.naluLenSize)
		if err != nil {
			return nil, fmt.Errorf("flv: %s video frame at %d ms: %w", v.Codec, ts, err)
		}
	} else {
		data = bytes.Clone(v.Data)
	}
	dts := time.Duration(ts) * time.Millisecond
	return &av.Packet{
		Track:   d.video,
		DTS:     dts,
		PTS:     dts + time.Duration(v.CTS)*time.Millisecond,
		Key:     v.Key,
		Data:    data,
		Arrival: time.Now(),
	}, nil
}

// videoConfig installs the configuration of a video sequence header.
func (d *Demuxer) videoConfig(v VideoTag) error {
	cfg := bytes.Clone(v.Data)
	lenSize := av.NALULengthSize(v.Codec, cfg)
	if lenSize != 0 && lenSize != 4 {
		// Packet.Data always has 4-byte lengths; make the record say so.
		if v.Codec == av.CodecH264 {
			cfg[4] |= 3
		} else {
			cfg[21] |= 3
		}
	}
	if d.video != nil && d.video.Codec == v.Codec && bytes.Equal(d.video.Config, cfg) {
		return nil
	}
	t, err := av.NewTrack(v.Codec, cfg)
	if err != nil {
		return fmt.Errorf("flv: video sequence header: %w", err)
	}
	d.video, d.naluLenSize = t, lenSize
	return nil
}

// widenNALULengths copies NAL units with size-byte length prefixes into a
// new buffer with 4-byte prefixes.
func widenNALULengths(b []byte, size int) ([]byte, error) {
	out := make([]byte, 0, len(b)+len(b)/2+4)
	for len(b) > 0 {
		if len(b) < size {
			return nil, fmt.Errorf("NAL unit length: %w", ErrTruncated)
		}
		var l int
		for _, c := range b[:size] {
			l = l<<8 | int(c)
		}
		b = b[size:]
		if l > len(b) {
			return nil, fmt.Errorf("NAL unit of %d bytes: %w", l, ErrTruncated)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(l))
		out = append(out, b[:l]...)
		b = b[l:]
	}
	return out, nil
}

// Audio handles one audio tag body with timestamp ts (milliseconds). A
// sequence header replaces the audio track when its configuration differs
// and returns (nil, nil). A coded frame returns a key packet with PTS = DTS =
// ts and a copy of the payload. Opus frames before any sequence header get a
// default stereo Opus track (Enhanced RTMP makes the Opus header optional);
// MP3 frames make their track from their own header (see av.MP3Config);
// AAC frames yield an error wrapping ErrNoSequenceHeader.
func (d *Demuxer) Audio(ts int64, body []byte) (*av.Packet, error) {
	a, err := ParseAudio(body)
	if err != nil {
		return nil, err
	}
	if a.TrackID != 0 {
		return nil, nil
	}
	switch a.PacketType {
	case SequenceHeader:
		return nil, d.audioConfig(a.Codec, a.Data)
	case Coded:
	default:
		return nil, nil
	}
	if a.Codec == av.CodecMP3 && len(a.Data) > 0 {
		// No sequence header: each frame carries its parameters, and a
		// change of them (sampling frequency, channels) is a new track. A
		// frame that does not start with a header keeps the current track;
		// before any, it is dropped like a frame before its sequence header.
		cfg, err := av.MP3Config(a.Data)
		switch {
		case err == nil:
			if err := d.audioConfig(av.CodecMP3, cfg); err != nil {
				return nil, err
			}
		case d.audio == nil || d.audio.Codec != av.CodecMP3:
			return nil, fmt.Errorf("flv: mp3 audio frame at %d ms: %v: %w", ts, err, ErrNoSequenceHeader)
		}
	}
	if d.audio == nil || d.audio.Codec != a.Codec {
		if a.Codec != av.CodecOpus {
			return nil, fmt.Errorf("flv: %s audio frame at %d ms: %w", a.Codec, ts, ErrNoSequenceHeader)
		}
		if err := d.audioConfig(av.CodecOpus, nil); err != nil {
			return nil, err
		}
	}
	if len(a.Data) == 0 {
		return nil, nil
	}
	dts := time.Duration(ts) * time.Millisecond
	return &av.Packet{
		Track:   d.audio,
		DTS:     dts,
		PTS:     dts,
		Key:     true,
		Data:    bytes.Clone(a.Data),
		Arrival: time.Now(),
	}, nil
}

// audioConfig installs the configuration of an audio sequence header.
func (d *Demuxer) audioConfig(codec av.Codec, config []byte) error {
	if d.audio != nil && d.audio.Codec == codec && bytes.Equal(d.audio.Config, config) {
		return nil
	}
	t, err := av.NewTrack(codec, bytes.Clone(config))
	if err != nil {
		return fmt.Errorf("flv: audio sequence header: %w", err)
	}
	d.audio = t
	return nil
}
