package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// EnvPrefix starts the name of every environment variable that sets a key.
const EnvPrefix = "SLUICE_"

// EnvVar is one environment variable that overrides one config key.
type EnvVar struct {
	// Name is the variable name, e.g. "SLUICE_RTMP_MAX_MESSAGE_SIZE".
	Name string
	// Key is the config key path, e.g. "rtmp.max_message_size".
	Key string

	index []int // field index path from Config
}

// EnvVars lists every environment variable Load understands, sorted by
// name: one per scalar key, SLUICE_ + the key path upper-cased and joined
// by "_". The names come from the yaml tags, so keys containing "_" map
// unambiguously. Paths (a map of patterns) has no variables.
func EnvVars() []EnvVar {
	var vars []EnvVar
	walkLeaves(reflect.TypeOf(Config{}), nil, nil, func(keys []string, index []int) {
		vars = append(vars, EnvVar{
			Name:  EnvPrefix + strings.ToUpper(strings.Join(keys, "_")),
			Key:   strings.Join(keys, "."),
			index: append([]int(nil), index...),
		})
	})
	sort.Slice(vars, func(i, j int) bool { return vars[i].Name < vars[j].Name })
	return vars
}

// walkLeaves calls fn for every scalar field reachable from struct type t
// through struct fields only (maps and slices are not walked).
func walkLeaves(t reflect.Type, keys []string, index []int, fn func(keys []string, index []int)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if !f.IsExported() || name == "" {
			continue
		}
		k := append(keys[:len(keys):len(keys)], name)
		ix := append(index[:len(index):len(index)], i)
		switch {
		case isLeaf(f.Type):
			fn(k, ix)
		case f.Type.Kind() == reflect.Struct:
			walkLeaves(f.Type, k, ix, fn)
		}
	}
}

// overlayEnv applies every SLUICE_* entry of environ to c. Every problem is
// reported, in environ order, in one error.
func (c *Config) overlayEnv(environ []string) error {
	byName := map[string]EnvVar{}
	for _, v := range EnvVars() {
		byName[v.Name] = v
	}
	var errs []error
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		v, ok := byName[name]
		if !ok {
			errs = append(errs, unknownEnvError(name))
			continue
		}
		field := reflect.ValueOf(c).Elem().FieldByIndex(v.index)
		if err := setScalar(field, val); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", name, v.Key, err))
		}
	}
	return joinErrors(errs)
}

func unknownEnvError(name string) error {
	if name == EnvPrefix+"PATHS" || strings.HasPrefix(name, EnvPrefix+"PATHS_") {
		return fmt.Errorf("%s: paths cannot be set from the environment; use a config file", truncate(name))
	}
	msg := fmt.Sprintf("%s: unknown environment variable: no config key has this name", truncate(name))
	if s := suggestEnv(name); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return fmt.Errorf("%s", msg)
}

// suggestEnv returns the known variable closest to name, if it is close.
func suggestEnv(name string) string {
	best, bestDist := "", 4
	for _, v := range EnvVars() {
		if d := editDistance(name, v.Name); d < bestDist {
			best, bestDist = v.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, capped for
// long inputs so a huge variable name costs little.
func editDistance(a, b string) int {
	if len(a) > 128 || len(b) > 128 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// setScalar parses s into the scalar field v.
func setScalar(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeOf(Duration{}) {
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", truncate(s))
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an integer, got %q", truncate(s))
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a non-negative integer, got %q", truncate(s))
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a number, got %q", truncate(s))
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// joinedError is several errors reported on one line, "a; b; c", all
// prefixed once with "config: ".
type joinedError struct{ errs []error }

func (e *joinedError) Error() string {
	parts := make([]string, len(e.errs))
	for i, err := range e.errs {
		parts[i] = err.Error()
	}
	return "config: " + strings.Join(parts, "; ")
}

// Unwrap returns the joined errors, for errors.Is and errors.As.
func (e *joinedError) Unwrap() []error { return e.errs }

// joinErrors returns nil for no errors, else one "config: ..." error.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &joinedError{errs: errs}
}
