package transcode

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// AudioBridges turns a stream's audio into the other codec of the AAC/Opus
// pair (or MP3 into Opus) with one ffmpeg per stream, and writes the
// result back into the same stream as its derived audio track
// (hub.Stream.WriteDerived), so that every protocol finds audio it can
// carry: WebRTC viewers of an RTMP (AAC or MP3) publish get Opus, and FLV,
// RTMP and MPEG-TS viewers of a WHIP (Opus) publish get AAC.
//
// Opus→AAC runs for the whole life of a stream whose publisher sends Opus
// (StreamStarted): FLV and MPEG-TS players cannot switch audio codecs in
// the middle of a stream, so the AAC must exist before they join. MP3→Opus
// runs for an MP3 stream's whole life too: besides WebRTC, the fMP4
// packager (LL-HLS, DASH) takes it, because browsers' Media Source
// Extensions decode no MP3 in MP4 (Chromium 156: isTypeSupported false for
// mp4a.6B, mp4a.69, mp4a.40.34 and mp3). AAC→Opus runs on demand
// (Acquire), from the first WebRTC viewer to the last.
type AudioBridges struct {
	// Hub holds the streams.
	Hub *hub.Hub
	// FFmpeg is the ffmpeg program. Default "ffmpeg".
	FFmpeg string
	// Logger receives bridge logs. Default slog.Default().
	Logger *slog.Logger

	mu      sync.Mutex
	bridges map[*hub.Stream]*audioBridge
	closed  bool
	wg      sync.WaitGroup
}

// audioBridge is one stream's running transcoder.
type audioBridge struct {
	to     av.Codec
	refs   int // guarded by AudioBridges.mu
	cancel context.CancelFunc
}

// Restart back-off of a failing bridge.
const (
	bridgeMinBackoff = 500 * time.Millisecond
	bridgeMaxBackoff = 10 * time.Second
)

func (b *AudioBridges) init() {
	if b.bridges == nil {
		b.bridges = make(map[*hub.Stream]*audioBridge)
	}
	if b.FFmpeg == "" {
		b.FFmpeg = "ffmpeg"
	}
	if b.Logger == nil {
		b.Logger = slog.Default()
	}
}

// Acquire makes st carry a derived audio track in codec to (av.CodecOpus
// or av.CodecAAC) for as long as the caller holds it: the first caller
// starts the bridge, release drops the reference and the last release
// stops it. When the publisher's audio already is in codec to, the bridge
// stays idle. release is safe to call more than once.
func (b *AudioBridges) Acquire(st *hub.Stream, to av.Codec) (release func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.init()
	if b.closed {
		return func() {}
	}
	br := b.bridges[st]
	if br == nil || br.to != to {
		if br != nil {
			// A stream carries one derived track; the newer need wins (the
			// publisher changed codec across a reconnect).
			br.cancel()
		}
		ctx, cancel := context.WithCancel(context.Background())
		br = &audioBridge{to: to, cancel: cancel}
		b.bridges[st] = br
		if _, err := exec.LookPath(b.FFmpeg); err == nil {
			// Announced now, not once ffmpeg runs: a reader that starts
			// meanwhile (a packager) waits for the derived track instead
			// of taking the original and switching codec later.
			st.AnnounceDerived(to)
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.run(ctx, st, to)
			b.mu.Lock()
			if b.bridges[st] == br {
				delete(b.bridges, st)
			}
			b.mu.Unlock()
		}()
	}
	br.refs++
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if br.refs--; br.refs == 0 {
				br.cancel()
			}
		})
	}
}

// StreamStarted is wired to hub.Options.OnStreamStart: when the new
// stream's publisher sends Opus, an AAC bridge runs until the stream ends;
// when it sends MP3, an Opus bridge does.
func (b *AudioBridges) StreamStarted(path string) {
	st := b.Hub.Stream(path)
	if st == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := st.Subscribe(ctx, hub.ClientInfo{Protocol: "audio-probe", Remote: "sluice"})
	if err != nil {
		return
	}
	defer r.Close()
	codec, err := firstAudioCodec(ctx, r)
	if err != nil {
		return
	}
	// Held until the stream ends: run returns then.
	switch codec {
	case av.CodecOpus:
		b.Acquire(st, av.CodecAAC)
	case av.CodecMP3:
		b.Acquire(st, av.CodecOpus)
	}
}

// firstAudioCodec reads r until its first audio packet.
func firstAudioCodec(ctx context.Context, r *hub.Reader) (av.Codec, error) {
	buf := make([]*av.Packet, 0, 64)
	for {
		pkts, err := r.Read(ctx, buf[:0])
		for _, p := range pkts {
			if p.Kind() == av.KindAudio {
				return p.Track.Codec, nil
			}
		}
		if err != nil {
			return av.CodecUnknown, err
		}
		if hasVideo, hasAudio := r.Stream().Kinds(); hasVideo && !hasAudio {
			return av.CodecUnknown, errors.New("no audio")
		}
	}
}

// run keeps one ffmpeg transcoding st's audio to codec to, restarting it
// with back-off, until ctx ends or the stream does.
func (b *AudioBridges) run(ctx context.Context, st *hub.Stream, to av.Codec) {
	log := b.Logger.With("path", st.Path(), "to", to.String())
	if _, err := exec.LookPath(b.FFmpeg); err != nil {
		log.Warn("audio bridge unavailable: ffmpeg not found; viewers that need this codec get no audio", "err", err)
		return
	}
	r, err := st.Subscribe(ctx, hub.ClientInfo{Protocol: "audio-bridge", Remote: "ffmpeg"})
	if err != nil {
		return
	}
	defer r.Close()
	st.AnnounceDerived(to)
	defer st.AnnounceDerived(av.CodecUnknown)
	log.Info("audio bridge started")
	backoff := bridgeMinBackoff
	for {
		start := time.Now()
		err := b.transcodeOnce(ctx, r, st, to)
		switch {
		case ctx.Err() != nil:
			log.Info("audio bridge stopped")
			return
		case errors.Is(err, hub.ErrEnded), errors.Is(err, errSameCodec):
			log.Info("audio bridge stopped", "reason", err.Error())
			return
		case errors.Is(err, errCannotBridge):
			log.Warn("audio bridge stopped; viewers that need this codec get no audio", "reason", err.Error())
			return
		}
		if time.Since(start) > time.Minute {
			backoff = bridgeMinBackoff
		}
		log.Warn("audio bridge failed; restarting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, bridgeMaxBackoff)
	}
}

// Close stops every bridge and waits for their ffmpeg processes.
func (b *AudioBridges) Close() {
	b.mu.Lock()
	b.closed = true
	for _, br := range b.bridges {
		br.cancel()
	}
	b.mu.Unlock()
	b.wg.Wait()
}
