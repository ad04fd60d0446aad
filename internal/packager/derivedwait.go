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
// while the stream has audio that r does not get yet — the derived track
// r prefers has produced no packet (e.g. the Opus of an MP3 publisher
// that the fMP4 packager takes). Starting without it would make the first
// segments silent and add audio only after a discontinuity, which MSE
// players cannot take up (their SourceBuffers are fixed at the start).
func readerTracks(ctx context.Context, r *hub.Reader) (video, audio *av.Track) {
	video, audio = r.Tracks()
	if _, original := r.Stream().Tracks(); audio != nil || original == nil {
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
			if video, audio = r.Tracks(); audio != nil {
				return video, audio
			}
		}
	}
}
