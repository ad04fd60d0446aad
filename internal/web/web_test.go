package web

import (
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// serve runs one request against the handler's routes as internal/app
// wires them.
func serve(t *testing.T, h *Handler, method, target string) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.Dashboard)
	mux.Handle("GET /static/{file}", h.Static())
	mux.Handle("GET /static/vendor/{file}", h.Static())
	mux.HandleFunc("GET /{app}/{name}", func(w http.ResponseWriter, r *http.Request) {
		h.Player(w, r, r.PathValue("app")+"/"+r.PathValue("name"))
	})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withoutVendor is the embedded tree minus the vendored libraries: what a
// plain `go build` without `make web` embeds.
func withoutVendor(t *testing.T) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(embedded, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(p, "static/vendor/") && !strings.HasSuffix(p, "README.txt") {
			return nil
		}
		b, err := fs.ReadFile(embedded, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEmbeddedTemplatesParse(t *testing.T) {
	if _, err := New(Options{}); err != nil {
		t.Fatal(err)
	}
	MustNew()
}

func TestPlayerPage(t *testing.T) {
	h := MustNew()
	r := serve(t, h, "GET", "/live/cam1")
	b := body(t, r)
	if r.StatusCode != 200 {
		t.Fatalf("status %d: %s", r.StatusCode, b)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q", cc)
	}
	for _, want := range []string{
		`data-path="live/cam1"`, `<title>live/cam1 · Sluice</title>`,
		`data-proto="flv"`, `data-proto="wsflv"`, `data-proto="hls"`, `data-proto="dash"`, `data-proto="whep"`,
		`/static/player.js?v=`, `/static/whep.js?v=`, `/static/vendor/mpegts.js`, `/static/vendor/hls.min.js`, `/static/vendor/dash.all.min.js`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("player page lacks %q", want)
		}
	}
	if r := serve(t, h, "HEAD", "/live/cam1"); r.StatusCode != 200 || body(t, r) != "" {
		t.Errorf("HEAD: status %d", r.StatusCode)
	}
}

func TestPlayerPageEscapesPath(t *testing.T) {
	h := MustNew()
	rec := httptest.NewRecorder()
	h.Player(rec, httptest.NewRequest("GET", "/x/y", nil), `a"><script>x</script>/b`)
	if b := rec.Body.String(); strings.Contains(b, "<script>x</script>") {
		t.Fatalf("path not escaped:\n%s", b)
	}
}

func TestDashboard(t *testing.T) {
	r := serve(t, MustNew(), "GET", "/")
	b := body(t, r)
	if r.StatusCode != 200 || !strings.Contains(b, `id="dashboard"`) || !strings.Contains(b, "/static/dashboard.js?v=") {
		t.Fatalf("status %d:\n%s", r.StatusCode, b)
	}
}

func TestMissingVendorSaysMakeWeb(t *testing.T) {
	h, err := New(Options{FS: withoutVendor(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/live/cam1"} {
		b := body(t, serve(t, h, "GET", target))
		if !strings.Contains(b, `id="missing-assets"`) || !strings.Contains(b, "make web") || !strings.Contains(b, "<code>hls.min.js</code>") {
			t.Errorf("%s: no notice about make web:\n%s", target, b)
		}
	}
	r := serve(t, h, "GET", "/static/vendor/hls.min.js")
	if b := body(t, r); r.StatusCode != 404 || !strings.Contains(b, "make web") {
		t.Errorf("missing vendor file: status %d: %s", r.StatusCode, b)
	}
}

func TestVendorPresentNoNotice(t *testing.T) {
	m := fstest.MapFS{}
	src := withoutVendor(t).(fstest.MapFS)
	for k, v := range src {
		m[k] = v
	}
	for _, v := range vendorFiles {
		m["static/vendor/"+v.file] = &fstest.MapFile{Data: []byte("window." + v.global + "={};")}
	}
	h, err := New(Options{FS: m})
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, serve(t, h, "GET", "/live/cam1")); strings.Contains(b, "missing-assets") {
		t.Errorf("notice shown although every vendor file is there")
	}
	r := serve(t, h, "GET", "/static/vendor/mpegts.js")
	if b := body(t, r); r.StatusCode != 200 || b != "window.mpegts={};" {
		t.Fatalf("status %d: %q", r.StatusCode, b)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("vendor Cache-Control %q", cc)
	}
}

func TestStaticFiles(t *testing.T) {
	h := MustNew()
	for file, ct := range map[string]string{
		"app.css":      "text/css; charset=utf-8",
		"player.js":    "text/javascript; charset=utf-8",
		"dashboard.js": "text/javascript; charset=utf-8",
		"common.js":    "text/javascript; charset=utf-8",
		"whep.js":      "text/javascript; charset=utf-8",
		"favicon.svg":  "image/svg+xml",
	} {
		r := serve(t, h, "GET", "/static/"+file)
		b := body(t, r)
		if r.StatusCode != 200 || b == "" {
			t.Errorf("%s: status %d", file, r.StatusCode)
			continue
		}
		if got := r.Header.Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", file, got, ct)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s without ?v: Cache-Control %q", file, got)
		}
		etag := r.Header.Get("ETag")
		// A link with the content hash is cacheable for good.
		v := strings.Trim(etag, `"`)
		if got := serve(t, h, "GET", "/static/"+file+"?v="+v).Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("%s?v=hash: Cache-Control %q", file, got)
		}
		// Revalidation answers 304.
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/static/"+file, nil)
		req.Header.Set("If-None-Match", etag)
		h.Static().ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Errorf("%s If-None-Match: status %d", file, rec.Code)
		}
	}
	for _, target := range []string{"/static/nope.js", "/static/vendor/README.txt"} {
		if r := serve(t, h, "GET", target); r.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", target, r.StatusCode)
		}
	}
}

// TestLeaf keeps the package a leaf (docs/architecture.md): it imports only the
// standard library.
func TestLeaf(t *testing.T) {
	pkgs, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range pkgs {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: internal/web may import only the standard library", f, p)
			}
		}
	}
}
