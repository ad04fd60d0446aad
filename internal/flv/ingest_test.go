package flv

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/av"
)

// recSink records what an Ingest hands on.
type recSink struct {
	announced    int
	video, audio bool
	pkts         []*av.Packet
}

func (s *recSink) Announce(v, a bool)             { s.announced++; s.video, s.audio = v, a }
func (s *recSink) WritePacket(p *av.Packet) error { s.pkts = append(s.pkts, p); return nil }

// identity is a Clock without wrap handling, for tests.
type identity struct{}

func (identity) Extend(ts uint32) int64 { return int64(ts) }

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestIngestAnnouncesPerMetadataAndUnpacksAggregates(t *testing.T) {
	sink := &recSink{}
	in := Ingest{Sink: sink, Clock: identity{}, Log: quietLog}
	in.Metadata([]any{"@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "videocodecid", Value: 7.0}}})
	// A frame before its sequence header is dropped.
	require.NoError(t, in.Tag(TagVideo, 0, []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}))
	require.Empty(t, sink.pkts)
	require.NoError(t, in.Tag(TagVideo, 0, append([]byte{0x17, 0, 0, 0, 0}, avcConfig...)))
	// An aggregate of two frames, sub-tag timestamps relative to the first.
	var agg []byte
	for i, ts := range []uint32{1000, 1040} {
		body := []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, byte(i)}
		agg = AppendTag(agg, TagVideo, ts, body)
	}
	require.NoError(t, in.Aggregate(40, agg))
	require.Len(t, sink.pkts, 2)
	require.Equal(t, int64(40), sink.pkts[0].DTS.Milliseconds())
	require.Equal(t, int64(80), sink.pkts[1].DTS.Milliseconds())
	require.Equal(t, 1, sink.announced, "metadata names video only: announced at its first frame")
	require.True(t, sink.video)
	require.False(t, sink.audio)
	require.Error(t, in.Aggregate(0, agg[:20]), "a truncated aggregate is malformed media")
}

func FuzzIngest(f *testing.F) {
	f.Add(uint8(TagVideo), append([]byte{0x17, 0, 0, 0, 0}, avcConfig...))
	f.Add(uint8(TagAudio), []byte{0xaf, 0, 0x12, 0x10})
	f.Add(uint8(22), AppendTag(nil, TagAudio, 5, []byte{0xaf, 1, 0x21}))
	f.Fuzz(func(t *testing.T, typ uint8, body []byte) {
		in := Ingest{Sink: &recSink{}, Clock: identity{}, Log: quietLog}
		for i := 0; i < 2; i++ {
			if typ == 22 {
				_ = in.Aggregate(uint32(i), body)
			} else {
				_ = in.Tag(typ, uint32(i), body)
			}
		}
		if vals, err := amf0.Decode(body); err == nil {
			in.Metadata(vals)
		}
	})
}
