package testutil

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRaceEnvKeepsTheCallersOptions(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"A=1"}, "GORACE=atexit_sleep_ms=0"},
		{[]string{"GORACE=halt_on_error=1", "A=1"}, "GORACE=halt_on_error=1 atexit_sleep_ms=0"},
		// The last GORACE wins, as for os/exec; one that sets the sleep keeps it.
		{[]string{"GORACE=log_path=/x", "GORACE=atexit_sleep_ms=50 halt_on_error=1", "A=1"}, "GORACE=atexit_sleep_ms=50 halt_on_error=1"},
	} {
		got := RaceEnv(tc.env)
		require.Equal(t, tc.want, got[len(got)-1], "%q", tc.env)
		n := 0
		for _, kv := range got {
			if len(kv) >= 7 && kv[:7] == "GORACE=" {
				n++
			}
		}
		require.Equal(t, 1, n, "one GORACE in %q", got)
		require.Contains(t, got, "A=1")
	}
}
