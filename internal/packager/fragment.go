package packager

import (
	"encoding/binary"
	"errors"
)

// Track IDs of the packager's fMP4 tracks (tkhd/tfhd track_ID).
const (
	// TrackVideo is the track ID of video.
	TrackVideo = 1
	// TrackAudio is the track ID of audio.
	TrackAudio = 2
)

// trackFragment locates, inside a part's one buffer, the CMAF fragment
// of one track: a moof with a single traf and an mdat holding only that
// track's samples (CMAF §7.3.2.2; DASH-IF IOP §3.2.2: one media component
// per Representation). Its sample bytes are not copied: payload is the
// track's run inside the muxed part's mdat, header its own moof and mdat
// box header, so HLS (muxed) and DASH (per track) share one copy.
type trackFragment struct {
	header  []byte
	payload []byte
	samples int
}

// Box sizes of the fragment layout (ISO/IEC 14496-12 §8.8).
const (
	boxHeader  = 8
	mfhdSize   = boxHeader + 4 + 4     // full box + sequence_number
	tfhdSize   = boxHeader + 4 + 4     // full box + track_ID
	tfdtSize   = boxHeader + 4 + 8     // full box v1 + baseMediaDecodeTime
	trunFixed  = boxHeader + 4 + 4 + 4 // full box + sample_count + data_offset
	trafFixed  = boxHeader + tfhdSize + tfdtSize + trunFixed
	moofFixed  = boxHeader + mfhdSize
	maxMdatLen = 1<<32 - 1
)

// trun flags (ISO/IEC 14496-12 §8.8.8.1) and sample flags (§8.8.3.1).
const (
	trunDataOffset     = 0x000001
	trunSampleDuration = 0x000100
	trunSampleSize     = 0x000200
	trunSampleFlags    = 0x000400
	trunSampleCTO      = 0x000800
	tfhdBaseIsMoof     = 0x020000
	sampleNonSync      = 1 << 16
)

// trunFlags are the trun flags for g's samples: flags only when a sample
// is not a sync sample, composition offsets only when one is non-zero.
func trunFlags(g *sampleGroup) uint32 {
	f := uint32(trunDataOffset | trunSampleDuration | trunSampleSize)
	for _, s := range g.samples {
		if !s.pkt.Key {
			f |= trunSampleFlags
		}
		if s.cts != 0 {
			f |= trunSampleCTO
		}
	}
	return f
}

// trafSize is the size of g's traf box.
func trafSize(g *sampleGroup) int {
	f := trunFlags(g)
	entry := 8
	if f&trunSampleFlags != 0 {
		entry += 4
	}
	if f&trunSampleCTO != 0 {
		entry += 4
	}
	return trafFixed + entry*len(g.samples)
}

func payloadSize(g *sampleGroup) int {
	n := 0
	for _, s := range g.samples {
		n += len(s.pkt.Data)
	}
	return n
}

// fragWriter appends boxes to a buffer sized in advance.
type fragWriter struct{ b []byte }

func (w *fragWriter) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }

func (w *fragWriter) box(size int, typ string) {
	w.u32(uint32(size))
	w.b = append(w.b, typ...)
}

// moof writes a moof holding groups' trafs, whose data start at
// dataStart bytes from the moof's start, one group after the other.
func (w *fragWriter) moof(seq uint32, groups []*sampleGroup, dataStart int) {
	size := moofFixed
	for _, g := range groups {
		size += trafSize(g)
	}
	w.box(size, "moof")
	w.box(mfhdSize, "mfhd")
	w.u32(0)
	w.u32(seq)
	off := dataStart
	for _, g := range groups {
		flags := trunFlags(g)
		w.box(trafSize(g), "traf")
		w.box(tfhdSize, "tfhd")
		w.u32(tfhdBaseIsMoof)
		w.u32(uint32(g.ts.id))
		w.box(tfdtSize, "tfdt")
		w.u32(1 << 24) // version 1
		w.b = binary.BigEndian.AppendUint64(w.b, uint64(g.samples[0].dts))
		w.box(trafSize(g)-trafFixed+trunFixed, "trun")
		w.u32(1<<24 | flags) // version 1: signed composition offsets
		w.u32(uint32(len(g.samples)))
		w.u32(uint32(off))
		for _, s := range g.samples {
			w.u32(uint32(s.dur))
			w.u32(uint32(len(s.pkt.Data)))
			if flags&trunSampleFlags != 0 {
				var sf uint32
				if !s.pkt.Key {
					sf = sampleNonSync
				}
				w.u32(sf)
			}
			if flags&trunSampleCTO != 0 {
				w.u32(uint32(int32(s.cts)))
			}
		}
		off += payloadSize(g)
	}
}

// fragment serializes groups (each non-empty, at most one per track) as
// one buffer: first the muxed part, a moof with every track's traf and
// one mdat with their samples in group order (what HLS serves), then
// each track's own moof and mdat header, whose samples are the track's
// run inside the muxed mdat (what DASH serves, see trackFragment). The
// muxed bytes are those of mediacommon's fmp4.Part.Marshal.
func fragment(seq uint32, groups []*sampleGroup) (muxed []byte, tracks [3]trackFragment, err error) {
	moofSize, data := moofFixed, 0
	perTrack := 0
	for _, g := range groups {
		moofSize += trafSize(g)
		data += payloadSize(g)
		perTrack += moofFixed + trafSize(g) + boxHeader
	}
	if data+boxHeader > maxMdatLen {
		return nil, tracks, errors.New("packager: part larger than 4 GiB")
	}
	muxedLen := moofSize + boxHeader + data
	w := fragWriter{b: make([]byte, 0, muxedLen+perTrack)}
	w.moof(seq, groups, moofSize+boxHeader)
	w.box(boxHeader+data, "mdat")
	starts := make([]int, len(groups))
	for i, g := range groups {
		starts[i] = len(w.b)
		for _, s := range g.samples {
			w.b = append(w.b, s.pkt.Data...)
		}
	}
	for i, g := range groups {
		h := len(w.b)
		one := []*sampleGroup{g}
		w.moof(seq, one, moofFixed+trafSize(g)+boxHeader)
		n := payloadSize(g)
		w.box(boxHeader+n, "mdat")
		tracks[g.ts.id] = trackFragment{
			header:  w.b[h:len(w.b):len(w.b)],
			payload: w.b[starts[i] : starts[i]+n : starts[i]+n],
			samples: len(g.samples),
		}
	}
	return w.b[:muxedLen:muxedLen], tracks, nil
}
