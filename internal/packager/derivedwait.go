package packager

import (
	"context"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// derivedAudioWait bounds how long a new packager waits for a derived
// audio track (internal/transcode starts ffmpeg with the stream; its first
// frame follows within a few hundred milliseconds).
const derivedAudioWait = 2 * time.Second

// readerTracks returns r's tracks, first waiting up to derivedAudioWait
// while the stream has, or announced, audio that r does not get yet: no
// audio packet has come, or the derived track r prefers has produced no
// packet (e.g. the Opus of an MP3 publisher, which fMP4 takes), or, for
// fMP4, r gets MP3 while that Opus may still be announced (the bridge
// starts on the stream's first audio packet). Starting without it would
// make the first segments silent (or MP3, which MSE does not decode) and
// change the audio only after a discontinuity, which MSE players cannot
// take up: their SourceBuffers are fixed at the start.
func readerTracks(ctx context.Context, r *hub.Reader, f Format) (video, audio *av.Track) {
	pending := func() bool {
		video, audio = r.Tracks()
		_, hasAudio := r.Stream().Kinds()
		_, original := r.Stream().Tracks()
		switch {
		case audio == nil:
			return hasAudio || original != nil
		case f == FormatFMP4 && audio.Codec == av.CodecMP3:
			return true
		}
		return false
	}
	if !pending() {
		return video, audio
	}
	deadline := time.NewTimer(derivedAudioWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.Tracks()
		case <-deadline.C:
			return r.Tracks()
		case <-tick.C:
			if !pending() {
				return video, audio
			}
		}
	}
}
