package core

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestTripwire(t *testing.T) {
	tw := newTripwire()
	var n atomic.Int64
	f := func() { n.Add(1) }
	tw.add(100) // nothing armed
	tw.arm(1000, &f)
	tw.add(899)
	if n.Load() != 0 {
		t.Fatal("fired below the mark")
	}
	tw.add(1)
	tw.add(5000)
	if n.Load() != 1 {
		t.Fatalf("fired %d times at and past the mark, want once", n.Load())
	}
	// Armed below the count: fires at once.
	tw.arm(10, &f)
	if n.Load() != 2 {
		t.Fatalf("arming past the mark fired %d times in all, want 2", n.Load())
	}
	tw.arm(1<<20, &f)
	tw.disarm()
	tw.add(1 << 21)
	if n.Load() != 2 || tw.load() != 100+900+5000+1<<21 {
		t.Fatalf("disarmed wire fired (%d) or lost count (%d)", n.Load(), tw.load())
	}
	// Many writers crossing the mark together: exactly one call.
	tw = newTripwire()
	n.Store(0)
	tw.arm(64<<10, &f)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				tw.add(16)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 || tw.load() != 8*1000*16 {
		t.Fatalf("%d calls, count %d; want 1 call, %d", n.Load(), tw.load(), 8*1000*16)
	}
}
