package packager

import (
	"encoding/binary"
	"errors"
)

// File-type brands (ISO 14496-12 §4.3). mediacommon writes mp42 with
// mp41/mp42/isom/hlsf, which declares none of what the fragments use.
var (
	// muxedBrands is the HLS init section (audio and video in one file):
	// ISO BMFF with tfdt/default-base-is-moof fragments ('iso6'), an
	// fMP4 HLS file ('hlsf'). It is not a CMAF track file, which holds one
	// track (ISO 23000-19 §7.2), so no 'cmfc'.
	muxedBrands = []string{"iso6", "isom", "mp41", "hlsf"}
	// trackBrands is a per-track init section (DASH Representation, one
	// CMAF track): 'cmfc' CMAF track (ISO 23000-19 §7.2), 'dash' DASH
	// segment format (ISO 23009-1 §6.3.4.2), 'iso6'.
	trackBrands = []string{"cmfc", "iso6", "dash", "isom", "mp41"}
)

// withBrands replaces the ftyp box that begins init with one whose major
// brand is brands[0] (minor version 0) and whose compatible brands are
// brands.
func withBrands(init []byte, brands []string) ([]byte, error) {
	if len(init) < 8 || string(init[4:8]) != "ftyp" {
		return nil, errors.New("packager: init section does not start with ftyp")
	}
	size := int(binary.BigEndian.Uint32(init))
	if size < 16 || size > len(init) {
		return nil, errors.New("packager: bad ftyp size")
	}
	n := 16 + 4*len(brands)
	out := make([]byte, 0, n+len(init)-size)
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	out = append(out, "ftyp"...)
	out = append(out, brands[0]...)
	out = binary.BigEndian.AppendUint32(out, 0)
	for _, b := range brands {
		out = append(out, b...)
	}
	return append(out, init[size:]...), nil
}
