package pulltest

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/substructs"

	"github.com/sluicemedia/sluice/internal/av"
)

// WriteTS writes pkts as an MPEG-TS file in dir with mediacommon's writer
// and returns its name: what a Debian ffmpeg (5.1, no Enhanced FLV) can
// decode for H.265 and Opus. Keyframes get their track's parameter sets
// in front (the hub's payloads carry them only in Track.Config). The
// first track of each kind fixes the file's tracks.
func WriteTS(t testing.TB, dir string, pkts []Received) string {
	t.Helper()
	var video, audio *av.Track
	for _, p := range pkts {
		if p.Kind() == av.KindVideo && video == nil {
			video = p.Track
		} else if p.Kind() == av.KindAudio && audio == nil {
			audio = p.Track
		}
	}
	var tracks []*mpegts.Track
	var vt, at *mpegts.Track
	if video != nil {
		vt = &mpegts.Track{Codec: &tscodecs.H264{}}
		if video.Codec == av.CodecH265 {
			vt.Codec = &tscodecs.H265{}
		}
		tracks = append(tracks, vt)
	}
	if audio != nil {
		at = &mpegts.Track{}
		switch audio.Codec {
		case av.CodecAAC:
			var c mpeg4audio.AudioSpecificConfig
			if err := c.Unmarshal(audio.Config); err != nil {
				t.Fatalf("AAC config: %v", err)
			}
			at.Codec = &tscodecs.MPEG4Audio{Config: c}
		case av.CodecOpus:
			at.Codec = &tscodecs.Opus{Desc: &substructs.OpusAudioDescriptor{ChannelConfigCode: uint8(audio.Channels)}}
		default:
			t.Fatalf("WriteTS: audio codec %s", audio.Codec)
		}
		tracks = append(tracks, at)
	}
	name := filepath.Join(dir, "pulled.ts")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	w := &mpegts.Writer{W: bw, Tracks: tracks}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	ticks := func(d interface{ Nanoseconds() int64 }) int64 { return d.Nanoseconds() * 9 / 100000 } // 90 kHz
	for _, p := range pkts {
		var err error
		switch {
		case p.Kind() == av.KindVideo:
			au := splitAVCC(t, p.Data)
			if p.Key {
				au = append(paramSets(t, p.Track), au...)
			}
			if p.Track.Codec == av.CodecH265 {
				err = w.WriteH265(vt, ticks(p.PTS), ticks(p.DTS), au)
			} else {
				err = w.WriteH264(vt, ticks(p.PTS), ticks(p.DTS), au)
			}
		case p.Track.Codec == av.CodecAAC:
			err = w.WriteMPEG4Audio(at, ticks(p.PTS), [][]byte{p.Data})
		case p.Track.Codec == av.CodecOpus:
			err = w.WriteOpus(at, ticks(p.PTS), [][]byte{p.Data})
		}
		if err != nil {
			t.Fatalf("write TS: %v", err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return name
}

// splitAVCC returns the NAL units of a hub video payload.
func splitAVCC(t testing.TB, b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			t.Fatalf("hub payload: NAL unit of %d bytes exceeds %d", n, len(b)-4)
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	if len(b) != 0 {
		t.Fatalf("hub payload: %d trailing bytes", len(b))
	}
	return out
}

// paramSets returns the parameter sets in a video track's config.
func paramSets(t testing.TB, tr *av.Track) [][]byte {
	if tr.Codec == av.CodecH265 {
		vps, sps, pps, err := av.H265ParameterSets(tr.Config)
		if err != nil {
			t.Fatal(err)
		}
		return append(append(vps, sps...), pps...)
	}
	sps, pps, err := av.H264ParameterSets(tr.Config)
	if err != nil {
		t.Fatal(err)
	}
	return append(sps, pps...)
}
