package testutil

import "testing"

func TestKnownLibraryLeakOnlyMatchesTheBlockedSend(t *testing.T) {
	blocked := "goroutine 53 [chan send]:\ngithub.com/datarhei/gosrt.DialWithContext.func1()\n\t/x/dial.go:158 +0x3b6"
	running := "goroutine 54 [IO wait]:\ngithub.com/datarhei/gosrt.DialWithContext.func1()\n\t/x/dial.go:163 +0x3b6"
	ours := "goroutine 55 [chan send]:\ngithub.com/sluicemedia/sluice/internal/hub.(*Stream).run()"
	if !isKnownLibraryLeak(blocked) {
		t.Errorf("gosrt's reader blocked on its done send should be ignored:\n%s", blocked)
	}
	for _, s := range []string{running, ours} {
		if isKnownLibraryLeak(s) {
			t.Errorf("counted as a known library leak, but must count as a leak:\n%s", s)
		}
	}
}
