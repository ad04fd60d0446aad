package rtmp

import "github.com/sluicemedia/sluice/internal/amf0"

// Status levels of onStatus/_result info objects (§7.2.2).
const (
	LevelStatus  = "status"
	LevelWarning = "warning"
	LevelError   = "error"
)

// StatusObject returns the info object of an onStatus or _result command
// (§7.2.1.1, §7.2.2): {level, code, description}.
func StatusObject(level, code, description string) amf0.Object {
	return amf0.Object{
		{Key: "level", Value: level},
		{Key: "code", Value: code},
		{Key: "description", Value: description},
	}
}

// StatusError is an error status reported by the peer (an onStatus or
// _error whose level is "error"), e.g. NetStream.Publish.BadName.
type StatusError struct {
	// Code is the status code, e.g. "NetStream.Play.StreamNotFound".
	Code string
	// Description is the peer's human-readable explanation.
	Description string
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Description == "" {
		return "rtmp: status " + e.Code
	}
	return "rtmp: status " + e.Code + ": " + e.Description
}

// statusErrorFrom builds a StatusError from an info object.
func statusErrorFrom(info amf0.Object, fallback string) *StatusError {
	code := info.String("code")
	if code == "" {
		code = fallback
	}
	return &StatusError{Code: code, Description: info.String("description")}
}
