package api

// RelaySource is the source of a pulled stream (paths.<path>.source) in
// GET /api/v1/streams: the stream's publisher is then protocol "relay"
// with the source URL as remote.
type RelaySource struct {
	// URL is the source, credentials redacted.
	URL string `json:"url"`
	// OnDemand is source_on_demand.
	OnDemand bool `json:"on_demand"`
	// State is connecting, live, backoff or idle.
	State string `json:"state"`
	// LastError is why the last attempt failed, "" if none did.
	LastError string `json:"last_error,omitempty"`
	// Bytes counts bytes read from the source.
	Bytes uint64 `json:"bytes"`
	// Reconnects counts failed attempts retried.
	Reconnects uint64 `json:"reconnects"`
}

// RelayForward is one forward target (paths.*.forward) of a stream.
type RelayForward struct {
	// URL is the target, credentials (and a long stream key) redacted.
	URL string `json:"url"`
	// State is connecting, live or backoff.
	State string `json:"state"`
	// LastError is why the last attempt failed, "" if none did.
	LastError string `json:"last_error,omitempty"`
	// Bytes counts media payload bytes written to the target.
	Bytes uint64 `json:"bytes"`
	// Errors counts failed attempts.
	Errors uint64 `json:"errors"`
	// Reconnects counts attempts retried.
	Reconnects uint64 `json:"reconnects"`
}
