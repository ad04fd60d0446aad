// Package arch checks the import rules of docs/architecture.md, so the layering
// (ingest → hub → egress, servers that know nothing of each other) cannot
// erode silently.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sluicemedia/sluice/"

// imports maps each package of the module (relative name) to the module
// packages it imports directly (tests excluded).
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		m[pkg] = nil
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module) {
				m[pkg] = append(m[pkg], strings.TrimPrefix(imp, module))
			}
		}
	}
	return m
}

func TestImportRules(t *testing.T) {
	m := imports(t)
	allowed := map[string][]string{
		// Leaves.
		"internal/config":     {},
		"internal/av":         {},
		"internal/obs":        {},
		"internal/amf0":       {},
		"internal/streampath": {},
		"internal/cors":       {},
		// flv encodes onMetaData, so it needs AMF0 (itself a leaf).
		"internal/flv":  {"internal/av", "internal/amf0"},
		"internal/rtmp": {"internal/amf0"},
		"internal/hub":  {"internal/av", "internal/obs"},
	}
	for pkg, rule := range allowed {
		imps, ok := m[pkg]
		if !ok {
			t.Errorf("package %s is gone: update the rules", pkg)
			continue
		}
		for _, imp := range imps {
			if !contains(rule, imp) {
				t.Errorf("%s imports %s; allowed: %v", pkg, imp, rule)
			}
		}
	}
	for pkg, imps := range m {
		for _, imp := range imps {
			if strings.HasPrefix(pkg, "internal/server/") && strings.HasPrefix(imp, "internal/server/") {
				t.Errorf("server %s imports server %s: servers must meet only in the hub", pkg, imp)
			}
			if strings.HasPrefix(pkg, "internal/packager") && strings.HasPrefix(imp, "internal/server/") {
				t.Errorf("packager %s imports server %s", pkg, imp)
			}
			if strings.HasPrefix(imp, "internal/server/") && pkg != "internal/app" {
				t.Errorf("%s imports %s: only internal/app wires servers", pkg, imp)
			}
			if imp == "internal/app" && pkg != "cmd/sluice" {
				t.Errorf("%s imports internal/app: only cmd/sluice may", pkg)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
