package relay

import (
	"fmt"
	"strings"
	"sync"
)

// Registry maps URL schemes to the protocol clients that pull or push
// them. Sub-packages (or the app) register theirs before the Manager
// starts; it is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	pullers map[string]Puller
	pushers map[string]Pusher
}

// RegisterPuller makes p pull URLs of each scheme (lower case, e.g.
// "rtmp", "rtmps", "http", "https"). A later registration of a scheme
// replaces an earlier one.
func (r *Registry) RegisterPuller(p Puller, schemes ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pullers == nil {
		r.pullers = map[string]Puller{}
	}
	for _, s := range schemes {
		r.pullers[strings.ToLower(s)] = p
	}
}

// RegisterPusher makes p push to URLs of each scheme.
func (r *Registry) RegisterPusher(p Pusher, schemes ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pushers == nil {
		r.pushers = map[string]Pusher{}
	}
	for _, s := range schemes {
		r.pushers[strings.ToLower(s)] = p
	}
}

// Puller returns the puller of scheme.
func (r *Registry) Puller(scheme string) (Puller, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.pullers[strings.ToLower(scheme)]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("relay: no puller for %q URLs", scheme)
}

// Pusher returns the pusher of scheme.
func (r *Registry) Pusher(scheme string) (Pusher, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.pushers[strings.ToLower(scheme)]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("relay: no pusher for %q URLs", scheme)
}
