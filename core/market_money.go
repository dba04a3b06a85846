package core

// The bandwidth market's money: the wallet the engine trades with, the
// balance refresh and automatic settlement, the split of unsettled
// cheques between torrents, the final cheques of shutdown and Settle.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Wallet is what the engine needs of a wallet to trade: sign and accept
// cheques (core/market) plus balance and settlement. *wallet.Wallet has
// it.
type Wallet interface {
	market.Wallet
	Balance(ctx context.Context) (wallet.Balance, error)
	// AcceptAll stores received cheques, a batch per fsync; called off
	// the loop by the money writer (market_store.go).
	AcceptAll(in []wallet.Incoming) ([]wallet.Accepted, error)
	Settle(ctx context.Context) ([]wallet.Settlement, error)
	SettleDue(ctx context.Context, threshold wallet.Amount) ([]wallet.Settlement, bool, error)
	Cheques() ([]wallet.Record, error)
	Chain() wallet.Chain
	// Cover is what a payer can be shown to pay (§8.6); read off the
	// loop (market_cover.go).
	Cover(ctx context.Context, payer wallet.Address) (wallet.Amount, bool, error)
	// AcceptTransfer checks a payer's settlement transfer on chain and
	// counts it, once (§11.2); Transfers are our latest to a payee.
	// AcceptTransfer is read off the loop (market_transfer.go).
	AcceptTransfer(ctx context.Context, payer wallet.Address, txid [32]byte) (wallet.Amount, error)
	Transfers(beneficiary wallet.Address) ([][32]byte, error)
	// VaultCover is Cover for a payer that named vault in its HELLO;
	// OwnVault is our own cheque vault, if any (market_vault.go).
	VaultCover(ctx context.Context, payer, vault wallet.Address) (wallet.Amount, bool, error)
	OwnVault(ctx context.Context) (wallet.Address, bool, error)
}

// WithWallet turns the bandwidth market on: the engine advertises btt_bid,
// pays and earns with w. Without it the engine is a plain BitTorrent
// client.
func WithWallet(w Wallet) Option { return func(o *options) { o.wallet = w } }

// refreshBalance reads the wallet's balance and unsettled total in the
// background, at most every balanceEvery, and settles first when what
// the wallet can settle reaches the settle_threshold (Wallet.SettleDue).
// On the loop.
func (e *Engine) refreshBalance(now time.Time) {
	mk := e.mkt
	if mk.balBusy || now.Sub(mk.balAt) < balanceEvery {
		return
	}
	mk.balBusy = true
	threshold, _ := e.cfg.Market.threshold()
	w := mk.w
	e.g.Go(func() error {
		ctx, cancel := context.WithTimeout(e.gctx, 30*time.Second)
		defer cancel()
		// Settle when what the wallet can settle reaches the threshold
		// (judged on the cheque book as it is now, not on the last
		// refresh; wallet.Wallet.Due says what counts on each chain).
		if ss, _, err := w.SettleDue(ctx, threshold); err != nil {
			e.log.Warn("settlement failed", "err", err)
		} else {
			for _, s := range ss {
				if s.Err != nil && !errors.Is(s.Err, wallet.ErrNotSupported) {
					e.log.Warn("settlement failed", "with", s.Record.Counterparty.String(), "err", s.Err)
				}
			}
			e.post(func() { mk.noteSettled(ss) }) // a shortfall cuts the payer (§8.6)
		}
		uns, by, uerr := unsettled(w)
		b, berr := w.Balance(ctx)
		e.post(func() {
			mk.balBusy, mk.balAt = false, time.Now()
			mk.balErr = ""
			if err := errors.Join(berr, uerr); err != nil {
				mk.balErr = err.Error()
			}
			if berr == nil {
				mk.balance = b.Token
			}
			if uerr == nil {
				mk.unsett, mk.unsBy = uns, by
			}
		})
		return nil
	})
}

// balanceEvery is how often the wallet balance and unsettled total are
// refreshed.
const balanceEvery = 3 * time.Second

// unsettled sums what received cheques promise beyond what was settled,
// in total and by payer.
func unsettled(w Wallet) (wallet.Amount, map[wallet.Address]wallet.Amount, error) {
	rs, err := w.Cheques()
	if err != nil {
		return wallet.Amount{}, nil, err
	}
	var sum wallet.Amount
	by := make(map[wallet.Address]wallet.Amount)
	for _, r := range rs {
		if r.Direction == wallet.Received {
			sum = sum.AddSaturating(r.Unsettled())
			by[r.Counterparty] = by[r.Counterparty].AddSaturating(r.Unsettled())
		}
	}
	return sum, by, nil
}

// torrentUnsettled is the part of the unsettled received cheques that
// pays for torrent ih: a payer's unsettled amount is split between the
// torrents it paid this session in proportion to what each earned from
// it (cheques are cumulative per payer, not per torrent), and is never
// more than the torrent earned from it. What was left unsettled by an
// earlier session belongs to no torrent (it is in the totals only).
func (mk *marketState) torrentUnsettled(ih InfoHash) wallet.Amount {
	mt := mk.tors[ih]
	if mt == nil {
		return wallet.Amount{}
	}
	var sum wallet.Amount
	for addr, earned := range mt.EarnedFrom {
		u := mk.unsBy[addr]
		if u.IsZero() || earned.IsZero() {
			continue
		}
		var all wallet.Amount
		for _, t := range mk.tors {
			all = all.AddSaturating(t.EarnedFrom[addr])
		}
		part := new(big.Int).Mul(u.Big(), earned.Big())
		part.Quo(part, all.Big())
		a, err := wallet.AmountFromBig(part)
		if err != nil {
			continue
		}
		sum = sum.AddSaturating(a.Min(earned))
	}
	return sum
}

// marketShutdown pays what we owe and settles, before the client closes
// (Run's shutdown order: money first). It runs after the loop returned.
func (e *Engine) marketShutdown() {
	mk := e.mkt
	if mk == nil {
		return
	}
	// Received cheques first: what the writer stored is acknowledged,
	// what the stopped loop queued is stored (market_store.go).
	e.finishWrites()
	for pc, mp := range mk.peers {
		mp.p.PayAll()
		e.flushPeer(pc, mp)
	}
	if err := mk.m.PayAll(); err != nil {
		e.log.Warn("final cheques", "err", err)
	}
	// Give the final cheques a moment to be acknowledged, so the sellers
	// hold them before the connections close (a lost one is resent at the
	// next contact, PROTOCOL.md §8.5).
	deadline := time.After(receiptWait)
	for waiting := true; waiting; {
		waiting = false
		for _, mp := range mk.peers {
			waiting = waiting || mp.p.AwaitingReceipt()
		}
		if !waiting {
			break
		}
		select {
		case ev := <-mk.evC:
			e.marketEvent(ev)
		case <-mk.over.wake:
			mk.drain(e.marketEvent)
		case <-deadline:
			waiting = false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := mk.w.Settle(ctx); err != nil {
		e.log.Warn("settlement on shutdown failed", "err", err)
	}
	_ = mk.sh.Close()
}

// receiptWait bounds how long shutdown waits for RECEIPTs of final cheques.
const receiptWait = 2 * time.Second

// settle redeems unsettled cheques now (Engine.Settle).
func (e *Engine) settle(ctx context.Context) error {
	if e.mkt == nil {
		return ErrNoWallet
	}
	ss, err := e.mkt.w.Settle(ctx)
	if err != nil {
		return fmt.Errorf("cannot settle: %w", err)
	}
	mk := e.mkt
	e.post(func() { mk.noteSettled(ss) }) // a shortfall cuts the payer (§8.6)
	var errs []error
	for _, s := range ss {
		if s.Err != nil {
			errs = append(errs, fmt.Errorf("cannot settle with %s: %w", s.Record.Counterparty, s.Err))
		}
	}
	return errors.Join(errs...)
}
