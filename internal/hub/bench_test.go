package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// BenchmarkFanout measures the hub's cost per packet delivered to each of N
// readers (one op = one packet written and read by every reader). It should
// show 0 allocations per reader: readers copy pointers, never payloads.
func BenchmarkFanout(b *testing.B) {
	for _, readers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			h := quietHub(Options{MaxLag: time.Hour})
			p, _ := h.Publish("live/bench", ClientInfo{})
			p.Announce(true, false)
			// Prime with a keyframe so readers start at once.
			_ = p.WritePacket(&av.Packet{Track: testVideo, Key: true, Data: make([]byte, 10)})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for i := 0; i < readers; i++ {
				r, err := h.Subscribe(ctx, "live/bench", ClientInfo{Protocol: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer r.Close()
					buf := make([]*av.Packet, 0, 64)
					got := 0
					for got < b.N+1 {
						out, err := r.Read(ctx, buf[:0])
						if err != nil {
							return
						}
						got += len(out)
					}
				}()
			}
			payload := make([]byte, 1000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ts := time.Duration(i+1) * time.Millisecond
				_ = p.WritePacket(&av.Packet{Track: testVideo, DTS: ts, PTS: ts, Key: i%100 == 0, Data: payload})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(readers), "ns/packet/reader")
		})
	}
}
