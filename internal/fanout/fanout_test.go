package fanout

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestStopWithoutStart: a play that failed before Start (its setup write
// failed) is stopped without waiting for a writer that never ran.
func TestStopWithoutStart(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	v := NewViewer(context.Background(), &Groups{}, a, nil, time.Second, nil)
	stopped := make(chan struct{})
	go func() {
		v.Stop()
		v.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop without Start blocked")
	}
	if v.Err() != nil {
		t.Fatalf("Err() = %v, want nil", v.Err())
	}
}
