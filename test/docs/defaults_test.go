package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/sluicemedia/sluice/internal/config"
)

// defaults is the effective default configuration (what sluice
// -print-config prints with no file and no environment), by dotted key.
func defaults(t *testing.T) map[string]string {
	t.Helper()
	cfg, err := config.Load("", nil)
	require.NoError(t, err)
	b, err := cfg.YAML()
	require.NoError(t, err)
	var tree map[string]any
	require.NoError(t, yaml.Unmarshal(b, &tree))
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, sub := range m {
				walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
			}
			return
		}
		out[prefix] = fmt.Sprint(v)
	}
	walk("", tree)
	return out
}

var (
	// defaultRow is a table row: | `key` | `default` | ...
	defaultRow = regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z0-9_.]+)` \\| `([^`]*)` \\|")
	// defaultInline is prose: `key` (`default`)
	defaultInline = regexp.MustCompile("`([a-z_]+\\.[a-z0-9_.]+)`\\s+\\(`([^`]*)`\\)")
	// defaultAdjacent is the README's key list: `key` `default`, or
	// `key` 64 MiB / `key` 16384 (a size or count without a code span).
	defaultAdjacent = regexp.MustCompile("`([a-z_]+\\.[a-z0-9_.]+)`\\s+(?:`([^`]*)`|(\\d+(?: [KMG]iB)?)\\b)")
)

// stated is one default a document states.
type stated struct{ key, value string }

// statedDefaults returns the defaults text states, found by res; a match
// whose value group is empty takes the next group (defaultAdjacent's
// bare number).
func statedDefaults(text string, res ...*regexp.Regexp) []stated {
	var out []stated
	for _, re := range res {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			v := m[2]
			if len(m) > 3 && v == "" {
				v = m[3]
			}
			out = append(out, stated{m[1], v})
		}
	}
	return out
}

// sameDefault reports whether doc, a default as a document writes it,
// is got, the binary's default as -print-config prints it: the same
// text, the same duration ("60s" is "1m0s"), the same YAML value
// (`["*"]` is [*], `""` is empty), the same size ("64 MiB" is
// 67108864), or, for a list of choices "a|b|c", the first.
func sameDefault(doc, got string) bool {
	if doc == got {
		return true
	}
	if first, _, ok := strings.Cut(doc, "|"); ok {
		return sameDefault(first, got)
	}
	if d, err := time.ParseDuration(doc); err == nil {
		g, err := time.ParseDuration(got)
		return err == nil && d == g
	}
	for unit, n := range map[string]uint64{" KiB": 1 << 10, " MiB": 1 << 20, " GiB": 1 << 30} {
		if num, ok := strings.CutSuffix(doc, unit); ok {
			v, err := strconv.ParseUint(num, 10, 64)
			return err == nil && strconv.FormatUint(v*n, 10) == got
		}
	}
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err == nil {
		if v == nil {
			v = ""
		}
		return fmt.Sprint(v) == got
	}
	return false
}

// checkDefaults reports every default in text that is no key or not the
// binary's, and returns the keys it found.
func checkDefaults(t *testing.T, name, text string, want map[string]string, res ...*regexp.Regexp) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	for _, s := range statedDefaults(text, res...) {
		got, ok := want[s.key]
		if !ok {
			t.Errorf("%s names %s, which is no config key", name, s.key)
			continue
		}
		found[s.key] = true
		if !sameDefault(s.value, got) {
			t.Errorf("%s: %s defaults to %q, the binary to %q", name, s.key, s.value, got)
		}
	}
	return found
}

// Every default that docs/contract.md states (in a table row or as
// `key` (`value`)) is the one the binary has, and the contract states one
// for every key (paths aside, which has its own section): the contract
// stays true when a default changes, and a new key cannot go undocumented.
func TestContractDefaultsMatchConfig(t *testing.T) {
	dir := root(t)
	text, err := os.ReadFile(filepath.Join(dir, "docs", "contract.md"))
	require.NoError(t, err)
	want := defaults(t)
	found := checkDefaults(t, "docs/contract.md", string(text), want, defaultRow, defaultInline)
	var missing []string
	for key := range want {
		if key != "paths" && !found[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		v := want[key]
		if v == "" {
			v = `""`
		}
		t.Errorf("docs/contract.md states no default for %s (want a row | `%s` | `%s` | ... under \"Configuration keys\")",
			key, key, v)
	}
}

// The README's key list (`key` `default`, `key` 64 MiB) and its prose
// (`key` (`default`)) state the binary's defaults.
func TestReadmeDefaultsMatchConfig(t *testing.T) {
	dir := root(t)
	text, err := os.ReadFile(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	found := checkDefaults(t, "README.md", string(text), defaults(t), defaultAdjacent, defaultInline)
	require.GreaterOrEqual(t, len(found), 20, "defaults found in README.md")
}

// The comparison accepts a document's spellings of a default and only
// those.
func TestSameDefault(t *testing.T) {
	for _, c := range []struct {
		doc, got string
		want     bool
	}{
		{"60s", "1m0s", true},
		{"2500ms", "2.5s", true},
		{"2s", "2.5s", false},
		{`["*"]`, "[*]", true},
		{`[]`, "[]", true},
		{`""`, "", true},
		{"64 MiB", "67108864", true},
		{"16 MiB", "67108864", false},
		{"16384", "16384", true},
		{"256", "16384", false},
		{"text|json", "text", true},
		{"json|text", "text", false},
		{":1935", ":1935", true},
		{":1936", ":1935", false},
	} {
		require.Equal(t, c.want, sameDefault(c.doc, c.got), "sameDefault(%q, %q)", c.doc, c.got)
	}
	got := statedDefaults("`a.b` `1s`, `c.d` 64 MiB (x), `e.f` 16384, `g.h` (`2`)", defaultAdjacent, defaultInline)
	require.Equal(t, []stated{{"a.b", "1s"}, {"c.d", "64 MiB"}, {"e.f", "16384"}, {"g.h", "2"}}, got)
}
