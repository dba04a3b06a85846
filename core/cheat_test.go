package core

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// cheatWallet is a buyer's wallet whose cheques are corrupted on their
// way out: the engine signs through it (core.Wallet), the market sends
// what it returns. The inner wallet records the genuine cheques it signs;
// the cheats below sign their own with the same key.
type cheatWallet struct {
	*wallet.Wallet
	key   *wallet.Key
	other wallet.Address // a beneficiary that is not the seller
	kind  string
	first *wallet.Cheque // the first genuine cheque (replay, decreasing)
	// dribble: every cheque adds one base unit to the last one signed.
	dribbled int
	last     wallet.Amount
}

func (c *cheatWallet) SignCheque(token, ben wallet.Address, cum wallet.Amount, chainID uint64) (wallet.Cheque, error) {
	switch c.kind {
	case "never":
		return wallet.Cheque{}, errors.New("this buyer never pays")
	case "forged":
		// Signed with the key but never recorded: the buyer's own book
		// (which it settles on shutdown) holds no cheque.
		ch, err := wallet.SignCheque(c.key, chainID, token, ben, cum)
		ch.Signature[10] ^= 0x5a
		return ch, err
	case "misaddressed":
		return wallet.SignCheque(c.key, chainID, token, c.other, cum)
	case "wrong-chain":
		return wallet.SignCheque(c.key, chainID+1, token, ben, cum)
	case "dribble":
		next, err := c.last.Add(wallet.NewAmount(1))
		if err != nil {
			return wallet.Cheque{}, err
		}
		ch, err := c.Wallet.SignCheque(token, ben, next, chainID)
		if err == nil {
			c.last = next
			c.dribbled++
		}
		return ch, err
	case "replay", "decreasing":
		if c.first == nil {
			ch, err := c.Wallet.SignCheque(token, ben, cum, chainID)
			if err != nil {
				return ch, err
			}
			c.first = &ch
			return ch, nil
		}
		if c.kind == "replay" {
			return *c.first, nil
		}
		less, err := c.first.Cumulative.Sub(wallet.NewAmount(1))
		if err != nil {
			return wallet.Cheque{}, err
		}
		return wallet.SignCheque(c.key, chainID, token, ben, less)
	}
	return c.Wallet.SignCheque(token, ben, cum, chainID)
}

// testKey is the key testWallet derives from seed.
func testKey(t testing.TB, seed byte) *wallet.Key {
	b := make([]byte, 32)
	b[0], b[31] = 7, seed
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestMarketCheaters runs a real seller and one cheating buyer per case
// over loopback. No cheater gets paid service beyond the first credit
// (1 MiB at the ask, plus the tolerance); the seller's cheque book holds
// none of the bad cheques, and what it earned is exactly what its ledger
// balance rises by after the shutdown settlement.
func TestMarketCheaters(t *testing.T) {
	const (
		creditMiB = 1
		sizeMiB   = 6
	)
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 11, sizeMiB<<20)
	want := hashTree(t, root)
	for i, kind := range []string{"forged", "replay", "decreasing", "misaddressed", "wrong-chain", "never"} {
		t.Run(kind, func(t *testing.T) {
			cdir := filepath.Join(dir, kind)
			l := testLedger(t, cdir)
			sw := testWallet(t, l, cdir, 1, 0)
			bw := &cheatWallet{Wallet: testWallet(t, l, cdir, 2, 1e15), key: testKey(t, 2), other: testKey(t, 99).Address(), kind: kind}
			scfg := marketTestConfig(ipN(40+2*i), 2<<20)
			scfg.Market.CreditMiB = creditMiB
			seller, buyer := startPair(t, tp, filepath.Dir(root), cdir, scfg, ipN(41+2*i), sw, bw)
			ctx := context.Background()
			// The cheater is served (free share) to the end.
			waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
			sameTree(t, want, hashTree(t, filepath.Join(cdir, "out", "payload")))
			time.Sleep(500 * time.Millisecond) // any cheque in flight lands now
			st := seller.Snapshot().Torrents[0].Market
			rs, err := sw.Cheques()
			if err != nil {
				t.Fatal(err)
			}
			// What the seller may have given: the first credit, plus the
			// bytes covered by a genuine first cheque and the doubled
			// credit it earns (replay, decreasing), plus the tolerance.
			credit := int64(creditMiB << 20)
			var paidBytes int64
			var wantEarned wallet.Amount
			switch kind {
			case "replay", "decreasing":
				if bw.first == nil {
					t.Fatal("the buyer never signed its first, genuine cheque")
				}
				wantEarned = bw.first.Cumulative
				n, _ := wantEarned.Uint64()
				paidBytes, credit = int64(n<<20/askPrice), 2*credit
				if len(rs) != 1 || rs[0].Cheque.Cumulative.Cmp(wantEarned) != 0 {
					t.Errorf("seller holds %+v, want only the genuine cheque of %s", rs, wantEarned)
				}
			default:
				if len(rs) != 0 {
					t.Errorf("seller accepted %d bad cheques: %+v", len(rs), rs)
				}
			}
			limit := paidBytes + credit + credit/4
			t.Logf("%s: seller sold %d paid bytes (limit %d), earned %s", kind, st.Sold, limit, st.Earned)
			if st.Sold == 0 {
				t.Errorf("the %s cheater was never awarded: the case tests nothing", kind)
			}
			if st.Sold > limit {
				t.Errorf("seller sold %d paid bytes to a %s cheater, limit %d", st.Sold, kind, limit)
			}
			if st.Earned.Cmp(wantEarned) != 0 {
				t.Errorf("seller earned %s from a %s cheater, want %s", st.Earned, kind, wantEarned)
			}
			// The snapshot's unsettled amounts, per torrent and in total,
			// are the genuine cheque (after the next balance refresh).
			waitFor(t, seller.Engine, tf.InfoHash, 30*time.Second, "unsettled in the snapshot", func(tr Torrent) bool {
				return tr.Market.Unsettled.Cmp(wantEarned) == 0
			})
			if s := seller.Snapshot(); s.Totals.Unsettled.Cmp(wantEarned) != 0 || s.Torrents[0].Market.Unsettled.Cmp(wantEarned) != 0 {
				t.Errorf("seller's unsettled: total %s, torrent %s, want %s", s.Totals.Unsettled, s.Torrents[0].Market.Unsettled, wantEarned)
			}
			before, err := sw.Balance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			bBefore, err := bw.Balance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := buyer.stop(); err != nil {
				t.Fatal(err)
			}
			if err := seller.stop(); err != nil {
				t.Fatal(err)
			}
			after, err := sw.Balance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := after.Token.Sub(before.Token); got.Cmp(wantEarned) != 0 {
				t.Errorf("seller's ledger balance rose by %s on shutdown, want %s", got, wantEarned)
			}
			bAfter, err := bw.Balance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := bBefore.Token.Sub(bAfter.Token); got.Cmp(wantEarned) != 0 {
				t.Errorf("cheater's ledger balance fell by %s, want %s", got, wantEarned)
			}
		})
	}
}

// startPair starts a seller of the torrent at tp (data in dataDir) with
// ask askPrice under scfg, and a buyer on ip bidding highBid, connected
// to it.
func startPair(t *testing.T, tp, dataDir, dir string, scfg Config, ip string, sw, bw Wallet) (seller, buyer *runningEngine) {
	t.Helper()
	ctx := context.Background()
	seller = startMarketEngine(t, "seller", scfg, filepath.Join(dir, "seller"), sw)
	ih, err := seller.Add(ctx, AddSpec{Source: tp, DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	setMarket(t, seller.Engine, ih, MarketSettings{Ask: ptr(wallet.NewAmount(askPrice)), SellerStrategy: ptr(strategy.SellerUniform)})
	waitFor(t, seller.Engine, ih, 30*time.Second, "seller verified", isComplete)
	buyer = startMarketEngine(t, "buyer", marketTestConfig(ip, 0), filepath.Join(dir, "buyer"), bw)
	if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Join(dir, "out"), Paused: true}); err != nil {
		t.Fatal(err)
	}
	setMarket(t, buyer.Engine, ih, MarketSettings{Bid: ptr(wallet.NewAmount(highBid)), BuyerStrategy: ptr(strategy.BuyerFixed)})
	if err := buyer.Resume(ctx, ih); err != nil {
		t.Fatal(err)
	}
	if err := buyer.AddPeer(ctx, ih, seller.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	return seller, buyer
}

func ipN(n int) string { return fmt.Sprintf("127.0.0.%d", n) }
