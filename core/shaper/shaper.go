// Package shaper divides a fixed upload capacity among connections by weight.
//
// A Shaper paces every byte written through the connections it wraps with one
// token bucket (the capacity) and, when several connections wait at once,
// serves them in weighted fair-queueing order (start-time fair queueing over
// chunks of at most Quantum bytes). It is work-conserving: a connection that
// has nothing to send takes nothing, and its share goes to the ones that do.
// Weights below MinWeight are raised to it, so no connection is starved and
// the wait of a control message queued behind piece data stays bounded
// (see Bound).
//
// The seller strategy sets the weights; the engine wraps each peer
// connection with Wrap. With capacity 0 (unlimited) writes pass straight
// through and only byte counts are kept.
package shaper

import (
	"container/heap"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Quantum is the largest chunk one grant covers. Writes larger than this are
// split, which is what lets a small control message overtake a long queue of
// piece data from another connection.
const Quantum = 16 << 10

// MinWeight is the smallest effective weight. Weights are relative, so with
// the engine's convention (weights sum to about 1) this is a 1/64 floor.
const MinWeight = 1.0 / 64

// Shaper paces writes of many connections under one capacity.
//
// mu guards every field below it; the pacing goroutine (started by New,
// stopped by Close) is the only one that grants tokens.
type Shaper struct {
	mu       sync.Mutex
	rate     float64 // bytes per second; 0 = unlimited
	tokens   float64
	last     time.Time
	vtime    float64 // virtual time: start tag of the last grant
	waiting  waitHeap
	wake     chan struct{}
	closed   bool
	done     chan struct{}
	now      func() time.Time
	seq      uint64
	burst    float64
	stopOnce sync.Once
}

// Option configures a Shaper.
type Option func(*Shaper)

// WithClock replaces time.Now (for tests).
func WithClock(now func() time.Time) Option { return func(s *Shaper) { s.now = now } }

// New returns a shaper with the capacity in bytes per second (0 = unlimited)
// and starts its pacing goroutine; Close stops it.
func New(rate int64, opts ...Option) *Shaper {
	s := &Shaper{
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		now:  time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	s.last = s.now()
	s.setRateLocked(rate)
	go s.run()
	return s
}

// SetRate changes the capacity at run time (0 = unlimited).
func (s *Shaper) SetRate(rate int64) {
	s.mu.Lock()
	s.setRateLocked(rate)
	s.mu.Unlock()
	s.poke()
}

func (s *Shaper) setRateLocked(rate int64) {
	if rate < 0 {
		rate = 0
	}
	s.rate = float64(rate)
	// A burst of a tenth of a second (at least two quanta) keeps pacing
	// smooth without letting an idle period turn into a flood.
	s.burst = max(s.rate/10, 2*Quantum)
	s.tokens = min(s.tokens, s.burst)
}

// Rate returns the capacity in bytes per second (0 = unlimited).
func (s *Shaper) Rate() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.rate)
}

// Close stops pacing; writes waiting for tokens fail with net.ErrClosed and
// later writes pass through unshaped.
func (s *Shaper) Close() error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.failWaitersLocked()
		s.mu.Unlock()
		s.poke()
		<-s.done
	})
	return nil
}

// failWaitersLocked marks the shaper closed and releases every waiter with
// net.ErrClosed.
func (s *Shaper) failWaitersLocked() {
	s.closed = true
	for _, w := range s.waiting {
		w.err = net.ErrClosed
		w.index = -1 // no longer in the heap: acquire must not remove it
		close(w.ready)
	}
	s.waiting = nil
}

// Bound returns the longest a write of n <= Quantum bytes waits for its
// tokens when others other connections are sending flat out, at the current
// capacity, whatever the weights: start-time fair queueing gives a newly
// arriving chunk the current virtual time as its start tag, so it waits for
// at most one queued chunk of each other connection plus the chunk already
// granted. Bytes the same connection queued before it (e.g. piece data ahead
// of an extension message in one write) add their own time at the
// connection's share. Zero when the capacity is unlimited.
func (s *Shaper) Bound(n, others int) time.Duration {
	s.mu.Lock()
	rate := s.rate
	s.mu.Unlock()
	if rate == 0 {
		return 0
	}
	secs := (float64(others+1)*Quantum + float64(n)) / rate
	return time.Duration(secs * float64(time.Second))
}

// acquire blocks until n bytes (n <= Quantum) may be written by c.
func (s *Shaper) acquire(ctx context.Context, c *Flow, n int) error {
	s.mu.Lock()
	if s.closed || s.rate == 0 {
		s.mu.Unlock()
		return nil
	}
	w := s.enqueueLocked(c, n)
	s.mu.Unlock()
	s.poke()
	select {
	case <-w.ready:
		return w.err
	case <-ctx.Done():
		s.mu.Lock()
		if i := w.index; i >= 0 && i < len(s.waiting) && s.waiting[i] == w {
			heap.Remove(&s.waiting, i)
		}
		s.mu.Unlock()
		select {
		case <-w.ready:
			return w.err
		default:
		}
		return ctx.Err()
	}
}

// enqueueLocked queues a chunk of n bytes of c, tagged for fair order: it
// starts at the later of the virtual time and the end of c's previous chunk,
// and takes n/weight of virtual time.
func (s *Shaper) enqueueLocked(c *Flow, n int) *waiter {
	w := &waiter{n: n, ready: make(chan struct{})}
	start := max(s.vtime, c.finish)
	w.start = start
	c.finish = start + float64(n)/c.weightLocked()
	s.seq++
	w.seq = s.seq
	heap.Push(&s.waiting, w)
	return w
}

func (s *Shaper) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run grants tokens to waiters in start-tag order, pacing with the bucket.
func (s *Shaper) run() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		sleep := s.grantLocked()
		s.mu.Unlock()
		if sleep < 0 {
			<-s.wake
			continue
		}
		timer.Reset(sleep)
		select {
		case <-s.wake:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// grantLocked refills the bucket up to now and releases waiters in start-tag
// order while the tokens last. It returns how long to wait before the next
// waiter's tokens are there, or -1 when nobody waits.
func (s *Shaper) grantLocked() time.Duration {
	now := s.now()
	if s.rate > 0 {
		s.tokens = min(s.burst, s.tokens+now.Sub(s.last).Seconds()*s.rate)
	}
	s.last = now
	for len(s.waiting) > 0 {
		w := s.waiting[0]
		if s.rate == 0 {
			heap.Pop(&s.waiting)
			close(w.ready)
			continue
		}
		if s.tokens < float64(w.n) {
			sleep := time.Duration((float64(w.n) - s.tokens) / s.rate * float64(time.Second))
			return max(sleep, 200*time.Microsecond)
		}
		s.tokens -= float64(w.n)
		s.vtime = w.start
		heap.Pop(&s.waiting)
		close(w.ready)
	}
	return -1
}

// Flow is one connection's share of a Shaper: whoever writes for the
// connection calls WaitN before each write.
type Flow struct {
	s *Shaper
	// Guarded by s.mu.
	weight float64
	finish float64 // finish tag of the flow's last queued chunk
}

// NewFlow returns a flow of s with weight 1 until SetWeight is called.
func (s *Shaper) NewFlow() *Flow { return &Flow{s: s, weight: 1} }

// SetWeight sets the flow's share weight (relative to the others). Values
// below MinWeight are raised to it.
func (f *Flow) SetWeight(w float64) {
	f.s.mu.Lock()
	f.weight = w
	f.s.mu.Unlock()
}

// Weight returns the weight set with SetWeight.
func (f *Flow) Weight() float64 {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.weight
}

func (f *Flow) weightLocked() float64 { return max(f.weight, MinWeight) }

// WaitN blocks until n bytes may be written, taking them one quantum at a
// time in fair order; it returns ctx's error if ctx ends first, and
// net.ErrClosed if the shaper closes while it waits.
func (f *Flow) WaitN(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, Quantum)
		if err := f.s.acquire(ctx, f, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// Conn is a net.Conn whose writes are paced by a Flow of a Shaper. Reads are
// not shaped. It also counts the bytes written and read.
type Conn struct {
	net.Conn
	*Flow

	statsMu       sync.Mutex // guards the counters below
	written       int64
	read          int64
	closeOnce     sync.Once
	ctx           context.Context
	cancel        context.CancelFunc
	deadlineMu    sync.Mutex // guards writeDeadline
	writeDeadline time.Time
}

// Wrap returns c paced by a new flow of s.
func (s *Shaper) Wrap(c net.Conn) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{Conn: c, Flow: s.NewFlow(), ctx: ctx, cancel: cancel}
}

// Write paces b through the shaper, one quantum at a time.
func (c *Conn) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n := min(len(b), Quantum)
		ctx := c.ctx
		c.deadlineMu.Lock()
		dl := c.writeDeadline
		c.deadlineMu.Unlock()
		var cancel context.CancelFunc = func() {}
		if !dl.IsZero() {
			ctx, cancel = context.WithDeadline(ctx, dl)
		}
		err := c.WaitN(ctx, n)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = errTimeout{}
			} else if errors.Is(err, context.Canceled) {
				err = net.ErrClosed
			}
			return total, err
		}
		m, err := c.Conn.Write(b[:n])
		total += m
		c.statsMu.Lock()
		c.written += int64(m)
		c.statsMu.Unlock()
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

// Read reads from the underlying connection, counting bytes.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.statsMu.Lock()
	c.read += int64(n)
	c.statsMu.Unlock()
	return n, err
}

// Counts returns the bytes written and read so far.
func (c *Conn) Counts() (written, read int64) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	return c.written, c.read
}

// SetDeadline sets both deadlines; the write deadline also bounds the wait
// for tokens.
func (c *Conn) SetDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetDeadline(t)
}

// SetWriteDeadline sets the write deadline, which also bounds the wait for
// tokens.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.setWriteDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *Conn) setWriteDeadline(t time.Time) {
	c.deadlineMu.Lock()
	c.writeDeadline = t
	c.deadlineMu.Unlock()
}

// Close closes the connection and abandons any wait for tokens.
func (c *Conn) Close() error {
	c.closeOnce.Do(c.cancel)
	return c.Conn.Close()
}

// errTimeout is the net.Error a write returns when its deadline passes while
// waiting for tokens.
type errTimeout struct{}

func (errTimeout) Error() string {
	return "shaper: write deadline exceeded waiting for upload capacity"
}
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

type waiter struct {
	n     int
	start float64
	seq   uint64
	index int
	ready chan struct{}
	err   error
}

// waitHeap orders waiters by start tag, then arrival.
type waitHeap []*waiter

func (h waitHeap) Len() int { return len(h) }
func (h waitHeap) Less(i, j int) bool {
	if h[i].start != h[j].start {
		return h[i].start < h[j].start
	}
	return h[i].seq < h[j].seq
}
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *waitHeap) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*h = old[:len(old)-1]
	return w
}
