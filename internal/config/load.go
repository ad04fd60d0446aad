package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load builds the effective configuration: the embedded defaults, then the
// YAML file at path if path is not empty, then the SLUICE_* variables of
// environ (in os.Environ "KEY=value" form).
//
// The file is decoded strictly: an unknown key is an error naming its full
// key path and line. A SLUICE_* variable that names no key, or whose value
// does not parse, is an error naming the variable and the key. Load does not
// call Validate.
func Load(path string, environ []string) (*Config, error) {
	c, err := Defaults()
	if err != nil {
		return nil, err
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := c.overlayYAML(b); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := c.overlayEnv(environ); err != nil {
		return nil, err
	}
	return c, nil
}

// Defaults returns the embedded default configuration.
func Defaults() (*Config, error) {
	c := &Config{}
	if err := c.overlayYAML(defaultsYAML); err != nil {
		return nil, fmt.Errorf("config: embedded defaults: %w", err)
	}
	return c, nil
}

// YAML returns c as YAML, for -print-config. Loading the output as a file
// gives back c.
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// overlayYAML decodes one YAML document onto c: keys it sets replace c's
// values, keys it leaves out keep them. An empty document changes nothing.
func (c *Config) overlayYAML(b []byte) error {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file
		}
		return cleanYAMLError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("line %d: want one YAML document, found more", extra.Line)
	}
	// Report unknown keys and bad values by their full key path before
	// decoding; the strict decoder below remains as a backstop.
	if err := checkNode(&root, reflect.TypeOf(*c), ""); err != nil {
		return err
	}
	strict := yaml.NewDecoder(bytes.NewReader(b))
	strict.KnownFields(true)
	if err := strict.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return cleanYAMLError(err)
	}
	if c.Paths == nil { // "paths: ~"
		c.Paths = map[string]PathConfig{}
	}
	return nil
}

// checkNode walks a YAML node alongside the Go type it decodes into and
// returns an error naming the key path of the first mapping key that
// matches no field, or of the first scalar that does not decode.
func checkNode(n *yaml.Node, t reflect.Type, prefix string) error {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, ch := range n.Content {
			if err := checkNode(ch, t, prefix); err != nil {
				return err
			}
		}
		return nil
	case yaml.AliasNode:
		// Not followed: an alias may form a cycle or expand exponentially.
		// The strict decoder guards against both and still refuses unknown
		// keys in aliased content.
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // "key:" with no value leaves the default
	}
	if isLeaf(t) {
		if isInt(t) && (n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int") {
			return fmt.Errorf("line %d: %s: want an integer, got %q", n.Line, prefix, truncate(n.Value))
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			msg := lineRE.ReplaceAllString(cleanYAMLError(err).Error(), "")
			return fmt.Errorf("line %d: %s: %s", n.Line, prefix, msg)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: want a mapping", n.Line, keyOrTop(prefix))
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // merge key
				if err := checkNode(v, t, prefix); err != nil {
					return err
				}
				continue
			}
			key := joinKey(prefix, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("line %d: unknown key %q", k.Line, key)
			}
			if err := checkNode(v, f.Type, key); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: want a mapping", n.Line, keyOrTop(prefix))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := joinKey(prefix, fmt.Sprintf("%q", n.Content[i].Value))
			if err := checkNode(n.Content[i+1], t.Elem(), key); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s: want a list", n.Line, prefix)
		}
		for i, ch := range n.Content {
			if err := checkNode(ch, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// isLeaf reports whether t is a scalar config type: string, bool, integer
// or Duration.
func isLeaf(t reflect.Type) bool {
	if t == reflect.TypeOf(Duration{}) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// isInt reports whether t is an integer kind.
func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func keyOrTop(k string) string {
	if k == "" {
		return "top level"
	}
	return k
}

// yamlFields maps the yaml key of each exported field of struct type t to
// the field.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if _, opts, _ := strings.Cut(f.Tag.Get("yaml"), ","); opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, sub := range yamlFields(f.Type) { // keys of an inline struct sit beside ours
				m[k] = sub
			}
			continue
		}
		if name := yamlName(f); name != "" {
			m[name] = f
		}
	}
	return m
}

// yamlName returns the yaml key of a struct field, or "" if it has none.
func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// lineRE matches the "line N: " the YAML decoder puts before its messages.
var lineRE = regexp.MustCompile(`(^|; )line \d+: `)

// cleanYAMLError flattens the decoder's multi-line "yaml: unmarshal errors:"
// into one line.
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}
