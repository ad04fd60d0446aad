package cluster

import (
	"testing"
)

// FuzzParseOwner: a claim value from the shared Redis never panics and a
// parsed one always names a node.
func FuzzParseOwner(f *testing.F) {
	for _, s := range []string{
		`{"node":"a","advertise":"10.0.0.1:1935"}`, `{"node":"a"}`, `{}`, `null`, ``, `[`,
		`{"node":1}`, `{"node":"a","advertise":null,"x":[1,2]}`, "\x00\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		o, err := parseOwner(v)
		if err == nil && o.Node == "" {
			t.Fatalf("parseOwner(%q) = %+v without a node and no error", v, o)
		}
	})
}
