package amf0

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// Append appends the AMF0 encoding of vals to dst and returns the extended
// buffer. Supported Go types: float64, float32, all integer types (as
// numbers), bool, string (long string, §2.14, when longer than 65535 bytes),
// nil (null), Undefined, Object, ECMAArray, StrictArray, []any (as a strict
// array), map[string]any (as an object, keys sorted) and time.Time (date).
// Nesting deeper than MaxDepth, object keys longer than 65535 bytes and
// unsupported types are errors; on error the returned slice is dst
// unchanged.
func Append(dst []byte, vals ...any) ([]byte, error) {
	start := len(dst)
	var err error
	for _, v := range vals {
		if dst, err = appendValue(dst, v, 0); err != nil {
			return dst[:start], err
		}
	}
	return dst, nil
}

func appendNumber(dst []byte, f float64) []byte {
	dst = append(dst, markerNumber)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, markerNull), nil
	case float64:
		return appendNumber(dst, v), nil
	case float32:
		return appendNumber(dst, float64(v)), nil
	case int:
		return appendNumber(dst, float64(v)), nil
	case int8:
		return appendNumber(dst, float64(v)), nil
	case int16:
		return appendNumber(dst, float64(v)), nil
	case int32:
		return appendNumber(dst, float64(v)), nil
	case int64:
		return appendNumber(dst, float64(v)), nil
	case uint:
		return appendNumber(dst, float64(v)), nil
	case uint8:
		return appendNumber(dst, float64(v)), nil
	case uint16:
		return appendNumber(dst, float64(v)), nil
	case uint32:
		return appendNumber(dst, float64(v)), nil
	case uint64:
		return appendNumber(dst, float64(v)), nil
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		return append(dst, markerBoolean, b), nil
	case string:
		if len(v) > math.MaxUint16 {
			if uint64(len(v)) > math.MaxUint32 {
				return dst, fmt.Errorf("amf0: string of %d bytes too long", len(v))
			}
			dst = append(dst, markerLongString)
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
			return append(dst, v...), nil
		}
		dst = append(dst, markerString)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
		return append(dst, v...), nil
	case Undefined:
		return append(dst, markerUndefined), nil
	case time.Time:
		dst = appendNumber(dst, float64(v.UnixMilli()))
		dst[len(dst)-9] = markerDate
		return append(dst, 0, 0), nil // time zone, reserved: 0 (§2.13)
	case Object:
		if depth >= MaxDepth {
			return dst, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
		}
		return appendProperties(append(dst, markerObject), v, depth+1)
	case map[string]any:
		if depth >= MaxDepth {
			return dst, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		props := make([]Property, len(keys))
		for i, k := range keys {
			props[i] = Property{Key: k, Value: v[k]}
		}
		return appendProperties(append(dst, markerObject), props, depth+1)
	case ECMAArray:
		if depth >= MaxDepth {
			return dst, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
		}
		if uint64(len(v)) > math.MaxUint32 {
			return dst, fmt.Errorf("amf0: ECMA array of %d properties too long", len(v))
		}
		dst = append(dst, markerECMAArray)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		return appendProperties(dst, v, depth+1)
	case StrictArray:
		return appendArray(dst, v, depth)
	case []any:
		return appendArray(dst, v, depth)
	default:
		return dst, fmt.Errorf("amf0: cannot encode %T", v)
	}
}

func appendArray(dst []byte, v []any, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
	}
	if uint64(len(v)) > math.MaxUint32 {
		return dst, fmt.Errorf("amf0: strict array of %d elements too long", len(v))
	}
	dst = append(dst, markerStrictArray)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	var err error
	for _, e := range v {
		if dst, err = appendValue(dst, e, depth+1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func appendProperties(dst []byte, props []Property, depth int) ([]byte, error) {
	var err error
	for _, p := range props {
		if len(p.Key) > math.MaxUint16 {
			return dst, fmt.Errorf("amf0: property key of %d bytes too long", len(p.Key))
		}
		if p.Key == "" {
			// An empty key would read back as the object end marker.
			return dst, fmt.Errorf("amf0: empty property key")
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Key)))
		dst = append(dst, p.Key...)
		if dst, err = appendValue(dst, p.Value, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, 0, 0, markerObjectEnd), nil
}
