package storage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// UploaderOptions configure an Uploader. Zero values take the defaults.
type UploaderOptions struct {
	// MaxQueue bounds the waiting operations; past it the oldest is
	// dropped with a log line. Default 1024.
	MaxQueue int
	// Attempts is how many times one operation is tried. Default 5.
	Attempts int
	// Backoff is the wait after the first failure, doubled after each
	// next one up to MaxBackoff. Defaults 250 ms and 4 s.
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one attempt. Default 10 s.
	Timeout time.Duration
	// Logger receives failures and drops. Default slog.Default().
	Logger *slog.Logger
}

// UploadStats are the Uploader's counters.
type UploadStats struct {
	// OK counts operations (puts and deletes) that succeeded.
	OK uint64
	// Failed counts operations given up after every attempt.
	Failed uint64
	// Dropped counts operations dropped from a full queue.
	Dropped uint64
	// Retries counts attempts after a first failure.
	Retries uint64
	// Queued is how many operations wait now.
	Queued int
}

// op is one queued operation: a put (data non-nil) or a delete.
type op struct {
	name string
	data []byte
	meta Meta
	del  bool
}

// Uploader applies puts and deletes to a Store in the order they were
// queued, by one worker goroutine, so that a segment is stored before the
// playlist naming it. Queueing never blocks: a full queue drops its oldest
// operation. A put of a name already queued (a playlist rewritten before
// the last version went out) replaces it, moved to the back so the order
// of what it names still holds.
type Uploader struct {
	store Store
	opts  UploaderOptions

	mu     sync.Mutex
	queue  []op
	wake   chan struct{}
	closed bool

	ok, failed, dropped, retries atomic.Uint64
	busy                         atomic.Bool // the worker is applying an operation
	done                         chan struct{}
	stop                         chan struct{}
}

// NewUploader starts an uploader to store. Close stops it.
func NewUploader(store Store, o UploaderOptions) *Uploader {
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1024
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 4 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	u := &Uploader{store: store, opts: o, wake: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	go u.run()
	return u
}

// Put queues storing data under name.
func (u *Uploader) Put(name string, data []byte, meta Meta) {
	u.enqueue(op{name: name, data: data, meta: meta})
}

// Delete queues deleting name.
func (u *Uploader) Delete(name string) { u.enqueue(op{name: name, del: true}) }

func (u *Uploader) enqueue(o op) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	if !o.del {
		for i := range u.queue {
			if q := u.queue[i]; !q.del && q.name == o.name {
				u.queue = append(u.queue[:i], u.queue[i+1:]...)
				break
			}
		}
	}
	var lost *op
	if len(u.queue) >= u.opts.MaxQueue {
		first := u.queue[0]
		lost = &first
		u.queue = u.queue[1:]
	}
	u.queue = append(u.queue, o)
	u.mu.Unlock()
	if lost != nil {
		u.dropped.Add(1)
		u.opts.Logger.Warn("storage: upload queue full, oldest operation dropped", "object", lost.name,
			"delete", lost.del, "max_queue", u.opts.MaxQueue)
	}
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (u *Uploader) Stats() UploadStats {
	u.mu.Lock()
	n := len(u.queue)
	u.mu.Unlock()
	return UploadStats{OK: u.ok.Load(), Failed: u.failed.Load(), Dropped: u.dropped.Load(),
		Retries: u.retries.Load(), Queued: n}
}

func (u *Uploader) next() (op, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.queue) == 0 {
		return op{}, false
	}
	o := u.queue[0]
	u.queue = u.queue[1:]
	u.busy.Store(true) // under mu: Flush never sees an empty queue and an idle worker in between
	return o, true
}

func (u *Uploader) run() {
	defer close(u.done)
	for {
		o, ok := u.next()
		if !ok {
			select {
			case <-u.wake:
				continue
			case <-u.stop:
				return
			}
		}
		u.apply(o)
		u.busy.Store(false)
	}
}

// apply tries o up to Attempts times with back-off.
func (u *Uploader) apply(o op) {
	wait := u.opts.Backoff
	var err error
	for attempt := 1; attempt <= u.opts.Attempts; attempt++ {
		if attempt > 1 {
			u.retries.Add(1)
			select {
			case <-time.After(wait):
			case <-u.stop:
				u.failed.Add(1)
				return
			}
			wait = min(2*wait, u.opts.MaxBackoff)
		}
		ctx, cancel := context.WithTimeout(context.Background(), u.opts.Timeout)
		if o.del {
			err = u.store.Delete(ctx, o.name)
		} else {
			err = u.store.Put(ctx, o.name, o.data, o.meta)
		}
		cancel()
		if err == nil {
			u.ok.Add(1)
			return
		}
	}
	u.failed.Add(1)
	u.opts.Logger.Warn("storage: upload failed, giving up", "object", o.name, "delete", o.del,
		"attempts", u.opts.Attempts, "error", err)
}

// Close stops the worker after the operation under way (queued ones are
// dropped) and waits for it.
func (u *Uploader) Close() {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.closed = true
	u.mu.Unlock()
	close(u.stop)
	<-u.done
}

// Flush waits until the queue is empty and the worker idle, or ctx ends.
func (u *Uploader) Flush(ctx context.Context) error {
	for {
		u.mu.Lock()
		idle := len(u.queue) == 0 && !u.busy.Load()
		u.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
