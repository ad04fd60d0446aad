// Package amf0 encodes and decodes Action Message Format version 0 values, as
// used by RTMP command and data messages (Adobe AMF0 File Format
// Specification, December 2007).
//
// Values map to Go types as follows:
//
//	number (0x00)        float64
//	boolean (0x01)       bool
//	string (0x02, 0x0C)  string
//	object (0x03)        Object
//	null (0x05)          nil
//	undefined (0x06)     Undefined
//	ECMA array (0x08)    ECMAArray
//	strict array (0x0A)  StrictArray
//	date (0x0B)          time.Time (UTC; the time-zone field is ignored)
//
// Other markers (movieclip, reference, unsupported, recordset, XML document,
// typed object and the AMF3 switch) are rejected by Decode.
package amf0

// Type markers, AMF0 specification §2.1.
const (
	markerNumber      = 0x00
	markerBoolean     = 0x01
	markerString      = 0x02
	markerObject      = 0x03
	markerMovieClip   = 0x04
	markerNull        = 0x05
	markerUndefined   = 0x06
	markerReference   = 0x07
	markerECMAArray   = 0x08
	markerObjectEnd   = 0x09
	markerStrictArray = 0x0A
	markerDate        = 0x0B
	markerLongString  = 0x0C
	markerUnsupported = 0x0D
	markerRecordSet   = 0x0E
	markerXMLDocument = 0x0F
	markerTypedObject = 0x10
	markerAVMPlus     = 0x11
)

// Limits applied by Decode and Append.
const (
	// MaxDepth is the deepest nesting of objects and arrays accepted: a value
	// inside 16 nested containers is allowed, one inside 17 is not.
	MaxDepth = 16
	// MaxElements is the most values (top-level values, object and ECMA array
	// properties, strict array elements) a single Decode call accepts.
	MaxElements = 4096
)

// Object is an anonymous AMF0 object (marker 0x03, §2.5): an ordered list of
// key/value properties.
type Object []Property

// Property is one key/value pair of an Object or ECMAArray.
type Property struct {
	Key   string
	Value any
}

// ECMAArray is an AMF0 ECMA array (marker 0x08, §2.10): an associative array
// encoded like an object with a leading (advisory) count. onMetaData usually
// carries one.
type ECMAArray []Property

// StrictArray is an AMF0 strict array (marker 0x0A, §2.12): an ordered list of
// values.
type StrictArray []any

// Undefined is the AMF0 undefined value (marker 0x06, §2.8). The null value
// (marker 0x05) decodes to a nil interface.
type Undefined struct{}

// Get returns the value of the first property named key.
func (o Object) Get(key string) (any, bool) { return getProp(o, key) }

// String returns the string value of the property named key, or "" when it
// is absent or not a string.
func (o Object) String(key string) string { return getString(o, key) }

// Number returns the number value of the property named key; ok is false when
// it is absent or not a number.
func (o Object) Number(key string) (float64, bool) { return getNumber(o, key) }

// Get returns the value of the first property named key.
func (a ECMAArray) Get(key string) (any, bool) { return getProp(a, key) }

// String returns the string value of the property named key, or "" when it
// is absent or not a string.
func (a ECMAArray) String(key string) string { return getString(a, key) }

// Number returns the number value of the property named key; ok is false when
// it is absent or not a number.
func (a ECMAArray) Number(key string) (float64, bool) { return getNumber(a, key) }

func getProp(props []Property, key string) (any, bool) {
	for _, p := range props {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

func getString(props []Property, key string) string {
	v, _ := getProp(props, key)
	s, _ := v.(string)
	return s
}

func getNumber(props []Property, key string) (float64, bool) {
	v, _ := getProp(props, key)
	n, ok := v.(float64)
	return n, ok
}
