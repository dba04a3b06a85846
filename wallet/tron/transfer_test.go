package tron_test

import (
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

func txid(t *testing.T, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("txid %q: %v", s, err)
	}
	return [32]byte(b)
}

// TestAcceptTransferAttacks (PROTOCOL.md §11.2): a payee counts as
// settled only a confirmed, successful transfer of its token from the
// payer to itself, checked through its own node, and each transaction
// once. A forged or unknown id, a transfer to someone else, of another
// token, by another payer, or one that failed counts nothing; the same
// id again counts nothing more, and named by another payer is refused.
// An honest settlement (Wallet.Settle) is counted and the balances
// reconcile with the counted total exactly. Before, nothing counted a
// payer's transfer: a purchase on TRON waited for ever.
func TestAcceptTransferAttacks(t *testing.T) {
	ctx := context.Background()
	n, c := setup(t)
	buyerK, pubK, otherK := key(t, 3), key(t, 1), key(t, 4)
	buyer, pub, other := buyerK.Address(), pubK.Address(), otherK.Address()
	fake := wallet.MustParseAddress("TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf") // a look-alike token
	n.AddContract(fake)
	for _, a := range []wallet.Address{buyer, other} {
		n.SetTRX(a, 1_000_000_000)
		n.SetTRC20(token, a, btt(t, "100"))
		n.SetTRC20(fake, a, btt(t, "100"))
	}
	open := func(name string, k *wallet.Key) *wallet.Wallet {
		book, err := wallet.OpenChequeBook(filepath.Join(t.TempDir(), name+".db"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return wallet.New(k, book, c)
	}
	bw, pw, ow := open("buyer", buyerK), open("pub", pubK), open("other", otherK)
	pubPath := pw.ChequeBook().Path()
	// The buyer owes the publisher 5 BTT (a purchase), the other payer 1.
	for _, p := range []struct {
		w   *wallet.Wallet
		amt string
	}{{bw, "5"}, {ow, "1"}} {
		ch, err := p.w.SignCheque(token, pub, btt(t, p.amt), p.w.ChainID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.AcceptCheque(ch); err != nil {
			t.Fatal(err)
		}
	}
	settled := func(payer wallet.Address) wallet.Amount {
		r, ok, err := pw.Highest(wallet.Received, payer)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		return r.Settled
	}
	send := func(ch *tron.Chain, from *wallet.Key, to wallet.Address, amt string) [32]byte {
		t.Helper()
		r, err := ch.Send(ctx, from, to, btt(t, amt))
		if err != nil {
			t.Fatal(err)
		}
		return txid(t, r.TxID)
	}
	fakeChain := dial(t, n.Addr(), tron.Config{Token: fake})
	var forged [32]byte
	forged[0] = 0xee
	toOther := send(c, buyerK, other, "5")
	fakeTok := send(fakeChain, buyerK, pub, "5")
	byOther := send(c, otherK, pub, "5")
	n.SetFault(faketron.OutOfEnergy)
	if _, err := c.Send(ctx, buyerK, pub, btt(t, "5")); err == nil {
		t.Fatal("a transfer out of energy succeeded")
	}
	failed := txid(t, n.LastTx())
	n.SetFault(faketron.NoFault)
	for _, tc := range []struct {
		name string
		id   [32]byte
		want error
	}{
		{"forged id", forged, wallet.ErrTxUnknown},
		{"to someone else", toOther, wallet.ErrBadTransfer},
		{"another token", fakeTok, wallet.ErrBadTransfer},
		{"another payer's", byOther, wallet.ErrBadTransfer},
		{"failed", failed, wallet.ErrBadTransfer},
	} {
		if got, err := pw.AcceptTransfer(ctx, buyer, tc.id); !errors.Is(err, tc.want) || !got.IsZero() {
			t.Errorf("%s: counted %s, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if s := settled(buyer); !s.IsZero() {
		t.Fatalf("after the attacks the buyer's settled total is %s, want 0", s)
	}
	// A smaller transfer counts what it moved, which covers nothing more.
	small := send(c, buyerK, pub, "2")
	if got, err := pw.AcceptTransfer(ctx, buyer, small); err != nil || got.Cmp(btt(t, "2")) != 0 {
		t.Fatalf("a 2 BTT transfer counted %s, %v", got, err)
	}
	if s := settled(buyer); s.Cmp(btt(t, "2")) != 0 {
		t.Fatalf("settled %s after 2 BTT of a 5 BTT cheque", s)
	}
	// The honest settlement: the wallet pays what its book says it owes
	// (5: it knows nothing of the manual 2) and keeps the transaction id.
	pubBefore := n.TRC20(token, pub)
	ss, err := bw.Settle(ctx)
	if err != nil || len(ss) != 1 || ss[0].Err != nil {
		t.Fatalf("settle: %+v %v", ss, err)
	}
	ids, err := bw.Transfers(pub)
	if err != nil || len(ids) != 1 || hex.EncodeToString(ids[0][:]) != ss[0].TxID {
		t.Fatalf("kept transfers %x, %v; want %s", ids, err, ss[0].TxID)
	}
	got, err := pw.AcceptTransfer(ctx, buyer, ids[0])
	if err != nil || got.Cmp(btt(t, "7")) != 0 {
		t.Fatalf("honest transfer: counted total %s, %v; want 7", got, err)
	}
	if s := settled(buyer); s.Cmp(btt(t, "5")) != 0 {
		t.Fatalf("settled %s, want the cheque's 5", s)
	}
	// Money: the publisher gained exactly what was counted from the
	// buyer (2 + 5) and the other payer's 5.
	if gain := n.TRC20(token, pub); gain.Cmp(btt(t, "12")) != 0 || n.TRC20(token, pub).SubFloor(pubBefore).Cmp(btt(t, "5")) != 0 {
		t.Fatalf("publisher holds %s, want 12", gain)
	}
	if b := n.TRC20(token, buyer); b.Cmp(btt(t, "88")) != 0 { // 100 − 5 (to other) − 2 − 5
		t.Fatalf("buyer holds %s, want 88", b)
	}
	// Replays: the same id again counts nothing more (and needs no
	// node); named by another payer, or after a restart, it is refused.
	n.SetFault(faketron.Unavailable)
	if again, err := pw.AcceptTransfer(ctx, buyer, ids[0]); err != nil || again.Cmp(btt(t, "7")) != 0 {
		t.Fatalf("replay: %s, %v; want the same total 7", again, err)
	}
	n.SetFault(faketron.NoFault)
	book2, err := wallet.OpenChequeBook(pubPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pw2 := wallet.New(pubK, book2, c)
	if got, err := pw2.AcceptTransfer(ctx, other, ids[0]); !errors.Is(err, wallet.ErrTxUsed) || !got.IsZero() {
		t.Fatalf("the buyer's transfer named by another payer: %s, %v", got, err)
	}
	if got, err := pw2.AcceptTransfer(ctx, buyer, small); err != nil || got.Cmp(btt(t, "7")) != 0 {
		t.Fatalf("replay after a restart: %s, %v", got, err)
	}
	r, _, _ := pw2.Highest(wallet.Received, other)
	if !r.Settled.IsZero() {
		t.Fatalf("the other payer's settled total moved to %s", r.Settled)
	}
}
