package core

// Settlement by transfer (PROTOCOL.md §11.2), the I/O half: on TRON
// without a vault the market asks, on the loop, for TRANSFERs to be
// checked through our node (as payee) and for what we owe to be settled
// by transfer (as payer); both happen here, off the loop, and their
// results come back with e.post.

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// transferTimeout bounds one batch of transfer checks.
const transferTimeout = 20 * time.Second

// payByTransfer reports whether our chain's payers settle by transfer
// (TRON: it tracks the transfers it sends).
func (mk *marketState) payByTransfer() bool {
	_, ok := mk.w.Chain().(wallet.TrackedSender)
	return ok
}

// transfers starts the checks of TRANSFERs the market holds, and the
// settlement by transfer it wants. On the loop; never blocks.
func (e *Engine) transfers() {
	mk := e.mkt
	if due := mk.m.TransfersDue(); len(due) > 0 {
		w := mk.w
		e.g.Go(func() error {
			ctx, cancel := context.WithTimeout(e.gctx, transferTimeout)
			defer cancel()
			for _, c := range due {
				settled, err := w.AcceptTransfer(ctx, c.Payer, c.TxID)
				if err != nil {
					e.log.Warn("a payer's transfer counts nothing", "payer", c.Payer, "tx", hex.EncodeToString(c.TxID[:]), "err", err)
				}
				e.post(func() { mk.m.TransferChecked(c, settled, err) })
			}
			return nil
		})
	}
	// The want waits while a settlement runs (it may have paid before
	// the purchase or the ERROR 404 that wants it).
	if !mk.paying && mk.m.SettleWanted() && mk.payByTransfer() {
		e.settleOffLoop(&mk.paying, 2*time.Minute, "settlement by transfer failed")
	}
}

// noteTransfers hands the market the transfers our settlements made, to
// name to their payees (TRANSFER). On the loop.
func (mk *marketState) noteTransfers(ss []wallet.Settlement) {
	if !mk.payByTransfer() {
		return
	}
	for _, s := range ss {
		if s.Record.Direction != wallet.Issued || s.Err != nil || s.Paid.IsZero() {
			continue
		}
		if id, err := hex.DecodeString(s.TxID); err == nil && len(id) == 32 {
			mk.m.Transferred(s.Record.Counterparty, [32]byte(id))
		}
	}
}

// loadTransfers hands the market our latest settlement transfers to each
// payee from the cheque book, so a TRANSFER lost before a restart is
// named again.
func (mk *marketState) loadTransfers() error {
	if !mk.payByTransfer() {
		return nil
	}
	rs, err := mk.w.Cheques()
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Direction != wallet.Issued || r.Settled.IsZero() {
			continue
		}
		ids, err := mk.w.Transfers(r.Counterparty)
		if err != nil {
			return err
		}
		mk.m.Transferred(r.Counterparty, ids...)
	}
	return nil
}
