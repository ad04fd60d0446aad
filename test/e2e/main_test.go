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
// encoders beyond one small test pattern) or asserts what a little load
// would change: browser latency and stalls (QoE), first-frame or
// blocking-reload times within a second, the server's CPU. Serial tests
// have the package to themselves. (GStreamer and VLC, real-time players
// asserting frame rates and no rebuffering, run in parallel: they use
// 0.11 cores, and passed with the box at a load of 10.)
func TestMain(m *testing.M) { testutil.Main(m) }
