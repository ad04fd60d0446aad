package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
	// defaultRow is a contract table row: | `key` | `default` | ...
	defaultRow = regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_.]+)` \\| `([^`]*)` \\|")
	// defaultInline is prose: `key` (`default`)
	defaultInline = regexp.MustCompile("`([a-z_]+\\.[a-z_.]+)`\\s+\\(`([^`]*)`\\)")
)

// Every default that docs/contract.md states (in a table row or as
// `key` (`value`)) is the one the binary has: the contract stays true
// when a default changes.
func TestContractDefaultsMatchConfig(t *testing.T) {
	dir := root(t)
	text, err := os.ReadFile(filepath.Join(dir, "docs", "contract.md"))
	require.NoError(t, err)
	want := defaults(t)
	n := 0
	for _, re := range []*regexp.Regexp{defaultRow, defaultInline} {
		for _, m := range re.FindAllStringSubmatch(string(text), -1) {
			key, doc := m[1], m[2]
			got, ok := want[key]
			if !ok {
				t.Errorf("docs/contract.md names %s, which is no config key", key)
				continue
			}
			n++
			if got != doc {
				t.Errorf("docs/contract.md: %s defaults to %q, the binary to %q", key, doc, got)
			}
		}
	}
	require.GreaterOrEqual(t, n, 10, "defaults found in docs/contract.md")
}
