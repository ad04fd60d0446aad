package packager

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// A long-lived stream's packager holds its window and no more: after ten
// minutes of 2.5 Mb/s media the heap is what it was after two, about the
// window's bytes (Window+Retain segments and the open one).
func TestLongStreamMemoryPlateausAtWindow(t *testing.T) {
	video, audio := testTracks(t)
	base := liveHeap()
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	const frameBytes = 12500 // 2.5 Mb/s at 25 fps
	vn, an := 0, 0
	feed := func(until time.Duration) {
		for {
			vt := time.Duration(vn) * 40 * time.Millisecond
			at := time.Duration(an) * 1024 * time.Second / 44100
			if vt >= until && at >= until {
				return
			}
			var pkt *av.Packet
			if vt <= at {
				key := vn%50 == 0
				data := make([]byte, frameBytes)
				copy(data, frame(key))
				pkt = &av.Packet{Track: video, DTS: vt, PTS: vt, Key: key, Data: data}
				vn++
			} else {
				pkt = &av.Packet{Track: audio, DTS: at, PTS: at, Key: true, Data: make([]byte, 200)}
				an++
			}
			require.NoError(t, p.WritePacket(pkt))
		}
	}
	feed(2 * time.Minute)
	early := liveHeap() - base
	feed(10 * time.Minute)
	late := liveHeap() - base
	snap := p.Snapshot()
	window := 0
	for _, seg := range snap.Segments {
		window += seg.Size()
	}
	t.Logf("heap above baseline: %d KB after 2 min, %d KB after 10 min; listed window %d KB", early>>10, late>>10, window>>10)
	require.Less(t, late-early, int64(1<<20), "the heap grew by %d KB from minute 2 to minute 10", (late-early)>>10)
	// Retained = listed (7) + Retain (2) + the open segment: 10/7 of the
	// listed bytes, plus slack for the runtime.
	require.Less(t, late, int64(window)*10/7+2<<20, "the heap holds %d KB for a %d KB window", late>>10, window>>10)
	runtime.KeepAlive(p)
}
