package e2e

import (
	"testing"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// Which tests run in parallel (CI has 2 cores and a time budget):
//
// A test that mostly waits — on a real-time publish, a timeout, a soak, a
// player polling — calls t.Parallel() first thing: Go runs every serial
// test of the package first, one by one, then the parallel ones together,
// at most `go test -parallel N` at once (the Makefile's E2E_PARALLEL). Its
// bounds must hold while others run beside it (they hold on a box with a
// load of 10: measured); readiness checks, never sleeps, synchronise.
//
// A test stays serial (no t.Parallel) when it is CPU-heavy (browsers,
// encoders beyond one small test pattern) or asserts what load would
// change: latency, stalls or frame rates of real-time playback (QoE,
// GStreamer, VLC), first-frame or blocking-reload times, the server's
// CPU. Serial tests have the package to themselves.
func TestMain(m *testing.M) { testutil.Main(m) }
