package amf0

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestVectors(t *testing.T) {
	tests := []struct {
		name  string
		val   any
		bytes []byte
	}{
		{"number", 1.0, []byte{0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"true", true, []byte{0x01, 0x01}},
		{"false", false, []byte{0x01, 0x00}},
		{"string", "app", []byte{0x02, 0x00, 0x03, 'a', 'p', 'p'}},
		{"empty string", "", []byte{0x02, 0x00, 0x00}},
		{"null", nil, []byte{0x05}},
		{"undefined", Undefined{}, []byte{0x06}},
		{"object", Object{{"a", 1.0}, {"b", "x"}}, []byte{
			0x03,
			0x00, 0x01, 'a', 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
			0x00, 0x01, 'b', 0x02, 0x00, 0x01, 'x',
			0x00, 0x00, 0x09,
		}},
		{"empty object", Object(nil), []byte{0x03, 0x00, 0x00, 0x09}},
		{"ecma array", ECMAArray{{"duration", 0.0}}, []byte{
			0x08, 0, 0, 0, 1,
			0x00, 0x08, 'd', 'u', 'r', 'a', 't', 'i', 'o', 'n', 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
			0x00, 0x00, 0x09,
		}},
		{"strict array", StrictArray{true, nil}, []byte{0x0a, 0, 0, 0, 2, 0x01, 0x01, 0x05}},
		{"date", time.UnixMilli(1000).UTC(), []byte{0x0b, 0x40, 0x8f, 0x40, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Append(nil, tt.val)
			require.NoError(t, err)
			require.Equal(t, tt.bytes, got)
			vals, err := Decode(tt.bytes)
			require.NoError(t, err)
			require.Equal(t, []any{tt.val}, vals)
		})
	}
}

func TestAppendIntegersAndMaps(t *testing.T) {
	b, err := Append(nil, 3, uint32(4), int64(-5), map[string]any{"z": 1, "a": "b"}, []any{2})
	require.NoError(t, err)
	vals, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, []any{
		3.0, 4.0, -5.0,
		Object{{"a", "b"}, {"z", 1.0}},
		StrictArray{2.0},
	}, vals)
}

func TestLongString(t *testing.T) {
	s := strings.Repeat("x", 70000)
	b, err := Append(nil, s)
	require.NoError(t, err)
	require.Equal(t, byte(0x0c), b[0])
	require.Equal(t, []byte{0, 1, 0x11, 0x70}, b[1:5])
	vals, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, []any{s}, vals)

	// A long string holding a short value decodes to a plain string.
	vals, err = Decode([]byte{0x0c, 0, 0, 0, 2, 'h', 'i'})
	require.NoError(t, err)
	require.Equal(t, []any{"hi"}, vals)
}

func TestConnectCommandRoundTrip(t *testing.T) {
	obj := Object{
		{"app", "live"},
		{"flashVer", "FMLE/3.0"},
		{"tcUrl", "rtmp://localhost:1935/live"},
		{"capabilities", 15.0},
		{"fpad", false},
		{"nested", Object{{"x", StrictArray{1.0, "two", Undefined{}}}}},
	}
	b, err := Append(nil, "connect", 1.0, obj, nil)
	require.NoError(t, err)
	vals, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, []any{"connect", 1.0, obj, nil}, vals)

	got := vals[2].(Object)
	require.Equal(t, "live", got.String("app"))
	require.Equal(t, "", got.String("capabilities"))
	require.Equal(t, "", got.String("missing"))
	n, ok := got.Number("capabilities")
	require.True(t, ok)
	require.Equal(t, 15.0, n)
	_, ok = got.Number("app")
	require.False(t, ok)
	v, ok := got.Get("fpad")
	require.True(t, ok)
	require.Equal(t, false, v)

	arr := ECMAArray{{"width", 1280.0}, {"encoder", "x"}}
	require.Equal(t, "x", arr.String("encoder"))
	w, ok := arr.Number("width")
	require.True(t, ok)
	require.Equal(t, 1280.0, w)
	_, ok = arr.Get("nope")
	require.False(t, ok)
}

func TestECMAArrayWithoutEndMarker(t *testing.T) {
	// Some encoders end onMetaData's ECMA array at the end of the message.
	b := []byte{0x08, 0, 0, 0, 1, 0x00, 0x01, 'a', 0x01, 0x01}
	vals, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, []any{ECMAArray{{"a", true}}}, vals)
	vals, err = Decode(append(b, 0, 0))
	require.NoError(t, err)
	require.Equal(t, []any{ECMAArray{{"a", true}}}, vals)
}

func TestDecodeErrors(t *testing.T) {
	tests := map[string][]byte{
		"truncated number":        {0x00, 1, 2},
		"truncated string":        {0x02, 0x00, 0x05, 'a'},
		"truncated long string":   {0x0c, 0xff, 0xff, 0xff, 0xff, 'a'},
		"object without end":      {0x03, 0x00, 0x01, 'a', 0x05},
		"empty key without end":   {0x03, 0x00, 0x00, 0x05},
		"huge strict array":       {0x0a, 0xff, 0xff, 0xff, 0xff, 0x05},
		"movieclip":               {0x04},
		"reference":               {0x07, 0x00, 0x01},
		"object end at top level": {0x09},
		"unsupported":             {0x0d},
		"recordset":               {0x0e},
		"xml document":            {0x0f, 0, 0, 0, 0},
		"typed object":            {0x10, 0x00, 0x00},
		"amf3 switch":             {0x11, 0x01},
		"unknown marker":          {0x42},
		"nan date":                {0x0b, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1, 0, 0},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(b)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "amf0: "), err.Error())
		})
	}
}

func TestDepthLimit(t *testing.T) {
	nest := func(n int) []byte {
		var b []byte
		for range n {
			b = append(b, 0x0a, 0, 0, 0, 1)
		}
		return append(b, 0x05)
	}
	_, err := Decode(nest(MaxDepth))
	require.NoError(t, err)
	_, err = Decode(nest(MaxDepth + 1))
	require.ErrorContains(t, err, "nesting")

	var v any = nil
	for range MaxDepth {
		v = StrictArray{v}
	}
	_, err = Append(nil, v)
	require.NoError(t, err)
	_, err = Append(nil, StrictArray{v})
	require.ErrorContains(t, err, "nesting")

	// A self-referencing object must not recurse forever.
	o := Object{{"self", nil}}
	o[0].Value = o
	_, err = Append(nil, o)
	require.Error(t, err)
}

func TestElementLimit(t *testing.T) {
	b := bytes.Repeat([]byte{0x05}, MaxElements)
	vals, err := Decode(b)
	require.NoError(t, err)
	require.Len(t, vals, MaxElements)
	_, err = Decode(append(b, 0x05))
	require.ErrorContains(t, err, "more than")

	arr := append([]byte{0x0a, 0, 0, 0x10, 0x01}, bytes.Repeat([]byte{0x05}, MaxElements+1)...)
	_, err = Decode(arr)
	require.ErrorContains(t, err, "more than")
}

func TestAppendErrors(t *testing.T) {
	dst := []byte{1, 2}
	got, err := Append(dst, "ok", struct{}{})
	require.Error(t, err)
	require.Equal(t, []byte{1, 2}, got)
	_, err = Append(nil, Object{{"", 1}})
	require.Error(t, err)
	_, err = Append(nil, Object{{strings.Repeat("k", 70000), 1}})
	require.Error(t, err)
}

func TestNumberSpecials(t *testing.T) {
	b, err := Append(nil, math.Inf(1), math.NaN())
	require.NoError(t, err)
	vals, err := Decode(b)
	require.NoError(t, err)
	require.True(t, math.IsInf(vals[0].(float64), 1))
	require.True(t, math.IsNaN(vals[1].(float64)))
}
