package hlsserver

import "github.com/sluicemedia/sluice/internal/packager"

// Object storage (paths.*.hls.upload) holds the classic playlist of a
// stream next to its media, named as here, so a CDN in front of the bucket
// serves viewers with nothing but static files.

// StoredPlaylist renders the classic media playlist of snap (no LL-HLS
// tags: blocking reloads cannot be served from a bucket) with media named
// relative to the playlist: StoredInitName and StoredSegmentName.
func StoredPlaylist(snap *packager.Snapshot) []byte {
	return renderPlaylist(snap, playlistOptions{})
}

// StoredInitName is the object name of init section id of session sid.
func StoredInitName(sid string, id int) string { return initName(sid, id) }

// StoredSegmentName is the object name of segment msn of session sid.
func StoredSegmentName(sid string, msn uint64, ts bool) string { return segmentName(sid, msn, ts) }
