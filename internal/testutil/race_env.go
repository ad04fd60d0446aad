package testutil

import "strings"

// raceExitOption is given to the race detector of every sluice a test
// starts: without it, a race-built program sleeps 1 s at exit (GORACE
// atexit_sleep_ms, default 1000) so that goroutines still reporting a race
// can finish, and every server a test stops gracefully costs a second. A
// race is reported when it is detected and makes the exit status 66
// whatever the sleep, so the reports stay; only one racing at the very
// instant of exit could be cut short.
const raceExitOption = "atexit_sleep_ms=0"

// RaceEnv returns env (KEY=VALUE entries, the last one of a key winning,
// as os/exec takes them) with GORACE set for a started sluice: the options
// the caller gave (e.g. halt_on_error=1) are kept, and atexit_sleep_ms=0 is
// added unless they set it.
func RaceEnv(env []string) []string {
	opts := ""
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GORACE="); ok {
			opts = v
			continue
		}
		out = append(out, kv)
	}
	if !strings.Contains(" "+opts, " atexit_sleep_ms=") {
		opts = strings.TrimSpace(opts + " " + raceExitOption)
	}
	return append(out, "GORACE="+opts)
}

// raceReport is how the race detector starts each report on stderr.
const raceReport = "WARNING: DATA RACE"
