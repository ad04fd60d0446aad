// Package docs checks that the project's documentation stands alone: every
// file the README and docs/ point to is in the repository, and NOTICE
// covers every third-party file embedded in the binary.
package docs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// root is the repository root, two levels above this package.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "go.mod"))
	require.NoError(t, err, "repository root with go.mod expected at %s", dir)
	return dir
}

// docFiles are the Markdown files a newcomer reads: the README and docs/.
func docFiles(t *testing.T, dir string) []string {
	t.Helper()
	files := []string{filepath.Join(dir, "README.md")}
	more, err := filepath.Glob(filepath.Join(dir, "docs", "*.md"))
	require.NoError(t, err)
	require.NotEmpty(t, more, "docs/*.md")
	return append(files, more...)
}

var (
	// mdLink is an inline Markdown link or image: [text](target "title").
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// codeSpan is an inline code span, where file names are quoted.
	codeSpan = regexp.MustCompile("`([^`\n]+)`")
	// repoPath is a code span naming a file or directory of the
	// repository by its path from the root (docs/api.md, internal/fanout/).
	repoPath = regexp.MustCompile(`^(?:cmd|internal|test|web|scripts|bench|docs)/[A-Za-z0-9_.\-/]*$`)
)

// references returns the file references in a Markdown text: relative link
// targets (fragment dropped), code spans ending in .md or starting with
// ../ (both read as links to files), and code spans that are repository
// paths. Absolute URLs, in-page anchors and globs are not file references.
func references(text string) (links, paths []string) {
	for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		if i := strings.IndexByte(target, '#'); i >= 0 {
			target = target[:i]
		}
		links = append(links, target)
	}
	for _, m := range codeSpan.FindAllStringSubmatch(text, -1) {
		span := m[1]
		switch {
		case strings.ContainsAny(span, "*{}<> "):
		case strings.HasPrefix(span, "../") || strings.HasSuffix(span, ".md"):
			links = append(links, span)
		case repoPath.MatchString(span):
			paths = append(paths, span)
		}
	}
	return links, paths
}

// Every relative link in README.md and docs/*.md, and every file the text
// names in a code span, exists in the repository: a clone has no
// ../shared/CONTRACT.md, and a moved file must take its mentions along.
func TestDocLinksResolve(t *testing.T) {
	dir := root(t)
	for _, file := range docFiles(t, dir) {
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, file)
		links, paths := references(string(text))
		check := func(kind, ref, target string) {
			target = filepath.Clean(target)
			if r, err := filepath.Rel(dir, target); err != nil || strings.HasPrefix(r, "..") {
				t.Errorf("%s: %s %q points outside the repository (to %s)", rel, kind, ref, target)
				return
			}
			if strings.Contains(target, string(filepath.Separator)+"node_modules") || strings.Contains(target, filepath.Join("static", "vendor")) {
				return // build output (make web), not in a clone
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: %s %q: no such file in the repository (%s)", rel, kind, ref, target)
			}
		}
		for _, l := range links {
			if l == "" {
				continue
			}
			check("link", l, filepath.Join(filepath.Dir(file), l))
		}
		for _, p := range paths {
			check("path", p, filepath.Join(dir, p))
		}
	}
}

// The reference extractor finds what TestDocLinksResolve relies on.
func TestReferences(t *testing.T) {
	links, paths := references("see [the contract](docs/contract.md#urls), " +
		"[site](https://example.com), [top](#urls), `../shared/CONTRACT.md`, `DESIGN.md`, " +
		"`internal/fanout/`, `/live/cam1.m3u8`, `SLUICE_*`, `web/test/*.mjs`")
	require.Equal(t, []string{"docs/contract.md", "../shared/CONTRACT.md", "DESIGN.md"}, links)
	require.Equal(t, []string{"internal/fanout/"}, paths)
}

var (
	// webFiles is the Makefile's list of embedded vendor files.
	webFiles = regexp.MustCompile(`(?m)^WEB_FILES\s*:=\s*(.+)$`)
	// webCopy is a Makefile recipe copying a bundle out of an npm package:
	// cp web/node_modules/PKG/... $(WEB_VENDOR)/FILE
	webCopy = regexp.MustCompile(`^\tcp web/node_modules/((?:@[^/]+/)?[^/]+)/\S+ \$@$`)
)

// NOTICE names every third-party file the binary embeds (the Makefile's
// WEB_FILES), on a row with the npm package it comes from and the version
// web/package-lock.json pins, so a library bump that forgets NOTICE fails.
func TestNoticeCoversEmbeddedLibraries(t *testing.T) {
	dir := root(t)
	mk, err := os.ReadFile(filepath.Join(dir, "Makefile"))
	require.NoError(t, err)
	notice, err := os.ReadFile(filepath.Join(dir, "NOTICE"))
	require.NoError(t, err)
	lockJSON, err := os.ReadFile(filepath.Join(dir, "web", "package-lock.json"))
	require.NoError(t, err)
	var lock struct {
		Packages map[string]struct{ Version, License string } `json:"packages"`
	}
	require.NoError(t, json.Unmarshal(lockJSON, &lock))

	m := webFiles.FindSubmatch(mk)
	require.NotNil(t, m, "Makefile: no WEB_FILES line")
	files := strings.Fields(string(m[1]))
	require.NotEmpty(t, files)
	// The recipe of each file names the package it is copied from.
	rules := map[string]string{}
	lines := strings.Split(string(mk), "\n")
	for i, line := range lines {
		if target, _, ok := strings.Cut(line, ": $(WEB_STAMP)"); ok && i+1 < len(lines) {
			if c := webCopy.FindStringSubmatch(lines[i+1]); c != nil {
				rules[target] = c[1]
			}
		}
	}
	rows := strings.Split(string(notice), "\n")
	for _, f := range files {
		pkg, ok := rules[f]
		require.True(t, ok, "Makefile: no `cp web/node_modules/PKG/...` recipe for %s", f)
		entry, ok := lock.Packages["node_modules/"+pkg]
		require.True(t, ok, "web/package-lock.json: no package %s", pkg)
		base := strings.TrimPrefix(f, "$(WEB_VENDOR)/")
		var row string
		for _, r := range rows {
			if strings.HasPrefix(r, "| "+base+" ") {
				row = r
			}
		}
		if row == "" {
			t.Errorf("NOTICE: no table row for embedded file %s (package %s %s)", base, pkg, entry.Version)
			continue
		}
		for _, want := range []string{" " + pkg + " ", " " + entry.Version + " ", " " + entry.License + " "} {
			if !strings.Contains(row, want) {
				t.Errorf("NOTICE row for %s: want %q (package-lock.json), got %q", base, strings.TrimSpace(want), row)
			}
		}
	}
}
