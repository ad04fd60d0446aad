package hub

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// audioCodecs lists the codec (and derived flag) of every audio packet.
func audioCodecs(pkts []*av.Packet) []string {
	var out []string
	for _, p := range pkts {
		if p.Kind() != av.KindAudio {
			continue
		}
		name := p.Track.Codec.String()
		if p.Track.Derived {
			name += "*"
		}
		out = append(out, name)
	}
	return out
}

func TestDerivedAudioGoesOnlyToReadersThatPreferIt(t *testing.T) {
	h := quietHub(Options{})
	p, err := h.Publish("live/d", ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	opus := &av.Track{Codec: av.CodecOpus}
	aac := &av.Track{Codec: av.CodecAAC, Config: []byte{0x11, 0x90}, Derived: true}
	require.NoError(t, p.WritePacket(&av.Packet{Track: testVideo, Key: true, Data: []byte{1}}))

	open := func(prefs ...av.Codec) *Reader {
		r, err := h.Subscribe(context.Background(), "live/d", ClientInfo{Protocol: "test"})
		require.NoError(t, err)
		t.Cleanup(r.Close)
		r.PreferAudio(prefs...)
		return r
	}
	plain, flvLike, tsLike, webrtcLike := open(), open(av.CodecAAC, av.CodecOpus), open(av.CodecAAC), open(av.CodecOpus)

	st := h.Stream("live/d")
	require.ErrorIs(t, st.WriteDerived(&av.Packet{Track: aac, Data: []byte{2}}), ErrNotDerived, "nothing announced yet")

	// Before any announcement: the original Opus goes to whoever can carry it.
	require.NoError(t, p.WritePacket(&av.Packet{Track: opus, Key: true, Data: []byte{3}}))
	st.AnnounceDerived(av.CodecAAC)
	// After it: readers that prefer AAC skip the original even before the
	// first derived packet exists.
	require.NoError(t, p.WritePacket(&av.Packet{Track: opus, DTS: 20 * time.Millisecond, Key: true, Data: []byte{4}}))
	_, a := flvLike.Tracks()
	require.Nil(t, a, "no derived packet yet: no audio track for an AAC reader")
	require.NoError(t, st.WriteDerived(&av.Packet{Track: aac, Key: true, Data: []byte{5}}))
	require.NoError(t, p.WritePacket(&av.Packet{Track: testVideo, DTS: 40 * time.Millisecond, Data: []byte{6}}))

	require.Equal(t, []string{"opus", "opus"}, audioCodecs(readN(t, plain, 4)), "a reader without preferences sees only the publisher's audio")
	require.Equal(t, []string{"aac*"}, audioCodecs(readN(t, tsLike, 3)), "an AAC-only reader gets the derived AAC and never Opus")
	require.Equal(t, []string{"aac*"}, audioCodecs(readN(t, flvLike, 3)), "the choice is made at read time: once AAC is announced, Opus is skipped")
	require.Equal(t, []string{"opus", "opus"}, audioCodecs(readN(t, webrtcLike, 4)))

	_, a = flvLike.Tracks()
	require.Same(t, aac, a)
	_, a = webrtcLike.Tracks()
	require.Same(t, opus, a)
	require.Same(t, aac, st.Stats().DerivedAudio)

	// Withdrawn (transcoder stopped): AAC readers get nothing rather than a
	// codec they cannot carry; the FLV-like reader falls back to Opus.
	st.AnnounceDerived(av.CodecUnknown)
	require.NoError(t, p.WritePacket(&av.Packet{Track: opus, DTS: 60 * time.Millisecond, Key: true, Data: []byte{7}}))
	require.NoError(t, p.WritePacket(&av.Packet{Track: testVideo, DTS: 80 * time.Millisecond, Data: []byte{8}}))
	require.Equal(t, []string{"opus"}, audioCodecs(readN(t, flvLike, 2)))
	require.Empty(t, audioCodecs(readN(t, tsLike, 1)))
	_, a = tsLike.Tracks()
	require.Nil(t, a)
}

// An fMP4-like reader ranks the publisher's AAC or Opus above any derived
// track, and a derived Opus above a published MP3: per-track preferences
// (PreferAudioTracks), which a codec order alone cannot say.
func TestPreferAudioTracksRanksPublishedAboveDerived(t *testing.T) {
	fmp4Prefs := []AudioPref{
		{Codec: av.CodecAAC, From: PublishedAudio},
		{Codec: av.CodecOpus, From: PublishedAudio},
		{Codec: av.CodecOpus, From: DerivedAudio},
		{Codec: av.CodecMP3, From: PublishedAudio},
	}
	for _, tc := range []struct {
		published, derived av.Codec
		want               string
	}{
		{av.CodecOpus, av.CodecAAC, "opus"}, // a WHIP publisher: its Opus, not the AAC made for FLV
		{av.CodecAAC, av.CodecOpus, "aac"},  // an RTMP publisher watched over WHEP: its AAC
		{av.CodecMP3, av.CodecOpus, "opus*"},
		{av.CodecMP3, av.CodecUnknown, "mp3"}, // no bridge: the MP3 itself
	} {
		t.Run(tc.published.String()+"+"+tc.derived.String(), func(t *testing.T) {
			h := quietHub(Options{})
			p, err := h.Publish("live/p", ClientInfo{Protocol: "test"})
			require.NoError(t, err)
			p.Announce(true, true)
			r, err := h.Subscribe(context.Background(), "live/p", ClientInfo{Protocol: "test"})
			require.NoError(t, err)
			t.Cleanup(r.Close)
			r.PreferAudioTracks(fmp4Prefs...)
			st := h.Stream("live/p")
			require.NoError(t, p.WritePacket(&av.Packet{Track: testVideo, Key: true, Data: []byte{1}}))
			if tc.derived != av.CodecUnknown {
				st.AnnounceDerived(tc.derived)
				require.NoError(t, st.WriteDerived(&av.Packet{Track: &av.Track{Codec: tc.derived, Derived: true}, Key: true, Data: []byte{2}}))
			}
			require.NoError(t, p.WritePacket(&av.Packet{Track: &av.Track{Codec: tc.published}, DTS: 20 * time.Millisecond, Key: true, Data: []byte{3}}))
			require.NoError(t, p.WritePacket(&av.Packet{Track: testVideo, DTS: 40 * time.Millisecond, Data: []byte{4}}))
			require.Equal(t, []string{tc.want}, audioCodecs(readN(t, r, 3)), "audio an fMP4 reader gets")
		})
	}
}
