package core

// The exposure bound's I/O (PROTOCOL.md §8.6): core/market decides, on
// the loop, whose cover it needs and when a purchase waits for its
// settlement; the reading and the settling happen here, off the loop,
// and their results come back with e.post.

import (
	"context"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// coverTimeout bounds one batch of cover readings.
const coverTimeout = 10 * time.Second

// readCovers starts the cover readings the market asks for, and the
// settlement a licence waits for. On the loop; never blocks.
func (e *Engine) readCovers(now time.Time) {
	e.refreshOwnVault(now) // market_vault.go
	mk := e.mkt
	if due := mk.m.CoverDue(now); len(due) > 0 {
		w := mk.w
		vaults := make([]wallet.Address, len(due))
		for i, addr := range due {
			vaults[i] = mk.m.PayerVault(addr) // the vault its HELLO named (§18.3)
		}
		e.g.Go(func() error {
			ctx, cancel := context.WithTimeout(e.gctx, coverTimeout)
			defer cancel()
			for i, addr := range due {
				// The settled total first: a settlement between the two
				// readings then errs on the safe side (§8.6).
				var settled wallet.Amount
				r, ok, err := w.Highest(wallet.Received, addr)
				if err == nil && ok {
					settled = r.Settled
				}
				var amount wallet.Amount
				var known, vault bool
				if err == nil {
					amount, known, vault, err = readCover(ctx, w, addr, vaults[i])
				}
				e.post(func() {
					if err != nil {
						e.log.Warn("cannot read a payer's cover", "payer", addr, "err", err)
						mk.m.CoverFailed(addr)
						return
					}
					mk.m.SetCover(addr, market.Cover{Amount: amount, Known: known, Settled: settled, Vault: vault}, time.Now())
				})
			}
			return nil
		})
	}
	if !mk.settling && mk.m.SettleDue() {
		e.settleOffLoop(&mk.settling, 30*time.Second, "settlement for a purchase failed")
	}
}

// settleOffLoop runs the wallet's Settle off the loop with busy set
// until it ends (the caller starts none while busy), logs failed when
// it fails, and hands the market the outcome (noteSettled). On the loop.
func (e *Engine) settleOffLoop(busy *bool, timeout time.Duration, failed string) {
	mk := e.mkt
	*busy = true
	w := mk.w
	e.g.Go(func() error {
		ctx, cancel := context.WithTimeout(e.gctx, timeout)
		defer cancel()
		ss, err := w.Settle(ctx)
		if err != nil {
			e.log.Warn(failed, "err", err)
		}
		e.post(func() {
			*busy = false
			mk.noteSettled(ss)
		})
		return nil
	})
}

// noteSettled tells the market how each settlement of received cheques
// ended: a shortfall cuts the payer everywhere until it is paid (§8.6).
// On the loop.
func (mk *marketState) noteSettled(ss []wallet.Settlement) {
	mk.noteTransfers(ss)
	for _, s := range ss {
		if s.Record.Direction != wallet.Received || s.Err != nil {
			continue // (TRON: received cheques wait for their payer)
		}
		mk.m.Settled(s.Record.Counterparty, s.Record.Settled, s.Shortfall)
	}
}
