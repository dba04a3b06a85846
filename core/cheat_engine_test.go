package core

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// ledgerSum is what the two wallets hold on their ledger.
func ledgerSum(t *testing.T, a, b *wallet.Wallet) wallet.Amount {
	t.Helper()
	ba, err := a.Balance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bb, err := b.Balance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ba.Token.Add(bb.Token)
	return s
}

// TestEngineDribbleCheques (issue 15 case 3, PROTOCOL.md §8.3): between
// real engines on the local ledger, a buyer whose every cheque adds one
// base unit keeps the seller's credit where it started: it gets the
// first credit (1 MiB at the ask) plus the tolerance plus what its units
// paid for, however many cheques it sends (two or three reach the seller
// before it stops paid service: the credit never grows enough for more);
// revision 2.0 doubled the credit per cheque (two one-unit cheques: 1 →
// 4 MiB, five: 32 MiB; the unit tests in core/market send five). It still gets
// every byte (free share, sha256 checked), and the ledger moves exactly
// what the seller accepted.
func TestEngineDribbleCheques(t *testing.T) {
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 23, 6<<20)
	l := testLedger(t, dir)
	sw := testWallet(t, l, dir, 1, 0)
	bw := &cheatWallet{Wallet: testWallet(t, l, dir, 2, 1e9), key: testKey(t, 2), kind: "dribble"}
	before := ledgerSum(t, sw, bw.Wallet)
	scfg := marketTestConfig(ipN(220), 2<<20)
	scfg.Market.CreditMiB = 1
	seller, buyer := startPair(t, tp, filepath.Dir(root), dir, scfg, ipN(221), sw, bw)
	waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out", "payload")))
	time.Sleep(500 * time.Millisecond)
	st := seller.Snapshot().Torrents[0].Market
	sBefore, _ := sw.Balance(context.Background())
	if err := buyer.stop(); err != nil {
		t.Fatal(err)
	}
	if err := seller.stop(); err != nil {
		t.Fatal(err)
	}
	rs, err := sw.Cheques()
	if err != nil || len(rs) != 1 {
		t.Fatalf("seller's cheques: %+v %v", rs, err)
	}
	accepted := rs[0].Cheque.Cumulative
	n, _ := accepted.Uint64()
	credit := int64(1 << 20)
	limit := int64(n<<20/askPrice) + credit + credit/4
	t.Logf("%d one-unit cheques signed, %s accepted; paid bytes served %d (limit %d)", bw.dribbled, accepted, st.Sold, limit)
	if bw.dribbled < 2 {
		t.Fatalf("the buyer signed %d cheques: the case needs two", bw.dribbled)
	}
	if st.Sold == 0 || st.Sold > limit {
		t.Errorf("served %d paid bytes to a buyer paying one unit per cheque, want 1…%d", st.Sold, limit)
	}
	sAfter, _ := sw.Balance(context.Background())
	if got := sAfter.Token.SubFloor(sBefore.Token); got.Cmp(accepted) != 0 {
		t.Errorf("seller's ledger rose by %s on shutdown, want the accepted %s", got, accepted)
	}
	if after := ledgerSum(t, sw, bw.Wallet); after.Cmp(before) != 0 {
		t.Errorf("money not conserved: %s before, %s after", before, after)
	}
}

// TestEngineBudgetAndWithdrawnBid (issue 15 case 4, PROTOCOL.md §8.2):
// a buyer with a budget of 1.5 MiB at the ask downloads 6 MiB from a
// real seller, and half way withdraws its bid (the seller's AWARD of its
// current round then names a bid no longer in force). Its cheques never
// pass the budget, nor bid × the bytes it received while awarded plus
// one credit step, whatever the seller counts; the ledger moves exactly
// what the buyer issued. Before, the final cheques of the buyer's
// shutdown (Market.PayAll) paid everything the seller had counted,
// ignoring the budget: 3186 issued on a budget of 1500.
func TestEngineBudgetAndWithdrawnBid(t *testing.T) {
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 29, 6<<20)
	l := testLedger(t, dir)
	sw := testWallet(t, l, dir, 1, 0)
	bw := testWallet(t, l, dir, 2, 1e9)
	before := ledgerSum(t, sw, bw)
	scfg := marketTestConfig(ipN(222), 1<<20)
	scfg.Market.CreditMiB = 1
	seller, buyer := startPair(t, tp, filepath.Dir(root), dir, scfg, ipN(223), sw, bw)
	budget := wallet.NewAmount(askPrice * 3 / 2)
	setMarket(t, buyer.Engine, tf.InfoHash, MarketSettings{Budget: &budget})
	waitFor(t, buyer.Engine, tf.InfoHash, 60*time.Second, "half", func(tr Torrent) bool { return tr.Done >= tr.Size/2 })
	zero := wallet.Amount{}
	setMarket(t, buyer.Engine, tf.InfoHash, MarketSettings{Bid: &zero, BuyerStrategy: ptr(strategy.BuyerFixed)})
	waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out", "payload")))
	time.Sleep(500 * time.Millisecond)
	bm := buyer.Snapshot().Torrents[0].Market
	st := seller.Snapshot().Torrents[0].Market
	if err := buyer.stop(); err != nil {
		t.Fatal(err)
	}
	if err := seller.stop(); err != nil {
		t.Fatal(err)
	}
	var issued wallet.Amount
	rs, err := bw.Cheques()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		issued = r.Cheque.Cumulative
	}
	payLimit := wallet.NewAmount(uint64(bm.Bought)*highBid>>20 + askPrice) // bid × bytes awarded + one 1 MiB step
	t.Logf("seller sold %d paid bytes, buyer bought %d while awarded, spent %s before its shutdown; issued %s (budget %s, bid limit %s)", st.Sold, bm.Bought, bm.Spent, issued, budget, payLimit)
	if issued.Cmp(budget) > 0 {
		t.Errorf("the buyer issued %s, above its budget %s", issued, budget)
	}
	if issued.Cmp(payLimit) > 0 {
		t.Errorf("the buyer issued %s, above bid × bytes awarded + a step = %s", issued, payLimit)
	}
	if issued.IsZero() {
		t.Error("the buyer paid nothing: the case tests nothing")
	}
	sb, _ := sw.Balance(context.Background())
	if sb.Token.Cmp(issued) != 0 {
		t.Errorf("seller holds %s after settlement, want the issued %s", sb.Token, issued)
	}
	if after := ledgerSum(t, sw, bw); after.Cmp(before) != 0 {
		t.Errorf("money not conserved: %s before, %s after", before, after)
	}
}

// TestEngineDebtorReconnects (issue 15 case 5, PROTOCOL.md §8.3): a buyer
// that never pays is served at most one credit plus the tolerance of
// paid bytes; it then drops its connection and comes back from a new
// engine (same wallet, new address and peer ID) and is not awarded
// again: the seller's paid bytes over both connections stay within the
// one credit. It still gets every byte (free share). Before revision
// 2.1, only the old connection was cut and the new one got a fresh
// credit.
func TestEngineDebtorReconnects(t *testing.T) {
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 31, 6<<20)
	l := testLedger(t, dir)
	sw := testWallet(t, l, dir, 1, 0)
	inner := testWallet(t, l, dir, 2, 1e9)
	bw := &cheatWallet{Wallet: inner, key: testKey(t, 2), kind: "never"}
	before := ledgerSum(t, sw, inner)
	scfg := marketTestConfig(ipN(224), 1<<20)
	scfg.Market.CreditMiB = 1
	seller, buyer := startPair(t, tp, filepath.Dir(root), dir, scfg, ipN(225), sw, bw)
	credit := int64(1 << 20)
	limit := credit + credit/4
	waitFor(t, seller.Engine, tf.InfoHash, 60*time.Second, "the debtor served its credit", func(tr Torrent) bool { return tr.Market.Sold >= credit/2 })
	time.Sleep(3 * time.Second) // the debt passes the credit; the seller stops
	first := seller.Snapshot().Torrents[0].Market.Sold
	if err := buyer.stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	again := startMarketEngine(t, "buyer-again", marketTestConfig(ipN(226), 0), filepath.Join(dir, "buyer-again"), bw)
	if _, err := again.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Join(dir, "out2"), Paused: true}); err != nil {
		t.Fatal(err)
	}
	setMarket(t, again.Engine, tf.InfoHash, MarketSettings{Bid: ptr(wallet.NewAmount(highBid)), BuyerStrategy: ptr(strategy.BuyerFixed)})
	if err := again.Resume(ctx, tf.InfoHash); err != nil {
		t.Fatal(err)
	}
	if err := again.AddPeer(ctx, tf.InfoHash, seller.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, again.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out2", "payload")))
	time.Sleep(500 * time.Millisecond)
	st := seller.Snapshot().Torrents[0].Market
	t.Logf("paid bytes served: %d on the first connection, %d in all (limit %d), earned %s", first, st.Sold, limit, st.Earned)
	if first == 0 {
		t.Fatal("the debtor was never awarded: the case tests nothing")
	}
	if st.Sold > limit {
		t.Errorf("served %d paid bytes to a debtor across a reconnection, limit %d", st.Sold, limit)
	}
	for _, e := range []*runningEngine{again, seller} {
		if err := e.stop(); err != nil {
			t.Fatal(err)
		}
	}
	if after := ledgerSum(t, sw, inner); after.Cmp(before) != 0 {
		t.Errorf("money not conserved: %s before, %s after", before, after)
	}
}
