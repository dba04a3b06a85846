package core

import (
	"context"
	"sync"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Current serves the engine's commands on whichever engine the function
// returns at the time of the call. A type that outlives one engine (the
// daemon's Host across an unlock, the demo's node switcher) embeds it
// and shadows what it does differently, typically Subscribe.
type Current func() *Engine

func (c Current) Subscribe() (<-chan Snapshot, func()) { return c().Subscribe() }

func (c Current) Add(ctx context.Context, spec AddSpec) (InfoHash, error) {
	return c().Add(ctx, spec)
}

func (c Current) AddPeer(ctx context.Context, ih InfoHash, addr string) error {
	return c().AddPeer(ctx, ih, addr)
}

func (c Current) Remove(ctx context.Context, ih InfoHash, deleteData bool) error {
	return c().Remove(ctx, ih, deleteData)
}

func (c Current) Pause(ctx context.Context, ih InfoHash) error   { return c().Pause(ctx, ih) }
func (c Current) Resume(ctx context.Context, ih InfoHash) error  { return c().Resume(ctx, ih) }
func (c Current) Recheck(ctx context.Context, ih InfoHash) error { return c().Recheck(ctx, ih) }

func (c Current) SetFilePriority(ctx context.Context, ih InfoHash, file int, p Priority) error {
	return c().SetFilePriority(ctx, ih, file, p)
}

func (c Current) SetSequential(ctx context.Context, ih InfoHash, on bool) error {
	return c().SetSequential(ctx, ih, on)
}

func (c Current) SetLimits(ctx context.Context, ih InfoHash, l Limits) error {
	return c().SetLimits(ctx, ih, l)
}

func (c Current) SetLabels(ctx context.Context, ih InfoHash, labels []string) error {
	return c().SetLabels(ctx, ih, labels)
}

func (c Current) Move(ctx context.Context, ih InfoHash, dir string) error {
	return c().Move(ctx, ih, dir)
}

func (c Current) SetMarket(ctx context.Context, ih InfoHash, m MarketSettings) error {
	return c().SetMarket(ctx, ih, m)
}

func (c Current) Settle(ctx context.Context) error { return c().Settle(ctx) }

func (c Current) Tip(ctx context.Context, ih InfoHash, to string, amount wallet.Amount, memo string) error {
	return c().Tip(ctx, ih, to, amount, memo)
}

func (c Current) Buy(ctx context.Context, ih InfoHash, maxPrice wallet.Amount) error {
	return c().Buy(ctx, ih, maxPrice)
}

func (c Current) Pledge(ctx context.Context, ih InfoHash, amount wallet.Amount) error {
	return c().Pledge(ctx, ih, amount)
}

// Follow returns a latest-value-wins channel of the snapshots of whichever
// engine current names, and a function that ends it. current returns the
// engine, two channels of which one closes when another engine takes its
// place (a nil channel never does), and false once there will be none:
// the channel then closes. A stopped engine's subscription waits for its
// successor.
func Follow(current func() (e *Engine, changed, replaced <-chan struct{}, ok bool)) (<-chan Snapshot, func()) {
	out := make(chan Snapshot, 1)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for {
			e, changed, replaced, ok := current()
			if !ok {
				return
			}
			in, unsub := e.Subscribe()
			more := forward(in, out, changed, replaced, done)
			unsub()
			if !more {
				return
			}
		}
	}()
	var once sync.Once
	return out, func() { once.Do(func() { close(done) }) }
}

// forward copies snapshots from in to out, the latest winning, until
// changed or replaced closes (true) or done does (false).
func forward(in <-chan Snapshot, out chan Snapshot, changed, replaced <-chan struct{}, done <-chan struct{}) bool {
	for {
		select {
		case <-done:
			return false
		case <-changed:
			return true
		case <-replaced:
			return true
		case s, ok := <-in:
			if !ok {
				in = nil // the engine stopped: wait for the next one
				continue
			}
			select {
			case <-out:
			default:
			}
			out <- s
		}
	}
}
