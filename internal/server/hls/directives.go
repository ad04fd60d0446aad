package hlsserver

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// Directives are the Delivery Directives of a playlist request
// (RFC 8216bis §6.2.5): query parameters whose names start with "_HLS_".
type Directives struct {
	// HasMSN is set by _HLS_msn=M: block until segment M (or a part of it,
	// with _HLS_part) is available (§6.2.5.2).
	HasMSN bool
	MSN    uint64
	// HasPart is set by _HLS_part=P.
	HasPart bool
	Part    uint64
	// Skip is "YES" or "v2" for _HLS_skip (a Playlist Delta Update,
	// §6.2.5.1), else "".
	Skip string
}

// maxDirectiveValue bounds decimal-integer directive values; larger ones
// are refused rather than overflowing arithmetic later.
const maxDirectiveValue = 1 << 53

// ErrBadDirective is wrapped by every ParseDirectives error.
var ErrBadDirective = errors.New("hls: bad delivery directive")

// ParseDirectives parses the raw query of a playlist request. Other
// parameters are ignored. It fails (the server answers 400 Bad Request,
// §6.2.5.2) for a malformed query, a non-decimal-integer or repeated
// _HLS_msn/_HLS_part, _HLS_part without _HLS_msn, or an unknown _HLS_skip
// value.
func ParseDirectives(rawQuery string) (Directives, error) {
	var d Directives
	if rawQuery == "" {
		return d, nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return d, fmt.Errorf("%w: query: %v", ErrBadDirective, err)
	}
	num := func(name string) (uint64, bool, error) {
		vs, ok := q[name]
		if !ok {
			return 0, false, nil
		}
		if len(vs) != 1 {
			return 0, false, fmt.Errorf("%w: %s given %d times", ErrBadDirective, name, len(vs))
		}
		v := vs[0]
		if v == "" || len(v) > 16 {
			return 0, false, fmt.Errorf("%w: %s=%q is not a decimal integer", ErrBadDirective, name, trunc(v))
		}
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, false, fmt.Errorf("%w: %s=%q is not a decimal integer", ErrBadDirective, name, trunc(v))
			}
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > maxDirectiveValue {
			return 0, false, fmt.Errorf("%w: %s=%q out of range", ErrBadDirective, name, trunc(v))
		}
		return n, true, nil
	}
	if d.MSN, d.HasMSN, err = num("_HLS_msn"); err != nil {
		return Directives{}, err
	}
	if d.Part, d.HasPart, err = num("_HLS_part"); err != nil {
		return Directives{}, err
	}
	if d.HasPart && !d.HasMSN {
		return Directives{}, fmt.Errorf("%w: _HLS_part without _HLS_msn", ErrBadDirective)
	}
	if vs, ok := q["_HLS_skip"]; ok {
		if len(vs) != 1 || (vs[0] != "YES" && vs[0] != "v2") {
			return Directives{}, fmt.Errorf("%w: _HLS_skip must be YES or v2", ErrBadDirective)
		}
		d.Skip = vs[0]
	}
	return d, nil
}

func trunc(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
