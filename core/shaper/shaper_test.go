package shaper

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink is a net.Conn that accepts and counts every write.
type sink struct {
	net.Conn // nil: only the methods below are used
	n        atomic.Int64
}

func (s *sink) Write(b []byte) (int, error)       { s.n.Add(int64(len(b))); return len(b), nil }
func (s *sink) Close() error                      { return nil }
func (s *sink) SetDeadline(time.Time) error       { return nil }
func (s *sink) SetWriteDeadline(time.Time) error  { return nil }
func (s *sink) RemoteAddr() net.Addr              { return &net.TCPAddr{} }
func (s *sink) LocalAddr() net.Addr               { return &net.TCPAddr{} }
func (s *sink) SetReadDeadline(t time.Time) error { return nil }

// flood writes 64 KiB blocks to c until stop is closed.
func flood(c *Conn, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// simulate drives the scheduler of a shaper at rate on a simulated clock
// for d, with one flow per weight that is always backlogged, as a writer
// flooding its connection is: its next chunk is queued the moment the
// previous one is granted. Like the pacing goroutine, it grants again at
// once after a grant and otherwise advances the clock by the wait
// grantLocked asks for. It returns the bytes granted to each flow.
func simulate(rate int64, weights []float64, d time.Duration) []int64 {
	now := time.Unix(0, 0)
	s := &Shaper{now: func() time.Time { return now }}
	s.last = now
	s.setRateLocked(rate)
	flows := make([]*Flow, len(weights))
	queued := make([]*waiter, len(weights))
	for i, w := range weights {
		flows[i] = s.NewFlow()
		flows[i].SetWeight(w)
		queued[i] = s.enqueueLocked(flows[i], Quantum)
	}
	got := make([]int64, len(weights))
	for end := now.Add(d); !now.After(end); {
		sleep := s.grantLocked()
		granted := false
		for i, w := range queued {
			select {
			case <-w.ready:
				got[i] += int64(w.n)
				queued[i] = s.enqueueLocked(flows[i], Quantum)
				granted = true
			default:
			}
		}
		if !granted {
			now = now.Add(sleep)
		}
	}
	return got
}

func TestWeightsDivideCapacity(t *testing.T) {
	const rate = 4 << 20
	got := simulate(rate, []float64{0.6, 0.2, 0.2}, 1500*time.Millisecond)
	ratio := float64(got[0]) / float64(got[1])
	if ratio < 2.4 || ratio > 3.6 {
		t.Errorf("weights 0.6:0.2 gave bytes %v, ratio %.2f; want about 3", got, ratio)
	}
	r2 := float64(got[1]) / float64(got[2])
	if r2 < 0.8 || r2 > 1.25 {
		t.Errorf("equal weights gave bytes %v, ratio %.2f; want about 1", got, r2)
	}
	total := got[0] + got[1] + got[2]
	// The bucket starts with at most a burst; over 1.5 s at 4 MiB/s the
	// total must not exceed capacity by more than the burst plus a quantum
	// per conn.
	burst := max(rate/10, 2*Quantum)
	limit := int64(1.5*float64(rate)) + int64(burst) + 3*Quantum
	if total > limit {
		t.Errorf("wrote %d bytes in 1.5 s at 4 MiB/s; want at most %d", total, limit)
	}
}

func TestWorkConserving(t *testing.T) {
	// One conn with the smallest weight, nobody else: it gets the whole
	// capacity, not MinWeight of it.
	got := simulate(4<<20, []float64{0}, time.Second)
	if float64(got[0]) < 0.7*float64(4<<20) {
		t.Errorf("a lone low-weight conn wrote %d bytes in 1 s at 4 MiB/s; want most of the capacity", got[0])
	}
}

func TestMinWeightFloor(t *testing.T) {
	// A zero-weight conn beside a heavy one still moves at its floor.
	got := simulate(4<<20, []float64{1, 0}, 1500*time.Millisecond)
	if got[1] == 0 {
		t.Fatalf("zero-weight conn starved: %v", got)
	}
	ratio := float64(got[0]) / float64(got[1])
	if ratio < 32 || ratio > 128 {
		t.Errorf("weights 1:0 gave ratio %.1f (bytes %v); want about 1/MinWeight = 64", ratio, got)
	}
}

func TestUnlimitedPassesThrough(t *testing.T) {
	s := New(0)
	defer s.Close()
	sk := &sink{}
	c := s.Wrap(sk)
	buf := make([]byte, 1<<20)
	for range 64 {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if w, _ := c.Counts(); w != 64<<20 || sk.n.Load() != 64<<20 {
		t.Fatalf("counted %d, sink got %d; want %d", w, sk.n.Load(), 64<<20)
	}
}

func TestWriteDeadlineWhileWaiting(t *testing.T) {
	s := New(16 << 10) // one quantum per second
	defer s.Close()
	c := s.Wrap(&sink{})
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Write(make([]byte, 1<<20))
	ne, ok := err.(net.Error)
	if !ok || !ne.Timeout() {
		t.Fatalf("write past deadline returned %v; want a timeout net.Error", err)
	}
}

func TestCloseUnblocksWriters(t *testing.T) {
	s := New(16 << 10)
	c := s.Wrap(&sink{})
	errc := make(chan error, 1)
	go func() { _, err := c.Write(make([]byte, 1<<20)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	if err := <-errc; err == nil {
		t.Fatal("write of 1 MiB at 16 KiB/s returned nil after the shaper closed")
	}
}

// BenchmarkControlDelay measures how long a 100-byte control message on a
// floor-weight connection waits while two others flood, and reports it
// beside the Bound the shaper states.
func BenchmarkControlDelay(b *testing.B) {
	for _, rate := range []int64{256 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("rate=%dKiB", rate>>10), func(b *testing.B) {
			s := New(rate)
			defer s.Close()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 2 {
				c := s.Wrap(&sink{})
				wg.Add(1)
				go flood(c, stop, &wg)
				defer c.Close()
			}
			ctl := s.Wrap(&sink{})
			ctl.SetWeight(0)
			msg := make([]byte, 100)
			var worst time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				ctl.Write(msg)
				worst = max(worst, time.Since(t0))
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
			b.ReportMetric(float64(s.Bound(100, 2).Microseconds())/1000, "bound-ms")
		})
	}
}

func TestControlMessageOvertakesFloods(t *testing.T) {
	// While two heavy conns flood, a zero-weight conn's small write is
	// served after at most one queued chunk of each plus the one in flight:
	// the property Bound is computed from, counted in bytes, not time.
	s := New(512 << 10)
	defer s.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sinks []*sink
	for range 2 {
		sk := &sink{}
		sinks = append(sinks, sk)
		c := s.Wrap(sk)
		defer c.Close()
		wg.Add(1)
		go flood(c, stop, &wg)
	}
	defer func() { close(stop); wg.Wait() }()
	ctl := s.Wrap(&sink{})
	ctl.SetWeight(0)
	time.Sleep(100 * time.Millisecond)
	for i := range 10 {
		before := sinks[0].n.Load() + sinks[1].n.Load()
		if _, err := ctl.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		others := sinks[0].n.Load() + sinks[1].n.Load() - before
		if limit := int64(3 * Quantum); others > limit {
			t.Fatalf("write %d: %d bytes of other conns went first; want at most %d", i, others, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A writer whose context ends while the shaper closes must not touch the
// emptied queue (this panicked: a stale heap index after Close). The lock
// is held so that the writer, woken by its cancelled context, waits for it
// while the queue is emptied.
func TestCancelRacingClose(t *testing.T) {
	for range 20 {
		s := New(16 << 10)
		f := s.NewFlow()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- f.WaitN(ctx, 1<<20) }()
		for {
			s.mu.Lock()
			n := len(s.waiting)
			s.mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		s.mu.Lock()
		cancel()
		time.Sleep(5 * time.Millisecond) // the writer is now blocked on s.mu
		s.failWaitersLocked()
		s.mu.Unlock()
		if err := <-errc; err == nil {
			t.Fatal("WaitN returned nil after cancel and close")
		}
		s.Close()
	}
}
