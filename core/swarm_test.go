package core

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

// testLedger opens a local ledger file shared by a test's wallets.
func testLedger(t testing.TB, dir string) *local.Ledger {
	t.Helper()
	l, err := local.Open(filepath.Join(dir, "ledger.json"), wallet.MustParseAddress(wallet.DefaultBTTContract), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testWallet opens a wallet with a fixed key (seed) and its own cheque
// book in dir, funded with fund base units when fund > 0.
func testWallet(t testing.TB, l *local.Ledger, dir string, seed byte, fund uint64) *wallet.Wallet {
	t.Helper()
	b := make([]byte, 32)
	b[0], b[31] = 7, seed
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	book, err := wallet.OpenChequeBook(filepath.Join(dir, fmt.Sprintf("cheques-%d.db", seed)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := wallet.New(k, book, l)
	if fund > 0 {
		if err := w.Faucet(context.Background(), wallet.NewAmount(fund)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// marketTestConfig is testConfig with the market's round shortened.
func marketTestConfig(ip string, upload int64) Config {
	c := testConfig(ip)
	c.UploadLimit = Rate(upload)
	c.Market.Round = time.Second
	c.Market.Slots = 1
	return c
}

// startMarketEngine is startEngine with the wallet (nil: market off).
func startMarketEngine(t testing.TB, name string, cfg Config, dataDir string, w Wallet) *runningEngine {
	t.Helper()
	if w == nil {
		return startEngine(t, name, cfg, dataDir)
	}
	return startEngine(t, name, cfg, dataDir, WithWallet(w))
}

func ptr[T any](v T) *T { return &v }

func setMarket(t testing.TB, e *Engine, ih InfoHash, m MarketSettings) {
	t.Helper()
	if err := e.SetMarket(context.Background(), ih, m); err != nil {
		t.Fatal(err)
	}
}

// peerOf returns the peer row of torrent ih in s whose key's host is ip.
func peerOf(s Snapshot, ih InfoHash, ip string) (Peer, bool) {
	for _, tr := range s.Torrents {
		if tr.InfoHash != ih {
			continue
		}
		for _, p := range tr.Peers {
			if len(p.Key) > len(ip) && string(p.Key[:len(ip)+1]) == ip+":" {
				return p, true
			}
		}
	}
	return Peer{}, false
}

// contended is the swarm of the market tests: one seller with a capped
// upload, two bidders and one legacy leecher, each on its own 127.0.0.x,
// in a star (leechers only know the seller).
type contended struct {
	dir                  string
	ih                   InfoHash
	root, torrentPath    string
	size                 int64
	ledger               *local.Ledger
	seller               *runningEngine
	high, low, legacy    *runningEngine
	sellerW, highW, lowW *wallet.Wallet
}

const (
	askPrice  = 1000 // base units per MiB
	highBid   = 5000
	lowBid    = 2000
	swarmRate = 1 << 20 // the seller's upload, bytes/s
)

func startContended(t *testing.T, sellerStrategy string, sizeMiB int, base int) *contended {
	t.Helper()
	c := &contended{dir: t.TempDir()}
	c.root = makePayload(t, filepath.Join(c.dir, "src"), "payload", 3, map[string]int{"data.bin": sizeMiB << 20})
	tf, err := CreateTorrent(CreateOptions{Path: c.root, PieceLength: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	c.ih, c.size = tf.InfoHash, tf.Size
	c.torrentPath = filepath.Join(c.dir, "payload.torrent")
	if err := os.WriteFile(c.torrentPath, tf.Bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	c.ledger = testLedger(t, c.dir)
	c.sellerW = testWallet(t, c.ledger, c.dir, 1, 0)
	c.highW = testWallet(t, c.ledger, c.dir, 2, 1e15)
	c.lowW = testWallet(t, c.ledger, c.dir, 3, 1e15)
	ip := func(n int) string { return fmt.Sprintf("127.0.0.%d", base+n) }
	ctx := context.Background()

	c.seller = startMarketEngine(t, "seller", marketTestConfig(ip(0), swarmRate), filepath.Join(c.dir, "seller"), c.sellerW)
	if _, err := c.seller.Add(ctx, AddSpec{Source: c.torrentPath, DataDir: filepath.Dir(c.root)}); err != nil {
		t.Fatal(err)
	}
	setMarket(t, c.seller.Engine, c.ih, MarketSettings{Ask: ptr(wallet.NewAmount(askPrice)), SellerStrategy: ptr(sellerStrategy)})
	waitFor(t, c.seller.Engine, c.ih, 30*time.Second, "seller verified", isComplete)
	sellerAddr := c.seller.ListenAddr().String()

	leech := func(name string, n int, w Wallet, bid uint64) *runningEngine {
		e := startMarketEngine(t, name, marketTestConfig(ip(n), 0), filepath.Join(c.dir, name), w)
		ih, err := e.Add(ctx, AddSpec{Source: c.torrentPath, DataDir: filepath.Join(c.dir, name+"-out"), Paused: true})
		if err != nil {
			t.Fatal(err)
		}
		if bid > 0 {
			setMarket(t, e.Engine, ih, MarketSettings{Bid: ptr(wallet.NewAmount(bid)), BuyerStrategy: ptr(strategy.BuyerFixed)})
		}
		return e
	}
	c.high = leech("high", 1, c.highW, highBid)
	c.low = leech("low", 2, c.lowW, lowBid)
	c.legacy = leech("legacy", 3, nil, 0)
	for _, e := range []*runningEngine{c.high, c.low, c.legacy} {
		if err := e.Resume(ctx, c.ih); err != nil {
			t.Fatal(err)
		}
		if err := e.AddPeer(ctx, c.ih, sellerAddr); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *contended) leechers() []*runningEngine { return []*runningEngine{c.high, c.low, c.legacy} }

func TestMarketContendedSwarm(t *testing.T) {
	c := startContended(t, strategy.SellerUniform, 12, 20)
	highIP, lowIP, legacyIP := "127.0.0.21", "127.0.0.22", "127.0.0.23"

	// Wait until the high bidder holds an award, then sample the seller
	// while all three are still downloading.
	waitFor(t, c.high.Engine, c.ih, 30*time.Second, "award to the high bidder", func(tr Torrent) bool {
		return len(tr.Peers) == 1 && tr.Peers[0].Market.AwardedU
	})
	var ph, pl, pg Peer
	st := waitFor(t, c.seller.Engine, c.ih, 120*time.Second, "high bidder half served", func(tr Torrent) bool {
		s := Snapshot{Torrents: []Torrent{tr}}
		var ok1, ok2, ok3 bool
		ph, ok1 = peerOf(s, c.ih, highIP)
		pl, ok2 = peerOf(s, c.ih, lowIP)
		pg, ok3 = peerOf(s, c.ih, legacyIP)
		return ok1 && ok2 && ok3 && ph.Uploaded >= c.size/2
	})
	t.Logf("seller uploaded: high %d, low %d, legacy %d", ph.Uploaded, pl.Uploaded, pg.Uploaded)
	if ph.Uploaded <= pl.Uploaded || ph.Uploaded <= pg.Uploaded {
		t.Errorf("the high bidder did not get the larger share: high %d, low %d, legacy %d", ph.Uploaded, pl.Uploaded, pg.Uploaded)
	}
	// The legacy peer is never below its fair free share: 20 % shared by
	// the two peers without an award. Allow half of it for pipelining.
	total := ph.Uploaded + pl.Uploaded + pg.Uploaded
	if free := total / 10; pg.Uploaded < free/2 {
		t.Errorf("legacy peer got %d of %d bytes, below half its free share %d", pg.Uploaded, total, free)
	}
	if pg.Market.Enabled || pg.Market.Awarded {
		t.Errorf("legacy peer has market state %+v", pg.Market)
	}
	// Uniform price: the winner pays the highest losing bid.
	if !ph.Market.Enabled || !ph.Market.Awarded || ph.Market.TheirBid.String() != fmt.Sprint(highBid) {
		t.Errorf("seller's view of the high bidder: %+v", ph.Market)
	}
	if ph.Market.Price.String() != fmt.Sprint(lowBid) || ph.Market.Share <= pl.Market.Share {
		t.Errorf("high bidder's price %s share %v (low's share %v), want price %d", ph.Market.Price, ph.Market.Share, pl.Market.Share, lowBid)
	}
	if pl.Market.Awarded || pl.Market.TheirBid.String() != fmt.Sprint(lowBid) {
		t.Errorf("seller's view of the low bidder: %+v", pl.Market)
	}
	if got := st.Market.Price.String(); got != fmt.Sprint(lowBid) {
		t.Errorf("seller's clearing price %s, want %d", got, lowBid)
	}
	hs := c.high.Snapshot()
	if p := hs.Torrents[0].Peers[0].Market; p.Price.String() != fmt.Sprint(lowBid) || p.TheirAsk.String() != fmt.Sprint(askPrice) {
		t.Errorf("high bidder's view of the seller: price %s ask %s, want %d and %d", p.Price, p.TheirAsk, lowBid, askPrice)
	}
	ls := c.low.Snapshot()
	if p := ls.Torrents[0].Peers[0].Market; p.AwardedU || p.Price.String() != fmt.Sprint(lowBid) {
		t.Errorf("low bidder's view: awarded %v, price %s (OUTBID at the clearing price %d)", p.AwardedU, p.Price, lowBid)
	}

	// Strategies switch at run time: with `free` the award ends at the
	// next round; back to `uniform`, the high bidder wins again.
	setMarket(t, c.seller.Engine, c.ih, MarketSettings{SellerStrategy: ptr(strategy.SellerFree)})
	waitFor(t, c.high.Engine, c.ih, 30*time.Second, "award ended by free", func(tr Torrent) bool {
		return len(tr.Peers) == 1 && !tr.Peers[0].Market.AwardedU
	})
	setMarket(t, c.seller.Engine, c.ih, MarketSettings{SellerStrategy: ptr(strategy.SellerUniform)})
	waitFor(t, c.high.Engine, c.ih, 30*time.Second, "award again under uniform", func(tr Torrent) bool {
		return isComplete(tr) || len(tr.Peers) == 1 && tr.Peers[0].Market.AwardedU
	})

	// Everyone finishes; the data is right.
	for _, e := range c.leechers() {
		waitFor(t, e.Engine, c.ih, 120*time.Second, "download complete", isComplete)
	}
	want := hashTree(t, c.root)
	for _, name := range []string{"high", "low", "legacy"} {
		sameTree(t, want, hashTree(t, filepath.Join(c.dir, name+"-out", "payload")))
	}
	checkPaid(t, c.seller.Engine, c.ih, []*runningEngine{c.high, c.low}, 64<<10)
	checkConservation(t, c.ledger, []*wallet.Wallet{c.sellerW, c.highW, c.lowW})
}

// checkPaid waits until the seller accepted every cheque the buyers
// issued, and checks each buyer paid for what it received while awarded
// at its award prices (between the lowest and highest price it could
// have paid, within one piece's worth), and that the seller sold no
// less than they bought.
func checkPaid(t *testing.T, seller *Engine, ih InfoHash, buyers []*runningEngine, piece int64) {
	t.Helper()
	var spent wallet.Amount
	var bought int64
	st := waitFor(t, seller, ih, 30*time.Second, "every cheque accepted", func(tr Torrent) bool {
		spent, bought = wallet.Amount{}, 0
		for _, b := range buyers {
			bt := b.Snapshot().Torrents[0].Market
			spent = spent.AddSaturating(bt.Spent)
			bought += bt.Bought
		}
		return !spent.IsZero() && tr.Market.Earned.Cmp(spent) == 0
	})
	t.Logf("seller sold %d bytes, earned %s; buyers bought %d bytes, spent %s", st.Market.Sold, st.Market.Earned, bought, spent)
	if st.Market.Sold+piece < bought {
		t.Errorf("buyers paid for %d bytes, the seller sold only %d", bought, st.Market.Sold)
	}
	paid, _ := spent.Uint64()
	lo, hi := uint64(bought)*askPrice>>20, uint64(bought)*highBid>>20
	if paid+uint64(piece)*highBid>>20 < lo || paid > hi {
		t.Errorf("paid %d for %d bytes: outside [%d, %d]", paid, bought, lo, hi)
	}
}

// checkConservation settles every wallet and checks money is conserved:
// what was issued equals what was accepted (no cheque in flight at the
// end of a test), and ledger balances moved by exactly the settled sums.
func checkConservation(t *testing.T, l *local.Ledger, ws []*wallet.Wallet) {
	t.Helper()
	ctx := context.Background()
	var issued, received wallet.Amount
	for _, w := range ws {
		rs, err := w.Cheques()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Direction == wallet.Issued {
				issued = issued.AddSaturating(r.Cheque.Cumulative)
			} else {
				received = received.AddSaturating(r.Cheque.Cumulative)
			}
		}
	}
	if issued.Cmp(received) != 0 {
		t.Errorf("cheques issued %s, accepted %s", issued, received)
	}
	var before, after wallet.Amount
	for _, w := range ws {
		b, err := w.Balance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before = before.AddSaturating(b.Token)
	}
	for _, w := range ws {
		if _, err := w.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range ws {
		b, _ := w.Balance(ctx)
		after = after.AddSaturating(b.Token)
	}
	if before.Cmp(after) != 0 {
		t.Errorf("ledger total changed from %s to %s", before, after)
	}
}

// TestMarketGarbageSellerNotPaid: a seller that awards the buyer paid
// service, and has already been paid at least one cheque for good bytes,
// starts serving pieces that fail the buyer's hash check (its data file is
// overwritten in place behind the engine's back mid-transfer). From the
// first hash failure on, the buyer issues it no further cheque (its
// cumulative total stays where it was), stops the paid relationship
// (ERROR 405, extension off, no award), and money is conserved.
func TestMarketGarbageSellerNotPaid(t *testing.T) {
	dir := t.TempDir()
	const size = 16 << 20
	root, tp, tf := dataTorrent(t, dir, 5, size)
	l := testLedger(t, dir)
	sw, bw := testWallet(t, l, dir, 1, 0), testWallet(t, l, dir, 2, 1e15)
	ctx := context.Background()
	// A slow seller: the first cheque (half the 2 MiB credit) comes
	// after about 1 MiB, long before the 16 MiB are through.
	seller := startMarketEngine(t, "seller", marketTestConfig("127.0.0.30", 512<<10), filepath.Join(dir, "seller"), sw)
	if _, err := seller.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	setMarket(t, seller.Engine, tf.InfoHash, MarketSettings{Ask: ptr(wallet.NewAmount(askPrice)), SellerStrategy: ptr(strategy.SellerUniform)})
	waitFor(t, seller.Engine, tf.InfoHash, 30*time.Second, "seller verified", isComplete)
	buyer := startMarketEngine(t, "buyer", marketTestConfig("127.0.0.31", 0), filepath.Join(dir, "buyer"), bw)
	if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Join(dir, "out"), Paused: true}); err != nil {
		t.Fatal(err)
	}
	setMarket(t, buyer.Engine, tf.InfoHash, MarketSettings{Bid: ptr(wallet.NewAmount(highBid)), BuyerStrategy: ptr(strategy.BuyerFixed)})
	if err := buyer.Resume(ctx, tf.InfoHash); err != nil {
		t.Fatal(err)
	}
	if err := buyer.AddPeer(ctx, tf.InfoHash, seller.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	// Paid service in force and at least one cheque for good bytes.
	paid := waitFor(t, buyer.Engine, tf.InfoHash, 60*time.Second, "first cheque while awarded", func(tr Torrent) bool {
		return len(tr.Peers) == 1 && tr.Peers[0].Market.AwardedU && !tr.Peers[0].Market.Spent.IsZero()
	})
	if paid.Done >= paid.Size {
		t.Fatalf("transfer finished (%d of %d bytes) before the data could go bad", paid.Done, paid.Size)
	}
	firstSpent := paid.Peers[0].Market.Spent
	t.Logf("first cheque: cumulative %s after %d bought bytes (%d of %d done)", firstSpent, paid.Peers[0].Market.Bought, paid.Done, paid.Size)
	// The seller's data goes bad in place (same inode and size, so its
	// reads keep succeeding) behind the engine's back.
	garbage := makePayload(t, filepath.Join(dir, "garbage"), "payload", 6, map[string]int{"data.bin": size})
	b, err := os.ReadFile(filepath.Join(garbage, "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(root, "data.bin"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// The buyer detects the first bad piece and stops paying the seller.
	got := waitFor(t, buyer.Engine, tf.InfoHash, 60*time.Second, "bad piece detected", func(tr Torrent) bool {
		return len(tr.Peers) == 1 && strings.Contains(tr.Peers[0].Market.Err, "bad_piece")
	})
	atFail := got.Peers[0].Market
	if atFail.Enabled || atFail.AwardedU {
		t.Errorf("after a bad piece the buyer still has the market on (%v) or an award from the seller (%v)", atFail.Enabled, atFail.AwardedU)
	}
	if atFail.Spent.Cmp(firstSpent) < 0 {
		t.Fatalf("cumulative to the seller went down from %s to %s", firstSpent, atFail.Spent)
	}
	t.Logf("at the first hash failure: cumulative %s, bought %d bytes, done %d", atFail.Spent, atFail.Bought, got.Done)
	// Let the transfer go on with more bad pieces and any cheque in flight land.
	time.Sleep(3 * time.Second)
	later := buyer.Snapshot()
	if p, ok := peerOf(later, tf.InfoHash, "127.0.0.30"); ok {
		if p.Market.Spent.Cmp(atFail.Spent) != 0 {
			t.Errorf("buyer's cumulative to the garbage seller moved from %s to %s after the hash failure", atFail.Spent, p.Market.Spent)
		}
		if p.Market.AwardedU || p.Market.Enabled {
			t.Errorf("buyer back in a paid relationship with the garbage seller: %+v", p.Market)
		}
	}
	// The cheque books agree to the base unit: the buyer issued exactly
	// the cumulative seen at the failure, the seller holds at most that.
	issued, received := wallet.Amount{}, wallet.Amount{}
	if rs, err := bw.Cheques(); err != nil {
		t.Fatal(err)
	} else {
		for _, r := range rs {
			if r.Direction == wallet.Issued && r.Counterparty == sw.Address() {
				issued = r.Cheque.Cumulative
			}
		}
	}
	if rs, err := sw.Cheques(); err != nil {
		t.Fatal(err)
	} else {
		for _, r := range rs {
			if r.Direction == wallet.Received && r.Counterparty == bw.Address() {
				received = r.Cheque.Cumulative
			}
		}
	}
	if issued.Cmp(atFail.Spent) != 0 {
		t.Errorf("buyer's cheque book holds cumulative %s issued to the seller, want %s (the total at the hash failure)", issued, atFail.Spent)
	}
	if received.IsZero() || received.Cmp(issued) > 0 {
		t.Errorf("seller's cheque book holds cumulative %s from the buyer, want between 1 and %s", received, issued)
	}
	if s := seller.Snapshot(); s.Torrents[0].Market.Earned.Cmp(received) != 0 {
		t.Errorf("seller earned %s, its cheque book holds %s", s.Torrents[0].Market.Earned, received)
	}
	checkConservation(t, l, []*wallet.Wallet{sw, bw})
}
