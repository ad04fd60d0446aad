package amf0

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrTruncated is returned (wrapped) when the input ends inside a value.
var ErrTruncated = errors.New("amf0: truncated input")

// maxDateMillis is the ECMAScript time range: ±100,000,000 days around the
// epoch, in milliseconds.
const maxDateMillis = 8.64e15

// Decode decodes all AMF0 values in b, in order. Strings are copied, so the
// result does not alias b. It enforces MaxDepth and MaxElements, never trusts
// a declared count beyond what the input can hold, and returns an error for
// truncated input and unsupported markers (movieclip, reference, recordset,
// XML document, typed object, AMF3 switch).
func Decode(b []byte) ([]any, error) {
	d := decoder{b: b}
	var vals []any
	for d.off < len(d.b) {
		if err := d.count(); err != nil {
			return nil, err
		}
		v, err := d.value(0)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

type decoder struct {
	b     []byte
	off   int
	elems int
}

func (d *decoder) count() error {
	d.elems++
	if d.elems > MaxElements {
		return fmt.Errorf("amf0: more than %d values", MaxElements)
	}
	return nil
}

func (d *decoder) need(n int, what string) ([]byte, error) {
	if n < 0 || len(d.b)-d.off < n {
		return nil, fmt.Errorf("%w: %s at offset %d", ErrTruncated, what, d.off)
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder) value(depth int) (any, error) {
	m, err := d.need(1, "marker")
	if err != nil {
		return nil, err
	}
	switch marker := m[0]; marker {
	case markerNumber:
		p, err := d.need(8, "number")
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	case markerBoolean:
		p, err := d.need(1, "boolean")
		if err != nil {
			return nil, err
		}
		return p[0] != 0, nil
	case markerString:
		return d.shortString()
	case markerLongString:
		p, err := d.need(4, "long string length")
		if err != nil {
			return nil, err
		}
		n := binary.BigEndian.Uint32(p)
		if uint64(n) > uint64(len(d.b)-d.off) {
			return nil, fmt.Errorf("%w: long string of %d bytes", ErrTruncated, n)
		}
		s, _ := d.need(int(n), "long string")
		return string(s), nil
	case markerNull:
		return nil, nil
	case markerUndefined:
		return Undefined{}, nil
	case markerObject:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
		}
		props, err := d.properties(depth+1, false)
		return Object(props), err
	case markerECMAArray:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
		}
		// The count is advisory (§2.10); properties run to the object-end
		// marker. It is not used for allocation.
		if _, err := d.need(4, "ECMA array count"); err != nil {
			return nil, err
		}
		props, err := d.properties(depth+1, true)
		return ECMAArray(props), err
	case markerStrictArray:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
		}
		p, err := d.need(4, "strict array count")
		if err != nil {
			return nil, err
		}
		n := binary.BigEndian.Uint32(p)
		// Every element takes at least one byte.
		if uint64(n) > uint64(len(d.b)-d.off) {
			return nil, fmt.Errorf("%w: strict array of %d elements", ErrTruncated, n)
		}
		if int(n) > MaxElements-d.elems {
			return nil, fmt.Errorf("amf0: more than %d values", MaxElements)
		}
		arr := make(StrictArray, 0, n)
		for i := uint32(0); i < n; i++ {
			if err := d.count(); err != nil {
				return nil, err
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case markerDate:
		p, err := d.need(10, "date")
		if err != nil {
			return nil, err
		}
		ms := math.Float64frombits(binary.BigEndian.Uint64(p))
		if math.IsNaN(ms) || math.Abs(ms) > maxDateMillis {
			return nil, fmt.Errorf("amf0: date %v out of range", ms)
		}
		return time.UnixMilli(int64(ms)).UTC(), nil
	case markerMovieClip, markerReference, markerObjectEnd, markerUnsupported,
		markerRecordSet, markerXMLDocument, markerTypedObject, markerAVMPlus:
		return nil, fmt.Errorf("amf0: unsupported marker 0x%02x at offset %d", marker, d.off-1)
	default:
		return nil, fmt.Errorf("amf0: unknown marker 0x%02x at offset %d", marker, d.off-1)
	}
}

func (d *decoder) shortString() (string, error) {
	p, err := d.need(2, "string length")
	if err != nil {
		return "", err
	}
	s, err := d.need(int(binary.BigEndian.Uint16(p)), "string")
	if err != nil {
		return "", err
	}
	return string(s), nil
}

// properties reads key/value pairs up to the object-end marker (an empty key
// followed by 0x09). lenient accepts input that ends where the end marker
// was expected, as some encoders write ECMA arrays (onMetaData) that way.
func (d *decoder) properties(depth int, lenient bool) ([]Property, error) {
	var props []Property
	for {
		if lenient && d.off == len(d.b) {
			return props, nil
		}
		key, err := d.shortString()
		if err != nil {
			return nil, err
		}
		if key == "" {
			if d.off < len(d.b) && d.b[d.off] == markerObjectEnd {
				d.off++
				return props, nil
			}
			if lenient && d.off == len(d.b) {
				return props, nil
			}
			return nil, fmt.Errorf("amf0: empty property key without object end at offset %d", d.off)
		}
		if err := d.count(); err != nil {
			return nil, err
		}
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		props = append(props, Property{Key: key, Value: v})
	}
}
