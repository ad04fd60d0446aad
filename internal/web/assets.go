package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

// asset is one static file, read once at start.
type asset struct {
	data        []byte
	contentType string
	// hash is a short content hash: the ETag and the ?v= of links.
	hash string
}

// assets serves the static/ tree under StaticPrefix.
type assets struct {
	files map[string]*asset // by path below static/, e.g. "vendor/hls.min.js"
	// missing lists the vendor files that are not in this build.
	missing []string
}

// contentTypes are set explicitly: the system MIME table may lack some or
// differ between machines.
var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
	".map":  "application/json",
	".json": "application/json",
	".html": "text/html; charset=utf-8",
}

func loadAssets(fsys fs.FS) (*assets, error) {
	a := &assets{files: map[string]*asset{}}
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = http.DetectContentType(data)
		}
		sum := sha256.Sum256(data)
		a.files[strings.TrimPrefix(p, "static/")] = &asset{data: data, contentType: ct, hash: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read static files: %w", err)
	}
	for _, v := range vendorFiles {
		if _, ok := a.files["vendor/"+v.file]; !ok {
			a.missing = append(a.missing, v.file)
		}
	}
	sort.Strings(a.missing)
	return a, nil
}

// url returns the link to the static file name (below static/) with its
// content hash, so a changed file gets a new URL and caches never serve a
// stale one. A missing file still gets a link (it answers 404).
func (a *assets) url(name string) string {
	if f, ok := a.files[name]; ok {
		return StaticPrefix + name + "?v=" + f.hash
	}
	return StaticPrefix + name
}

func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, StaticPrefix)
	f := a.files[name]
	if !ok || f == nil || name == "vendor/README.txt" {
		if strings.HasPrefix(name, "vendor/") {
			http.Error(w, "player library "+path.Base(name)+" is not in this build: run `make web`, then rebuild sluice", http.StatusNotFound)
			return
		}
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("ETag", `"`+f.hash+`"`)
	switch {
	case strings.HasPrefix(name, "vendor/"), r.URL.Query().Get("v") == f.hash:
		// Vendored libraries change only with web/package-lock.json, and
		// every page links them by content hash.
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	default:
		hdr.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
