package core

// Cheque vaults (PROTOCOL.md §11.1, §18): our own vault, named in every
// HELLO so version 3 peers are paid with its cheques, and the vault a
// payer named, whose collateral is that payer's cover.

import (
	"context"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// readOwnVault reads our cheque vault before the loop starts, so every
// HELLO names it. Without one (or on a chain without vaults) our cheques
// are plain; a vault made later is used after a restart.
func (e *Engine) readOwnVault(ctx context.Context) {
	mk := e.mkt
	if mk == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, coverTimeout)
	defer cancel()
	v, ok, err := mk.w.OwnVault(ctx)
	switch {
	case err != nil:
		e.log.Warn("cannot read our cheque vault: paying with plain cheques", "err", err)
	case ok:
		mk.m.SetVault(v)
		e.log.Info("paying version 3 peers with cheques of our vault", "vault", v.String())
	}
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
