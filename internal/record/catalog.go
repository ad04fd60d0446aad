package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxCached bounds the file indexes the Catalog keeps in memory; past it,
// entries are evicted and parsed again when asked.
const maxCached = 50000

// maxCachedFragments bounds the fragments of all cached indexes (about
// 64 bytes each: 128 MiB); past it the cache is emptied.
const maxCachedFragments = 2 << 20

// fileRE matches a recording's file name (fileTimeLayout + ".mp4"), the
// only names the Catalog lists or serves.
var fileRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z\.mp4$`)

// ValidFileName reports whether name is a recording file name (no
// directory part, so it cannot leave its stream's directory).
func ValidFileName(name string) bool { return fileRE.MatchString(name) }

// fileStart parses the wall-clock start from a file name.
func fileStart(name string) (time.Time, bool) {
	if !ValidFileName(name) {
		return time.Time{}, false
	}
	t, err := time.Parse(fileTimeLayout, strings.TrimSuffix(name, ".mp4"))
	return t, err == nil
}

// Recording is one file, as GET /api/v1/recordings lists it.
type Recording struct {
	// Path is the stream path APP/NAME.
	Path string `json:"path"`
	// File is the file name in the stream's directory.
	File string `json:"file"`
	// Start is the wall-clock time of the first sample.
	Start time.Time `json:"start"`
	// Duration is the media time, in seconds.
	Duration float64 `json:"duration"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
	// Codecs lists the tracks' codecs, video first.
	Codecs []string `json:"codecs"`
}

// Catalog lists and indexes the recording files under a directory. It
// reads the files themselves (nothing is kept in a database), so it works
// after a restart; parsed indexes are cached and extended as files grow.
type Catalog struct {
	dir string

	mu    sync.Mutex
	cache map[string]*cached
	// frags counts the fragments of the cached indexes (guarded by mu).
	frags int
}

type cached struct {
	mu      sync.Mutex
	size    int64
	modTime time.Time
	ix      *FileIndex
	err     error
}

// NewCatalog returns a Catalog of the files under dir.
func NewCatalog(dir string) *Catalog { return &Catalog{dir: dir, cache: map[string]*cached{}} }

// Invalidate drops the cached index of a file (written or deleted).
func (c *Catalog) Invalidate(name string) {
	c.mu.Lock()
	delete(c.cache, name)
	c.mu.Unlock()
}

// FilePath is the file name of a stream's recording file; path must be a
// validated stream path and file a ValidFileName.
func (c *Catalog) FilePath(path, file string) (string, error) {
	if !ValidFileName(file) || strings.Contains(path, "..") || strings.Count(path, "/") != 1 {
		return "", errors.New("record: invalid recording name")
	}
	return filepath.Join(c.dir, filepath.FromSlash(path), file), nil
}

// Index returns the index of a file, parsing only what was added since
// the last call.
func (c *Catalog) Index(name string) (*FileIndex, int64, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	e := c.cache[name]
	if e == nil {
		if len(c.cache) >= maxCached {
			n := 0
			for k := range c.cache {
				delete(c.cache, k)
				if n++; n >= maxCached/10 {
					break
				}
			}
		}
		e = &cached{}
		c.cache[name] = e
	}
	c.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ix != nil && e.size == st.Size() && e.modTime.Equal(st.ModTime()) {
		return e.snapshot(), e.size, e.err
	}
	if e.ix == nil || st.Size() < e.size || e.err != nil {
		e.ix, e.err = &FileIndex{}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	e.size, e.modTime = st.Size(), st.ModTime()
	before := len(e.ix.Fragments)
	e.err = e.ix.update(f, st.Size())
	c.mu.Lock()
	if c.frags += len(e.ix.Fragments) - before; c.frags > maxCachedFragments {
		clear(c.cache) // the next calls parse again
		c.frags = 0
	}
	c.mu.Unlock()
	return e.snapshot(), e.size, e.err
}

// snapshot copies the index header: its fragment slice only grows, so
// the copy stays valid while the original is extended.
func (e *cached) snapshot() *FileIndex {
	ix := *e.ix
	return &ix
}

// Files returns the recording file names of path, oldest first.
func (c *Catalog) Files(path string) ([]string, error) {
	dir := filepath.Join(c.dir, filepath.FromSlash(path))
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record: list %s: %w", path, err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && ValidFileName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out) // the names sort by time
	return out, nil
}

// Paths returns every stream path with recordings.
func (c *Catalog) Paths() ([]string, error) {
	apps, err := os.ReadDir(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record: list %s: %w", c.dir, err)
	}
	var out []string
	for _, a := range apps {
		if !a.IsDir() {
			continue
		}
		names, err := os.ReadDir(filepath.Join(c.dir, a.Name()))
		if err != nil {
			continue
		}
		for _, n := range names {
			if n.IsDir() {
				out = append(out, a.Name()+"/"+n.Name())
			}
		}
	}
	return out, nil
}

// List returns the recordings of path (every path when path is ""),
// oldest first. Files that are not recordings are left out.
func (c *Catalog) List(path string) ([]Recording, error) {
	paths := []string{path}
	if path == "" {
		var err error
		if paths, err = c.Paths(); err != nil {
			return nil, err
		}
	}
	out := []Recording{}
	for _, p := range paths {
		files, err := c.Files(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			start, _ := fileStart(f)
			ix, size, err := c.Index(filepath.Join(c.dir, filepath.FromSlash(p), f))
			if err != nil {
				continue // removed meanwhile, or not a recording
			}
			rec := Recording{Path: p, File: f, Start: start, Duration: ix.Duration().Seconds(), Size: size}
			for _, t := range ix.Tracks {
				rec.Codecs = append(rec.Codecs, t.Codec)
			}
			out = append(out, rec)
		}
	}
	return out, nil
}
