package core

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// received sums the seller-side records of w: cumulative accepted and
// settled.
func received(t *testing.T, w *wallet.Wallet) (cum, settled wallet.Amount) {
	t.Helper()
	rs, err := w.Cheques()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Direction == wallet.Received {
			cum, settled = cum.AddSaturating(r.Cheque.Cumulative), settled.AddSaturating(r.Settled)
		}
	}
	return cum, settled
}

// TestMarketSettleThreshold: a seller with settle_threshold 2000 base
// units redeems received cheques on the local ledger while it runs, once
// their unsettled total reaches the threshold: its ledger balance rises
// before shutdown by exactly what its cheque book records as settled, and
// what is left unsettled is below the threshold. Shutdown settles the
// rest: the seller gains and the buyer loses exactly the seller's
// earnings.
func TestMarketSettleThreshold(t *testing.T) {
	const threshold = 2000
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 12, 6<<20)
	l := testLedger(t, dir)
	sw, bw := testWallet(t, l, dir, 1, 0), testWallet(t, l, dir, 2, 1e15)
	ctx := context.Background()
	sBefore, err := sw.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bBefore, err := bw.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scfg := marketTestConfig("127.0.0.60", 2<<20)
	scfg.Market.CreditMiB = 1
	scfg.Market.SettleThreshold = "2000"
	seller, buyer := startPair(t, tp, filepath.Dir(root), dir, scfg, "127.0.0.61", sw, bw)
	// A node that only buys shows the price it pays: the award's.
	waitFor(t, buyer.Engine, tf.InfoHash, 30*time.Second, "the buyer's torrent price", func(tr Torrent) bool {
		return tr.Market.Price.Cmp(wallet.NewAmount(askPrice)) == 0
	})
	waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
	// The seller settled on its own: wait for a settled book whose
	// unsettled rest is below the threshold (a settlement starts only at
	// or above it), reading the balance between two equal readings of the
	// book (the book is updated after the ledger).
	var cum, settled wallet.Amount
	var sMid wallet.Balance
	deadline := time.Now().Add(60 * time.Second)
	for {
		var c2, s2 wallet.Amount
		cum, settled = received(t, sw)
		sMid, err = sw.Balance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c2, s2 = received(t, sw)
		if !settled.IsZero() && s2.Cmp(settled) == 0 && c2.SubFloor(s2).Cmp(wallet.NewAmount(threshold)) < 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no settlement while running: received %s, settled %s", c2, s2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rise, _ := sMid.Token.Sub(sBefore.Token)
	t.Logf("while running: received %s, settled %s, ledger rise %s", cum, settled, rise)
	if rise.Cmp(settled) != 0 {
		t.Errorf("seller's ledger balance rose by %s before shutdown, its book says %s settled", rise, settled)
	}
	if settled.Cmp(wallet.NewAmount(threshold)) < 0 {
		t.Errorf("settled %s before shutdown, below the threshold %d", settled, threshold)
	}
	spentBefore := buyer.Snapshot().Torrents[0].Market.Spent
	if err := buyer.stop(); err != nil {
		t.Fatal(err)
	}
	if err := seller.stop(); err != nil {
		t.Fatal(err)
	}
	// Every cheque the buyer issued reached the seller's book (the
	// connection of two seeds stays up until the last one is
	// acknowledged), and the ledger moved by exactly that total.
	final, _ := received(t, sw)
	if spentBefore.Cmp(final) != 0 {
		t.Errorf("buyer's snapshot spent %s before shutdown, the seller holds %s", spentBefore, final)
	}
	var issued wallet.Amount
	rs, err := bw.Cheques()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Direction == wallet.Issued {
			issued = issued.AddSaturating(r.Cheque.Cumulative)
		}
	}
	t.Logf("seller's book %s, buyer issued %s (undelivered %s)", final, issued, issued.SubFloor(final))
	if final.Cmp(issued) != 0 {
		t.Errorf("seller holds %s of cheques, the buyer issued %s: a cheque was lost at the end", final, issued)
	}
	cum = issued
	sAfter, _ := sw.Balance(ctx)
	bAfter, _ := bw.Balance(ctx)
	gain, _ := sAfter.Token.Sub(sBefore.Token)
	loss, _ := bBefore.Token.Sub(bAfter.Token)
	t.Logf("after shutdown: seller +%s, buyer -%s, cheques %s", gain, loss, cum)
	if gain.Cmp(cum) != 0 || loss.Cmp(cum) != 0 {
		t.Errorf("after shutdown the seller gained %s and the buyer lost %s, want both %s", gain, loss, cum)
	}
	if _, s := received(t, sw); s.Cmp(final) != 0 {
		t.Errorf("seller's book: %s of %s settled after shutdown", s, final)
	}
}

// TestTorrentUnsettledProRata: a payer's unsettled amount is split between
// the torrents it paid pro rata to their earnings, capped at each one's
// earnings; unsettled amounts of payers no torrent earned from this
// session belong to no torrent.
func TestTorrentUnsettledProRata(t *testing.T) {
	a, b, c := testKey(t, 1).Address(), testKey(t, 2).Address(), testKey(t, 3).Address()
	amt := wallet.NewAmount
	mk := &marketState{tors: map[InfoHash]*market.Auction{}, unsBy: map[wallet.Address]wallet.Amount{
		a: amt(900), // earned 200 + 100 this session, the rest from before
		b: amt(50),  // half of what t1 earned from it
		c: amt(7),   // earned nothing this session
	}}
	t1, t2 := &market.Auction{}, &market.Auction{}
	t1.EarnedFrom = map[wallet.Address]wallet.Amount{a: amt(200), b: amt(100)}
	t2.EarnedFrom = map[wallet.Address]wallet.Amount{a: amt(100)}
	mk.tors[InfoHash{1}], mk.tors[InfoHash{2}] = t1, t2
	for _, tc := range []struct {
		ih   InfoHash
		want uint64
	}{
		{InfoHash{1}, 200 + 50}, // a: 900×200/300 = 600, capped at 200; b: 50×100/100
		{InfoHash{2}, 100},      // a: 900×100/300 = 300, capped at 100
		{InfoHash{3}, 0},
	} {
		if got := mk.torrentUnsettled(tc.ih); got.Cmp(amt(tc.want)) != 0 {
			t.Errorf("torrent %x: unsettled %s, want %d", tc.ih[:1], got, tc.want)
		}
	}
	mk.unsBy[a] = amt(30) // a settled most of it: 30 split 2:1
	if got := mk.torrentUnsettled(InfoHash{1}); got.Cmp(amt(20+50)) != 0 {
		t.Errorf("after a partial settlement: %s, want 70", got)
	}
	if got := mk.torrentUnsettled(InfoHash{2}); got.Cmp(amt(10)) != 0 {
		t.Errorf("after a partial settlement: %s, want 10", got)
	}
}
