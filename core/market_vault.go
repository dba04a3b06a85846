package core

// Cheque vaults (PROTOCOL.md §11.1, §18): our own vault, named in every
// HELLO so version 3 peers are paid with its cheques, and the vault a
// payer named, whose collateral is that payer's cover.

import (
	"context"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// ownVaultEvery is how often the engine reads its own cheque vault
// again while it runs (a variable for tests).
var ownVaultEvery = time.Minute

// ownVault is the state of those readings. On the loop.
type ownVault struct {
	at   time.Time // the last reading's end
	busy bool      // a reading is under way
	err  bool      // the last reading failed (warned once)
}

// readOwnVault reads our cheque vault before the loop starts, so every
// HELLO names it. Without one (or on a chain without vaults) our cheques
// are plain until refreshOwnVault finds one.
func (e *Engine) readOwnVault(ctx context.Context) {
	mk := e.mkt
	if mk == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, coverTimeout)
	defer cancel()
	v, ok, err := mk.w.OwnVault(ctx)
	mk.own.at = time.Now()
	e.setOwnVault(v, ok, err)
}

// refreshOwnVault reads our cheque vault again every ownVaultEvery, off
// the loop: a vault made (or a node reachable) after the start is named
// in the HELLOs of the connections made after the reading, and its
// cheques pay the accounts that start on them (core/market SetVault).
// On the loop; never blocks.
func (e *Engine) refreshOwnVault(now time.Time) {
	mk := e.mkt
	if mk.own.busy || now.Sub(mk.own.at) < ownVaultEvery {
		return
	}
	mk.own.busy = true
	w := mk.w
	e.g.Go(func() error {
		ctx, cancel := context.WithTimeout(e.gctx, coverTimeout)
		defer cancel()
		v, ok, err := w.OwnVault(ctx)
		e.post(func() {
			mk.own.busy, mk.own.at = false, time.Now()
			e.setOwnVault(v, ok, err)
		})
		return nil
	})
}

// setOwnVault applies a reading of our vault. A vault once used stays
// (the factory never forgets one; a failed or odd reading changes
// nothing): accounts paid with its cheques must go on so (§18.3).
func (e *Engine) setOwnVault(v wallet.Address, ok bool, err error) {
	mk := e.mkt
	cur := mk.m.Vault()
	switch {
	case err != nil:
		if !mk.own.err {
			e.log.Warn("cannot read our cheque vault", "err", err, "using", cur.String())
		}
		mk.own.err = true
		return
	case ok && v != cur && cur.IsZero():
		mk.m.SetVault(v)
		e.log.Info("paying version 3 peers with cheques of our vault", "vault", v.String())
	case ok && v != cur:
		e.log.Warn("the factory names another vault of ours: keeping the one in use", "vault", v.String(), "using", cur.String())
	}
	mk.own.err = false
}

// readCover reads one payer's cover off the loop: the collateral of the
// vault it named (vault not zero), else what the wallet can show (the
// local ledger's balance, a vault whose cheques we hold, or nothing).
// It reports whether the amount is the named vault's collateral.
func readCover(ctx context.Context, w Wallet, payer, vault wallet.Address) (wallet.Amount, bool, bool, error) {
	if !vault.IsZero() {
		amount, known, err := w.VaultCover(ctx, payer, vault)
		return amount, known, known, err
	}
	amount, known, err := w.Cover(ctx, payer)
	return amount, known, false, err
}
