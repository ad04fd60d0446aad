package netutil

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type recorder struct{ set []time.Time }

func (r *recorder) SetWriteDeadline(t time.Time) error { r.set = append(r.set, t); return nil }

func TestWriteDeadlineRenewsAtHalfTimeout(t *testing.T) {
	var d WriteDeadline
	r := &recorder{}
	require.NoError(t, d.Extend(r, 100*time.Millisecond))
	require.NoError(t, d.Extend(r, 100*time.Millisecond))
	require.Len(t, r.set, 1, "second call within timeout/2 must not re-arm")
	require.WithinDuration(t, time.Now().Add(100*time.Millisecond), r.set[0], 20*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	require.NoError(t, d.Extend(r, 100*time.Millisecond))
	require.Len(t, r.set, 2, "past timeout/2 the deadline is renewed")
	require.True(t, r.set[1].After(r.set[0]))
}
