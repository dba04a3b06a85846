package core

import (
	"math"
	"sync/atomic"
)

// tripwire is a running byte count that calls a function once when the
// count reaches a mark. The market arms one per connection on each side
// (bytes written to a buyer, useful bytes received from a seller) so the
// loop looks at an account exactly when a credit limit or a payment is
// near, however fast the bytes flow, instead of on its next tick.
type tripwire struct {
	n    atomic.Int64
	mark atomic.Int64
	fire atomic.Pointer[func()]
}

func newTripwire() *tripwire {
	t := &tripwire{}
	t.mark.Store(math.MaxInt64)
	return t
}

// add counts d more bytes and fires the armed function if the mark is
// reached. Safe for concurrent use; it does not block unless the armed
// function does (it must not).
func (t *tripwire) add(d int64) {
	if t.n.Add(d) >= t.mark.Load() {
		t.trip()
	}
}

// load returns the count.
func (t *tripwire) load() int64 { return t.n.Load() }

// arm makes *f run once when the count reaches mark (at once if it has).
// A count racing with arm may fire it early, never late. f points at a
// func that outlives the arming (the caller's field: re-arming on every
// look allocates nothing).
func (t *tripwire) arm(mark int64, f *func()) {
	t.mark.Store(mark)
	t.fire.Store(f)
	if t.n.Load() >= mark {
		t.trip()
	}
}

// disarm cancels the armed function.
func (t *tripwire) disarm() {
	t.fire.Store(nil)
	t.mark.Store(math.MaxInt64)
}

func (t *tripwire) trip() {
	if f := t.fire.Swap(nil); f != nil {
		(*f)()
	}
}
