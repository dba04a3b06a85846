package core

// The money writer: received cheques and the payments they carry are
// stored off the engine loop (PROTOCOL.md §8.4, §16.3). The market, on
// the loop, queues each cheque that passed its checks (core/market
// write.go); the loop hands the queue to the writer, one goroutine per
// engine, which stores everything queued since its last write in one
// fsynced transaction (wallet.Wallet.AcceptAll), in order, and hands the
// outcomes back to the loop. Only then does a cheque count and get its
// RECEIPT: an acknowledgement never precedes durability, and the loop
// never waits on the file. A failed write is logged and answered with
// ERROR 500; the cheque is not acknowledged and counts for nothing.
//
// Shutdown: the writer stores what it was handed before it returns (Run
// waits for it), and marketShutdown applies the outcomes the stopped
// loop could not take and stores anything queued after, synchronously,
// before the final settlement.

import (
	"context"
	"sync"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// moneyWriter is the engine's writer of received cheques.
type moneyWriter struct {
	mu     sync.Mutex
	queue  []market.Write // handed over by the loop, not yet stored
	left   []func()       // outcomes that found the loop stopped
	closed bool           // the goroutine has returned: store on the caller's
	wake   chan struct{}
}

func newMoneyWriter() *moneyWriter { return &moneyWriter{wake: make(chan struct{}, 1)} }

// submitWrites hands the market's queued writes to the writer. On the
// loop; never blocks. After the writer returned (shutdown) it stores
// them at once.
func (e *Engine) submitWrites() {
	mk := e.mkt
	if mk == nil {
		return
	}
	ws := mk.m.TakeWrites()
	if len(ws) == 0 {
		return
	}
	mw := mk.writer
	mw.mu.Lock()
	if mw.closed {
		mw.mu.Unlock()
		e.storeWrites(ws)()
		return
	}
	mw.queue = append(mw.queue, ws...)
	mw.mu.Unlock()
	select {
	case mw.wake <- struct{}{}:
	default:
	}
}

// runMoneyWriter is the writer's goroutine: it stores each batch handed
// over and posts the outcomes to the loop. When ctx ends it stores what
// is left and returns.
func (e *Engine) runMoneyWriter(ctx context.Context) error {
	mw := e.mkt.writer
	for {
		stop := false
		select {
		case <-mw.wake:
		case <-ctx.Done():
			stop = true
		}
		for {
			mw.mu.Lock()
			batch := mw.queue
			mw.queue = nil
			if stop && len(batch) == 0 {
				mw.closed = true
			}
			mw.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			apply := e.storeWrites(batch)
			select {
			case e.cmdC <- apply:
			case <-e.stopped:
				mw.mu.Lock()
				mw.left = append(mw.left, apply)
				mw.mu.Unlock()
			}
		}
		if stop {
			return nil
		}
	}
}

// storeWrites stores ws in one transaction and returns what applies the
// outcomes on the loop: each write counts (RECEIPT) or is refused
// (ERROR), and the connections concerned are flushed. A failed
// transaction fails every write of the batch: none is acknowledged.
func (e *Engine) storeWrites(ws []market.Write) func() {
	mk := e.mkt
	in := make([]wallet.Incoming, len(ws))
	for i, w := range ws {
		in[i] = wallet.Incoming{Cheque: w.Cheque, Note: w.Note}
	}
	rs, err := mk.w.AcceptAll(in)
	if err != nil {
		e.log.Error("cannot store received cheques: none is acknowledged", "cheques", len(ws), "err", err)
		rs = make([]wallet.Accepted, len(ws))
		for i := range rs {
			rs[i].Err = err
		}
	}
	return func() {
		touched := make(map[*market.Session]bool)
		for i, w := range ws {
			if s := mk.m.Written(w.ID, rs[i]); s != nil {
				touched[s] = true
			}
		}
		for pc, mp := range mk.peers {
			if touched[mp.p] {
				e.flushPeer(pc, mp)
				e.armMeters(pc, mp)
			}
		}
	}
}

// finishWrites, at shutdown after the writer returned, applies the
// outcomes the stopped loop did not take and stores what is still
// queued.
func (e *Engine) finishWrites() {
	mw := e.mkt.writer
	mw.mu.Lock()
	left := mw.left
	mw.left, mw.closed = nil, true
	mw.mu.Unlock()
	for _, apply := range left {
		apply()
	}
	e.submitWrites()
}
