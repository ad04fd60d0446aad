package netutil

// The non-blocking writev fast path (TryWriter) is Linux only
// (trywrite_linux.go); elsewhere NewTryWriter returns nil and every
// connection keeps its blocking writes (trywrite_other.go).

// Rest returns what is left of bufs after the first n bytes, in a new
// slice of the same (shared, uncopied) byte slices.
func Rest(bufs [][]byte, n int) [][]byte {
	var rest [][]byte
	for _, b := range bufs {
		switch {
		case n >= len(b):
			n -= len(b)
		case n > 0:
			rest = append(rest, b[n:])
			n = 0
		default:
			rest = append(rest, b)
		}
	}
	return rest
}
