package core

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// tronNet is a fake TRON node (Nile) and wallets on it, each with its
// own cheque book and its own connection to the node.
type tronNet struct {
	n     *faketron.Node
	token wallet.Address
}

func startTron(t *testing.T) *tronNet {
	t.Helper()
	n, err := faketron.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	tn := &tronNet{n: n, token: wallet.MustParseAddress(wallet.DefaultBTTContract)}
	n.AddContract(tn.token)
	return tn
}

// wallet opens a wallet of key seed on the node, holding fund base
// units of the token and 1000 TRX for fees.
func (tn *tronNet) wallet(t *testing.T, dir string, seed byte, fund uint64) *wallet.Wallet {
	t.Helper()
	c, err := tron.Dial(tron.Config{Network: "nile", ChainID: wallet.ChainIDNile, Endpoint: tn.n.Addr(), Plaintext: true,
		Token: tn.token, FeeLimitSun: 20_000_000, RPCTimeout: 2 * time.Second, ConfirmTimeout: 5 * time.Second,
		PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	k := testKey(t, seed)
	book, err := wallet.OpenChequeBook(filepath.Join(dir, fmt.Sprintf("cheques-%d.db", seed)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tn.n.SetTRX(k.Address(), 1_000_000_000)
	if fund > 0 {
		tn.n.SetTRC20(tn.token, k.Address(), wallet.NewAmount(fund))
	}
	return wallet.New(k, book, c)
}

func (tn *tronNet) balance(a wallet.Address) wallet.Amount { return tn.n.TRC20(tn.token, a) }

// TestEngineTronPurchase (PROTOCOL.md §11.2, §16.10): on TRON without a
// vault, a buyer buys a paid torrent from its publisher between two real
// engines on the fake node. The publisher grants the licence once the
// buyer's transfer, named in TRANSFER, is confirmed through its own node;
// the buyer then downloads every byte (sha256 checked), and the tokens
// moved are exactly the price. A buyer without the tokens gets no
// licence and pays nothing. Before, the buyer waited for its licence for
// ever: nothing on TRON counted its payment as settled.
func TestEngineTronPurchase(t *testing.T) {
	const price = 7_000_000
	for i, tc := range []struct {
		name string
		fund uint64
	}{{"funded", 3 * price}, {"unfunded", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tn := startTron(t)
			pub := tn.wallet(t, dir, 95, 0)
			bw := tn.wallet(t, dir, 96, tc.fund)
			terms := market.Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(), Price: wallet.NewAmount(price)}
			root, tp, tf := paidTorrent(t, dir, terms)
			ih := tf.InfoHash
			publisher := startEngine(t, "publisher", marketTestConfig(ipN(200+2*i), 0), filepath.Join(dir, "publisher"), WithWallet(pub))
			if _, err := publisher.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, publisher.Engine, ih, 30*time.Second, "publisher verified", isComplete)
			out := filepath.Join(dir, "out")
			buyer := startEngine(t, "buyer", marketTestConfig(ipN(201+2*i), 0), filepath.Join(dir, "buyer"), WithWallet(bw))
			if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: out, Peers: []string{publisher.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
			bctx, bcancel := context.WithTimeout(ctx, 20*time.Second)
			err := buyer.Buy(bctx, ih, wallet.NewAmount(price))
			bcancel()
			time.Sleep(500 * time.Millisecond) // the next snapshot
			licensed := findT(buyer.Snapshot(), ih).Licensed
			t.Logf("%s: buy %v, licensed %v, publisher holds %s, buyer %s", tc.name, err, licensed, tn.balance(pub.Address()), tn.balance(bw.Address()))
			if tc.fund == 0 {
				if err == nil || licensed {
					t.Fatalf("a buyer without tokens bought a licence (buy %v, licensed %v)", err, licensed)
				}
			} else {
				if err != nil || !licensed {
					t.Fatalf("a funded buyer: buy %v, licensed %v", err, licensed)
				}
				waitFor(t, buyer.Engine, ih, 60*time.Second, "download complete", isComplete)
				sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, filepath.Base(root))))
			}
			for _, e := range []*runningEngine{buyer, publisher} {
				if err := e.stop(); err != nil {
					t.Fatal(err)
				}
			}
			paid := uint64(0)
			if tc.fund > 0 {
				paid = price
			}
			if got := tn.balance(pub.Address()); got.Cmp(wallet.NewAmount(paid)) != 0 {
				t.Errorf("publisher holds %s, want %d", got, paid)
			}
			if got := tn.balance(bw.Address()); got.Cmp(wallet.NewAmount(tc.fund-paid)) != 0 {
				t.Errorf("buyer holds %s, want %d", got, tc.fund-paid)
			}
			if r, ok, err := pub.Highest(wallet.Received, bw.Address()); tc.fund > 0 && (err != nil || !ok || r.Settled.Cmp(r.Cheque.Cumulative) != 0) {
				t.Errorf("publisher's record of the buyer: %+v %v %v, want settled = cumulative", r, ok, err)
			}
		})
	}
}

// TestEngineTronSettlesBandwidth (PROTOCOL.md §8.6, §11.2): on TRON
// without a vault a seller serves a payer of unknown cover paid bytes up
// to its unsecured limit (here 1 MiB worth at the ask). A buyer that
// settles by transfer when the seller stops (ERROR 404), and names the
// transfer, is served paid bytes beyond it: here a 6 MiB torrent, paid
// for past 1 MiB. The tokens that moved are what the seller counts as
// settled, and at most what it served. Before, the transfers were never
// counted: paid service stopped at the unsecured limit for good.
func TestEngineTronSettlesBandwidth(t *testing.T) {
	const sizeMiB = 6
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 19, sizeMiB<<20)
	tn := startTron(t)
	const fund = 1_000_000
	sw := tn.wallet(t, dir, 97, 0)
	bw := tn.wallet(t, dir, 98, fund)
	scfg := marketTestConfig(ipN(210), 1<<20)
	scfg.Market.CreditMiB = 1
	seller, buyer := startPair(t, tp, filepath.Dir(root), dir, scfg, ipN(211), sw, bw)
	waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out", "payload")))
	time.Sleep(500 * time.Millisecond)
	st := seller.Snapshot().Torrents[0].Market
	if err := buyer.stop(); err != nil {
		t.Fatal(err)
	}
	if err := seller.stop(); err != nil {
		t.Fatal(err)
	}
	moved := tn.balance(sw.Address())
	r, _, err := sw.Highest(wallet.Received, bw.Address())
	if err != nil {
		t.Fatal(err)
	}
	unsecured := int64(1 << 20) // one initial credit step (1 MiB)
	t.Logf("paid bytes served %d (%.2f MiB), cheques accepted %s, settled %s, tokens moved %s",
		st.Sold, float64(st.Sold)/(1<<20), r.Cheque.Cumulative, r.Settled, moved)
	if st.Sold <= 2*unsecured {
		t.Errorf("served %d paid bytes: not beyond the unsecured limit of %d (the buyer's settlements did not count)", st.Sold, unsecured)
	}
	if moved.Cmp(r.Settled) != 0 {
		t.Errorf("tokens moved %s, settled counted %s", moved, r.Settled)
	}
	if s, _ := moved.Add(tn.balance(bw.Address())); s.Cmp(wallet.NewAmount(fund)) != 0 {
		t.Errorf("money not conserved: seller %s + buyer %s != %d", moved, tn.balance(bw.Address()), fund)
	}
	if owed := wallet.NewAmount(uint64(st.Sold) * askPrice >> 20); moved.Cmp(owed.SubFloor(wallet.NewAmount(0))) > 0 && moved.Cmp(r.Cheque.Cumulative) > 0 {
		t.Errorf("moved %s beyond the cheques %s", moved, r.Cheque.Cumulative)
	}
}
