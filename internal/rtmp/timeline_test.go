package rtmp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTimelineExtend(t *testing.T) {
	const wrap = int64(1) << 32
	for _, tt := range []struct {
		name string
		in   []uint32
		want []int64
	}{
		{"plain", []uint32{0, 40, 80}, []int64{0, 40, 80}},
		{"first value kept", []uint32{1000, 1040}, []int64{1000, 1040}},
		{"wrap", []uint32{0xFFFFFFD8, 0xFFFFFFFF, 0, 23, 63}, []int64{wrap - 40, wrap - 1, wrap, wrap + 23, wrap + 63}},
		{"start near 2^32, audio ahead of video", []uint32{0xFFFFEC78, 0xFFFFF060, 0xFFFFFC18, 0x3E8, 0xFFFFFFF0, 0x7D0},
			[]int64{wrap - 5000, wrap - 4000, wrap - 1000, wrap + 1000, wrap - 16, wrap + 2000}},
		{"small backward step", []uint32{100, 90, 130}, []int64{100, 90, 130}},
		{"backward across the wrap", []uint32{5, 0xFFFFFFFB, 20}, []int64{5, -5, 20}},
		{"second wrap, in steps of 2^30 ms", []uint32{0xFFFFFFF0, 0x3FFFFFF0, 0x7FFFFFF0, 0xBFFFFFF0, 0xFFFFFFF0, 0x10},
			[]int64{wrap - 16, wrap + 1<<30 - 16, wrap + 2<<30 - 16, wrap + 3<<30 - 16, 2*wrap - 16, 2*wrap + 16}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tl Timeline
			var got []int64
			for _, ts := range tt.in {
				got = append(got, tl.Extend(ts))
			}
			require.Equal(t, tt.want, got)
		})
	}
}
