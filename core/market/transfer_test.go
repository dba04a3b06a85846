package market

import (
	"testing"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestTransferChecks (PROTOCOL.md §11.2): a TRANSFER is handed to the
// engine to check on chain once, however often it is named; one that
// counts nothing (forged, replayed by another payer: what
// Wallet.AcceptTransfer refuses) is answered with ERROR 410 and leaves
// the payer's exposure as it was; a counted one lowers it by the settled
// total; a payer may have at most four waiting. As a payer, our
// transfers are named on the connection to the payee, each once, and
// the latest four again on a new connection.
func TestTransferChecks(t *testing.T) {
	e := newEnv(t)
	payee, payer := newMarket(t, e.wallet("payee", 1)), newMarket(t, e.wallet("payer", 2))
	l := newLink(payee.NewAuction(ih), payer.NewAuction(ih), 1, 2)
	l.start(t, t0)
	addr := payer.w.Address()
	a := payee.account(addr)
	a.owed, a.accepted = amt(900), amt(900)
	if got := a.exposure(); got.Cmp(amt(900)) != 0 {
		t.Fatalf("exposure %s before", got)
	}
	id := func(b byte) [32]byte { return [32]byte{b} }
	// The payer names two transfers; the first twice.
	payer.Transferred(payee.w.Address(), id(1), id(2))
	payer.Transferred(payee.w.Address(), id(1))
	l.b.CommerceTick(t0)
	l.b.CommerceTick(t0)
	l.flush(t, t0)
	var named [][32]byte
	for _, m := range l.ba {
		if x, ok := m.(*bttbid.Transfer); ok {
			named = append(named, x.TxID)
		}
	}
	if len(named) != 2 || named[0] != id(1) || named[1] != id(2) {
		t.Fatalf("the payer named %x, want 01…, 02… once each", named)
	}
	l.a.Receive(t0, mustEncode(t, &bttbid.Transfer{TxID: id(1)})) // again: still one check
	due := payee.TransfersDue()
	if len(due) != 2 || due[0] != (TransferCheck{Payer: addr, TxID: id(1)}) || len(payee.TransfersDue()) != 0 {
		t.Fatalf("checks due %v, want the two transfers once", due)
	}
	// The first counts nothing (the wallet refused it): ERROR 410, no
	// change to exposure.
	payee.TransferChecked(due[0], wallet.Amount{}, wallet.ErrTxUsed)
	l.flush(t, t0)
	if e, ok := lastOf[*bttbid.ErrorMsg](l.ab); !ok || e.Code != bttbid.CodeBadTransfer || e.Disable {
		t.Fatalf("answer to a refused transfer: %+v", e)
	}
	if got := a.exposure(); got.Cmp(amt(900)) != 0 {
		t.Fatalf("a refused transfer moved exposure to %s", got)
	}
	// The second counts: the settled total lowers exposure.
	payee.TransferChecked(due[1], amt(600), nil)
	if got := a.exposure(); got.Cmp(amt(300)) != 0 {
		t.Fatalf("exposure %s after 600 settled, want 300", got)
	}
	// A lower total reported later (a stale check) never raises it back.
	payee.TransferChecked(TransferCheck{Payer: addr, TxID: id(9)}, amt(100), nil)
	if got := a.exposure(); got.Cmp(amt(300)) != 0 {
		t.Fatalf("exposure %s after a stale report", got)
	}
	// At most four wait for the chain; the fifth is rate limited.
	for b := byte(10); b < 15; b++ {
		l.a.Receive(t0, mustEncode(t, &bttbid.Transfer{TxID: id(b)}))
	}
	l.flush(t, t0)
	if e, ok := lastOf[*bttbid.ErrorMsg](l.ab); !ok || e.Code != bttbid.CodeRateLimited || e.Disable {
		t.Fatalf("fifth waiting transfer: %+v", e)
	}
	if n := len(payee.TransfersDue()); n != maxTransferChecks {
		t.Fatalf("%d checks due, want %d", n, maxTransferChecks)
	}
	// A new connection is told the latest four again.
	payer.Transferred(payee.w.Address(), id(3), id(4), id(5))
	l2 := newLink(payee.NewAuction(ih), payer.NewAuction(ih), 3, 4)
	l2.start(t, t0)
	l2.b.CommerceTick(t0)
	l2.flush(t, t0)
	named = nil
	for _, m := range l2.ba {
		if x, ok := m.(*bttbid.Transfer); ok {
			named = append(named, x.TxID)
		}
	}
	if len(named) != keptTransfers || named[0] != id(2) || named[3] != id(5) {
		t.Fatalf("a new connection was told %x, want 02…05", named)
	}
}
