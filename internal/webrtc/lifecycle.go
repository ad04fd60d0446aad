package webrtc

import (
	"context"
	"sync"

	pion "github.com/pion/webrtc/v4"
)

// lifecycle is what WHEP and WHIP sessions share: a context that close
// ends, keeping the first reason given; a connected signal from the
// PeerConnection's state; and finished, closed once the session is torn
// down and unregistered.
type lifecycle struct {
	ctx       context.Context
	cancel    context.CancelFunc
	connected chan struct{}
	connOnce  sync.Once
	closeOnce sync.Once
	finished  chan struct{}
	reasonMu  sync.Mutex
	reason    string
	// onClose, if set, runs once in close (after the context is done).
	onClose func()
}

func (l *lifecycle) init() {
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.connected, l.finished = make(chan struct{}), make(chan struct{})
}

// close ends the session for reason (the first reason wins). It does not
// wait: the session's run goroutine tears down.
func (l *lifecycle) close(reason string) {
	l.closeOnce.Do(func() {
		l.reasonMu.Lock()
		l.reason = reason
		l.reasonMu.Unlock()
		l.cancel()
		if l.onClose != nil {
			l.onClose()
		}
	})
}

func (l *lifecycle) closeReason() string {
	l.reasonMu.Lock()
	defer l.reasonMu.Unlock()
	return l.reason
}

// onState follows the PeerConnection: connected starts the media, failed or
// closed ends the session. Disconnected is left to ICE, which either
// recovers or reports failed after its failed timeout.
func (l *lifecycle) onState(st pion.PeerConnectionState) {
	switch st {
	case pion.PeerConnectionStateConnected:
		l.connOnce.Do(func() { close(l.connected) })
	case pion.PeerConnectionStateFailed:
		l.close("peer connection failed")
	case pion.PeerConnectionStateClosed:
		l.close("peer connection closed")
	}
}
