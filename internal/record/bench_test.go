package record

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkList10000 lists one path holding 10,000 small recordings (2 s,
// 4 fragments each): "cold" parses every file (a restart), "cached" only
// stats them (files unchanged since the last listing).
//
//	go test -run '^$' -bench List10000 -benchtime 5x ./internal/record/
func BenchmarkList10000(b *testing.B) {
	dir := b.TempDir()
	d := filepath.Join(dir, "live", "a")
	if err := os.MkdirAll(d, 0o755); err != nil {
		b.Fatal(err)
	}
	rec := sampleRecording(b)
	for i := 0; i < 10000; i++ {
		name := fileName(d, epoch.Add(time.Duration(i)*2*time.Second))
		if err := os.WriteFile(name, rec, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	check := func(c *Catalog) {
		recs, err := c.List("live/a")
		if err != nil || len(recs) != 10000 {
			b.Fatalf("listed %d, err %v", len(recs), err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			check(NewCatalog(dir))
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := NewCatalog(dir)
		check(c)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			check(c)
		}
	})
}
