package app

import (
	"net"
	"testing"
)

// The startup log's URLs name a host a local user can type: the loopback
// address for a listener on every interface, else the listener's own.
func TestURLHost(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:1935":         "127.0.0.1:1935",
		"0.0.0.0:8080":      "127.0.0.1:8080",
		"127.0.0.1:8080":    "127.0.0.1:8080",
		"[::1]:8080":        "[::1]:8080",
		"192.0.2.7:1935":    "192.0.2.7:1935",
		"[2001:db8::1]:443": "[2001:db8::1]:443",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := urlHost(a); got != want {
			t.Errorf("urlHost(%s) = %s, want %s", addr, got, want)
		}
	}
}
