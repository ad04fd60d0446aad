package config

// ThumbnailConfig is the "thumbnail" section: GET /APP/NAME.jpg, the
// stream's newest keyframe as a JPEG, decoded by ffmpeg on demand.
type ThumbnailConfig struct {
	// Cache is how long a thumbnail is served again before a newer
	// keyframe of the stream is decoded. Default 5s.
	Cache Duration `yaml:"cache"`
	// MaxConcurrent bounds the ffmpeg runs making thumbnails, all streams
	// together (each stream has at most one; concurrent requests share
	// it). 1..64. Default 2.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Timeout bounds making one thumbnail: waiting for a run slot plus the
	// ffmpeg run. Default 10s.
	Timeout Duration `yaml:"timeout"`
}

// thumbnail validates the "thumbnail" section.
func (v *validator) thumbnail(t ThumbnailConfig) {
	v.positiveDuration("thumbnail.cache", t.Cache)
	v.between("thumbnail.max_concurrent", t.MaxConcurrent, 1, 64)
	v.positiveDuration("thumbnail.timeout", t.Timeout)
}
