package core

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// The cheque vault end to end (issue 16 item 7, PROTOCOL.md §18): real
// engines on the TRON backend, talking to the fake node through the
// unmodified gotron-sdk client; the node runs the committed contracts on
// go-ethereum's EVM.

// vaultChain is a fake TRON node with a VaultFactory deployed.
type vaultChain struct {
	n       *faketron.Node
	factory wallet.Address
	token   wallet.Address
	// freeShare is the percent of a vault's free collateral the wallets
	// opened after it is set count besides their reservation (wallet
	// vault_free_share; 0, the default: reservations only).
	freeShare int
}

func newVaultChain(t *testing.T) *vaultChain {
	t.Helper()
	n, err := faketron.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	token := wallet.MustParseAddress(wallet.DefaultBTTContract)
	n.AddContract(token)
	vc := &vaultChain{n: n, token: token}
	deployer := tronKey(t, 99)
	n.SetTRX(deployer.Address(), 10_000_000_000)
	f, _, err := vc.chain(t).DeployFactory(context.Background(), deployer)
	if err != nil {
		t.Fatal(err)
	}
	vc.factory = f
	return vc
}

// chain dials the node with the factory configured.
func (vc *vaultChain) chain(t *testing.T) *tron.Chain {
	t.Helper()
	c, err := tron.Dial(tron.Config{
		Network: "nile", ChainID: wallet.ChainIDNile, Endpoint: vc.n.Addr(), Plaintext: true, APIKey: "test",
		Token: vc.token, Factory: vc.factory, FreeShare: vc.freeShare, FeeLimitSun: 2_000_000_000, RPCTimeout: 2 * time.Second,
		ConfirmTimeout: 5 * time.Second, PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tronKey(t *testing.T, seed byte) *wallet.Key {
	t.Helper()
	b := make([]byte, 32)
	b[0], b[31] = 5, seed
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wallet opens a TRON wallet for seed with 10,000 TRX for fees and
// tokens base units of the token.
func (vc *vaultChain) wallet(t *testing.T, dir string, seed byte, tokens uint64) (*wallet.Wallet, *wallet.Key) {
	t.Helper()
	k := tronKey(t, seed)
	vc.n.SetTRX(k.Address(), 10_000_000_000)
	if tokens > 0 {
		vc.n.SetTRC20(vc.token, k.Address(), wallet.NewAmount(tokens))
	}
	book, err := wallet.OpenChequeBook(filepath.Join(dir, fmt.Sprintf("cheques-%d.db", seed)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return wallet.New(k, book, vc.chain(t)), k
}

// vaultWith creates k's vault holding deposit base units, less a
// withdrawal of withdraw announced at once.
func (vc *vaultChain) vaultWith(t *testing.T, k *wallet.Key, deposit, withdraw uint64) wallet.Address {
	t.Helper()
	ctx := context.Background()
	c := vc.chain(t)
	v, _, err := c.CreateVault(ctx, k, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deposit(ctx, k, wallet.NewAmount(deposit)); err != nil {
		t.Fatal(err)
	}
	if withdraw > 0 {
		if _, err := c.RequestWithdrawal(ctx, k, wallet.NewAmount(withdraw)); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// reserve reserves amount base units of k's vault for payee.
func (vc *vaultChain) reserve(t *testing.T, k *wallet.Key, payee wallet.Address, amount uint64) {
	t.Helper()
	if _, err := vc.chain(t).Reserve(context.Background(), k, payee, wallet.NewAmount(amount)); err != nil {
		t.Fatal(err)
	}
}

// TestVaultEngines: the buyer's engine pays with cheques of its funded
// vault; the seller's engine takes them as the buyer's cover, serves
// paid bytes against it, and on shutdown cashes the latest cheque at the
// vault: its token balance rises by exactly the cumulative amount and
// the vault's falls by as much. Cashing again pays nothing and sends no
// transaction. With a withdrawal announced, the seller serves paid bytes
// only up to the collateral left (balance less the withdrawal), though
// the vault's balance is ten times that. In those two cases the seller
// counts the vault's whole free collateral (vault_free_share = 100; the
// buyer reserved nothing for it). In the third the buyer reserved 20 MiB's
// worth for the seller and then announced lowering it by 19 (an attacker
// about to take its reservation back): the seller, counting reservations
// only, serves paid bytes up to the 1 MiB left, though the vault holds
// 20 and the lowering is a day away.
func TestVaultEngines(t *testing.T) {
	const sizeMiB = 6
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 23, sizeMiB<<20)
	want := hashTree(t, root)
	for i, tc := range []struct {
		name              string
		deposit, withdraw uint64 // base units; askPrice per MiB
		reserve, lower    uint64 // reserved for the seller, and the lowering announced
	}{
		{"funded", 100 * askPrice, 0, 0, 0},
		{"withdrawal announced", 20 * askPrice, 19 * askPrice, 0, 0},
		{"reservation lowering announced", 20 * askPrice, 0, 20 * askPrice, 19 * askPrice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cdir := filepath.Join(dir, fmt.Sprint(i))
			vc := newVaultChain(t)
			if tc.reserve == 0 {
				vc.freeShare = 100
			}
			sw, _ := vc.wallet(t, cdir, 1, 0)
			bw, bk := vc.wallet(t, cdir, 2, 1000*askPrice)
			vault := vc.vaultWith(t, bk, tc.deposit, tc.withdraw)
			collateral := tc.deposit - tc.withdraw
			if tc.reserve > 0 {
				vc.reserve(t, bk, sw.Address(), tc.reserve)
				if _, err := vc.chain(t).RequestUnreserve(ctx, bk, sw.Address(), wallet.NewAmount(tc.lower)); err != nil {
					t.Fatal(err)
				}
				collateral = tc.reserve - tc.lower
			}
			scfg := marketTestConfig(ipN(70+2*i), 2<<20)
			scfg.Market.CreditMiB = 1
			seller, buyer := startPair(t, tp, filepath.Dir(root), cdir, scfg, ipN(71+2*i), sw, bw)
			waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
			sameTree(t, want, hashTree(t, filepath.Join(cdir, "out", "payload")))
			time.Sleep(500 * time.Millisecond)
			sold := seller.Snapshot().Torrents[0].Market.Sold
			if err := buyer.stop(); err != nil {
				t.Fatal(err)
			}
			if err := seller.stop(); err != nil { // cashes at the vault on its way out
				t.Fatal(err)
			}
			r, held, err := sw.Highest(wallet.Received, bk.Address())
			if err != nil || !held {
				t.Fatalf("seller holds no cheque from the buyer: %v", err)
			}
			cum := r.Cheque.Cumulative
			got := vc.n.TRC20(vc.token, sw.Address())
			left := vc.n.TRC20(vc.token, vault)
			t.Logf("%s: paid bytes %d (%.2f MiB), cumulative %s, seller holds %s, vault %s (collateral %d)",
				tc.name, sold, float64(sold)/(1<<20), cum, got, left, collateral)
			if r.Cheque.Vault != vault || r.Cheque.VerifyVault(vault) != nil {
				t.Fatalf("held cheque is not a cheque of vault %s: %+v", vault, r.Cheque)
			}
			if sold == 0 || cum.IsZero() {
				t.Fatal("no paid bytes or no cheque: the case tests nothing")
			}
			if got.Cmp(cum) != 0 || r.Settled.Cmp(cum) != 0 {
				t.Fatalf("seller holds %s, settled %s, want exactly the cumulative %s", got, r.Settled, cum)
			}
			if s, _ := left.Add(got); s.Cmp(wallet.NewAmount(tc.deposit)) != 0 {
				t.Fatalf("vault %s + seller %s != deposit %d", left, got, tc.deposit)
			}
			if limit := int64(collateral) << 20 / askPrice; sold > limit {
				t.Fatalf("served %d paid bytes against a collateral worth %d bytes", sold, limit)
			}
			// Cashing again pays nothing and sends nothing.
			before := vc.n.Broadcasts()
			ss, err := sw.Settle(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if !s.Paid.IsZero() || s.Err != nil {
					t.Fatalf("second settlement: %+v", s)
				}
			}
			if vc.n.Broadcasts() != before || vc.n.TRC20(vc.token, sw.Address()).Cmp(cum) != 0 {
				t.Fatal("cashing again sent a transaction or paid")
			}
		})
	}
}

// TestVaultLicence (issue 15 item 4 with a vault, PROTOCOL.md §18.5): on
// TRON a buyer paying with a cheque of its vault is licensed once the
// publisher's reading of the vault shows the purchase covered, without
// any transaction; the licence (presented with the publisher's nonce on
// the connection, §18.4) opens the gate and the download completes, and
// the publisher later cashes exactly the price. The buyer reserved its
// deposit for the publisher (whose cover is that reservation:
// vault_free_share is 0).
//
// The attacker buyer reserves less than the price for the publisher, or
// announces taking its reservation back before buying: a reading of the
// vault after the purchase does not cover it, so the publisher cashes the
// cheque at once (one transaction) and grants only once the cash paid
// the price: from the reservation first, then the unreserved balance,
// the announced lowering not being due. A vault holding less than the
// price bounces: the purchase is refused with 407 underpaid and no
// licence, and the publisher holds what the vault had. Before, these
// purchases waited for a licence for ever (the buyer's 15 s ran out).
func TestVaultLicence(t *testing.T) {
	const price = 7000
	for i, tc := range []struct {
		name             string
		deposit, reserve uint64
		lower            uint64 // a lowering of the reservation announced before buying
		cash             bool   // the publisher cashes before granting (one transaction)
	}{
		{"covered", 10_000, 10_000, 0, false},
		{"reserved too little", 10_000, 1_000, 0, true},
		{"reservation withdrawn", 10_000, 10_000, 10_000, true},
		{"short", 6_999, 6_999, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			vc := newVaultChain(t)
			pub, pk := vc.wallet(t, dir, 91, 0)
			const funds = 100_000
			bw, bk := vc.wallet(t, dir, 92, funds)
			vault := vc.vaultWith(t, bk, tc.deposit, 0)
			vc.reserve(t, bk, pub.Address(), tc.reserve)
			if tc.lower > 0 {
				if _, err := vc.chain(t).RequestUnreserve(ctx, bk, pub.Address(), wallet.NewAmount(tc.lower)); err != nil {
					t.Fatal(err)
				}
			}
			terms := market.Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(), Price: wallet.NewAmount(price)}
			root, tp, tf := paidTorrent(t, dir, terms)
			ih := tf.InfoHash
			publisher := startEngine(t, "publisher", marketTestConfig(ipN(200+2*i), 0), filepath.Join(dir, "publisher"), WithWallet(pub))
			if _, err := publisher.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, publisher.Engine, ih, 30*time.Second, "publisher verified", isComplete)
			buyer := startEngine(t, "buyer", marketTestConfig(ipN(201+2*i), 0), filepath.Join(dir, "buyer"), WithWallet(bw))
			out := buyer.DataDir() + "-out"
			if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: out, Peers: []string{publisher.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
			before := vc.n.Broadcasts()
			bctx, bcancel := context.WithTimeout(ctx, 15*time.Second)
			err := buyer.Buy(bctx, ih, wallet.NewAmount(price))
			bcancel()
			if err == nil {
				waitFor(t, buyer.Engine, ih, 5*time.Second, "licensed", func(tr Torrent) bool { return tr.Licensed })
			}
			licensed := findT(buyer.Snapshot(), ih).Licensed
			txs := vc.n.Broadcasts() - before
			cashed := vc.n.TRC20(vc.token, pk.Address()) // before any shutdown
			t.Logf("%s: buy %v, licensed %v, transactions meanwhile %d, publisher cashed %s", tc.name, err, licensed, txs, cashed)
			r, held, herr := pub.Highest(wallet.Received, bk.Address())
			if herr != nil || !held || r.Cheque.Vault != vault {
				t.Fatalf("publisher holds %+v (%v %v), want a cheque of vault %s", r.Cheque, held, herr, vault)
			}
			paid := min(uint64(price), tc.deposit) // what the vault can pay the publisher
			switch {
			case tc.deposit >= price:
				if err != nil || !licensed {
					t.Fatalf("a vault of %d paying a price of %d: buy %v, licensed %v", tc.deposit, price, err, licensed)
				}
				waitFor(t, buyer.Engine, ih, 60*time.Second, "download complete", isComplete)
				sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, filepath.Base(root))))
			case err == nil || licensed:
				t.Fatalf("a vault of %d bought a licence at %d (buy %v)", tc.deposit, price, err)
			case !strings.Contains(err.Error(), "underpaid"):
				t.Fatalf("a short purchase failed with %v, want 407 underpaid", err)
			}
			if want := map[bool]int{false: 0, true: 1}[tc.cash]; txs != want {
				t.Fatalf("the purchase took %d transactions, want %d", txs, want)
			}
			if tc.cash && (cashed.Cmp(wallet.NewAmount(paid)) != 0 || r.Settled.Cmp(cashed) != 0) {
				t.Fatalf("publisher cashed %s (settled %s) before deciding, want %d", cashed, r.Settled, paid)
			}
			for _, e := range []*runningEngine{buyer, publisher} {
				if err := e.stop(); err != nil {
					t.Fatal(err)
				}
			}
			// After shutdown (an uncashed cheque is cashed then) the
			// publisher holds the price when covered, what the vault held
			// when short (the rest bounced); the money adds up.
			got, left := vc.n.TRC20(vc.token, pk.Address()), vc.n.TRC20(vc.token, vault)
			if got.Cmp(wallet.NewAmount(paid)) != 0 {
				t.Fatalf("publisher holds %s, want %d", got, paid)
			}
			if s, _ := got.Add(left); s.Cmp(wallet.NewAmount(tc.deposit)) != 0 {
				t.Fatalf("publisher %s + vault %s != deposit %d", got, left, tc.deposit)
			}
			if b := vc.n.TRC20(vc.token, bk.Address()); b.Cmp(wallet.NewAmount(funds-tc.deposit)) != 0 {
				t.Fatalf("buyer holds %s, want %d", b, funds-tc.deposit)
			}
			// Paid from the reservation first.
			res, rerr := vc.chain(t).Reservation(ctx, vault, pk.Address())
			if want := wallet.NewAmount(tc.reserve).SubFloor(got); rerr != nil || res.Amount.Cmp(want) != 0 {
				t.Fatalf("reservation %s after cashing %s of %d (%v)", res.Amount, got, tc.reserve, rerr)
			}
		})
	}
}

// TestVaultTwoSellers (PROTOCOL.md §18.5): a payer hands one vault to
// two sellers of one torrent. Each seller's cover is the reservation the
// payer made for it (half of the 2 MiB deposit's worth each; the
// default vault_free_share of 0 counts nothing else), so together they
// can never extend more than the vault holds: each claims at most its
// reservation, both cash exactly what they claim from it, and nothing
// bounces. (Before reservations each seller counted the whole balance:
// together they claimed 3811 against 2000 and 1811 bounced.)
func TestVaultTwoSellers(t *testing.T) {
	const sizeMiB = 6
	reserved := [2]uint64{1000, 1000} // base units; askPrice per MiB
	collateral := reserved[0] + reserved[1]
	ctx := context.Background()
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 29, sizeMiB<<20)
	vc := newVaultChain(t)
	bw, bk := vc.wallet(t, dir, 2, 1000*askPrice)
	vault := vc.vaultWith(t, bk, collateral, 0)
	var sellers []*runningEngine
	var sws []*wallet.Wallet
	for i := range 2 {
		sw, _ := vc.wallet(t, dir, byte(10+i), 0)
		vc.reserve(t, bk, sw.Address(), reserved[i])
		scfg := marketTestConfig(ipN(220+i), 1<<20)
		scfg.Market.CreditMiB = 1
		s := startMarketEngine(t, fmt.Sprintf("seller%d", i), scfg, filepath.Join(dir, fmt.Sprintf("seller%d", i)), sw)
		if _, err := s.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
			t.Fatal(err)
		}
		setMarket(t, s.Engine, tf.InfoHash, MarketSettings{Ask: ptr(wallet.NewAmount(askPrice)), SellerStrategy: ptr(strategy.SellerUniform)})
		waitFor(t, s.Engine, tf.InfoHash, 30*time.Second, "seller verified", isComplete)
		sellers, sws = append(sellers, s), append(sws, sw)
	}
	buyer := startMarketEngine(t, "buyer", marketTestConfig(ipN(224), 0), filepath.Join(dir, "buyer"), bw)
	if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Join(dir, "out"), Paused: true}); err != nil {
		t.Fatal(err)
	}
	setMarket(t, buyer.Engine, tf.InfoHash, MarketSettings{Bid: ptr(wallet.NewAmount(highBid)), BuyerStrategy: ptr(strategy.BuyerFixed)})
	if err := buyer.Resume(ctx, tf.InfoHash); err != nil {
		t.Fatal(err)
	}
	for _, s := range sellers {
		if err := buyer.AddPeer(ctx, tf.InfoHash, s.ListenAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out", "payload")))
	time.Sleep(500 * time.Millisecond)
	var sold [2]int64
	for i, s := range sellers {
		sold[i] = s.Snapshot().Torrents[0].Market.Sold
	}
	if err := buyer.stop(); err != nil {
		t.Fatal(err)
	}
	var cashed, claimed wallet.Amount
	for i, s := range sellers {
		if err := s.stop(); err != nil { // cashes at the vault
			t.Fatal(err)
		}
		got := vc.n.TRC20(vc.token, sws[i].Address())
		r, _, _ := sws[i].Highest(wallet.Received, bk.Address())
		cum := r.Cheque.Cumulative
		t.Logf("seller %d: reservation %d, paid bytes %d (%.2f MiB), cheque %s, cashed %s", i, reserved[i], sold[i], float64(sold[i])/(1<<20), cum, got)
		if cum.IsZero() || sold[i] == 0 {
			t.Fatalf("seller %d sold nothing: the case tests nothing", i)
		}
		if r.Cheque.Vault != vault {
			t.Errorf("seller %d holds a cheque of vault %s", i, r.Cheque.Vault)
		}
		if cum.Cmp(wallet.NewAmount(reserved[i])) > 0 {
			t.Errorf("seller %d claims %s past its reservation %d", i, cum, reserved[i])
		}
		if limit := int64(reserved[i]) << 20 / askPrice; sold[i] > limit {
			t.Errorf("seller %d served %d paid bytes against a reservation worth %d bytes", i, sold[i], limit)
		}
		if got.Cmp(cum) != 0 || r.Settled.Cmp(cum) != 0 {
			t.Errorf("seller %d cashed %s (settled %s), want exactly its claim %s", i, got, r.Settled, cum)
		}
		// Paid from its reservation: what is left of it is the rest.
		res, err := vc.chain(t).Reservation(ctx, vault, sws[i].Address())
		if want := wallet.NewAmount(reserved[i]).SubFloor(got); err != nil || res.Amount.Cmp(want) != 0 {
			t.Errorf("seller %d's reservation is %s after cashing %s of %d (%v)", i, res.Amount, got, reserved[i], err)
		}
		cashed, _ = cashed.Add(got)
		claimed, _ = claimed.Add(cum)
	}
	left := vc.n.TRC20(vc.token, vault)
	t.Logf("together: claimed %s against a collateral of %d; cashed %s, vault left %s", claimed, collateral, cashed, left)
	if claimed.Cmp(wallet.NewAmount(collateral)) > 0 {
		t.Fatalf("the sellers together claim %s against a vault of %d", claimed, collateral)
	}
	if s, _ := cashed.Add(left); s.Cmp(wallet.NewAmount(collateral)) != 0 {
		t.Fatalf("money not conserved: cashed %s + vault %s", cashed, left)
	}
}

// TestVaultReadAgain: the engine reads its own vault again while it runs
// (every ownVaultEvery), so a vault made after the start is named in
// later HELLOs without a restart. Its reading needs a torrent with the
// market on (the tick that reads covers).
func TestVaultReadAgain(t *testing.T) {
	defer func(d time.Duration) { ownVaultEvery = d }(ownVaultEvery)
	ownVaultEvery = 200 * time.Millisecond
	ctx := context.Background()
	dir := t.TempDir()
	vc := newVaultChain(t)
	bw, bk := vc.wallet(t, dir, 2, 1000*askPrice)
	root, tp, _ := dataTorrent(t, dir, 31, 256<<10)
	e := startMarketEngine(t, "payer", marketTestConfig(ipN(226), 0), filepath.Join(dir, "payer"), bw)
	if _, err := e.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	vault := func() wallet.Address {
		var v wallet.Address
		if err := e.do(ctx, func() error { v = e.mkt.m.Vault(); return nil }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := vault(); !v.IsZero() {
		t.Fatalf("a vault %s before one was made", v)
	}
	made := vc.vaultWith(t, bk, 1000, 0)
	deadline := time.Now().Add(60 * time.Second)
	for vault() != made {
		if time.Now().After(deadline) {
			t.Fatalf("the engine never read its new vault %s", made)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestVaultReservationLowered (§18.5, the attacker payer): the buyer
// reserved 3 MiB's worth for the seller, bought from it, and then
// announces taking the whole reservation back. The seller, holding
// cheques it has not cashed (its settle threshold is far away), sees the
// announcement at its next reading of the vault and cashes at once,
// while the reservation still holds: it is paid exactly what it claimed.
// After the delay the buyer lowers the reservation and withdraws
// everything left; nothing of the seller's was in it.
func TestVaultReservationLowered(t *testing.T) {
	const sizeMiB, reservedMiB = 6, 3
	ctx := context.Background()
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 37, sizeMiB<<20)
	vc := newVaultChain(t)
	sw, _ := vc.wallet(t, dir, 1, 0)
	bw, bk := vc.wallet(t, dir, 2, 1000*askPrice)
	deposit := uint64(10 * askPrice)
	vault := vc.vaultWith(t, bk, deposit, 0)
	vc.reserve(t, bk, sw.Address(), reservedMiB*askPrice)
	scfg := marketTestConfig(ipN(76), 2<<20)
	scfg.Market.CreditMiB = 1
	scfg.Market.SettleThreshold = "1000000000000000000" // never reached here
	seller, buyer := startPair(t, tp, filepath.Dir(root), dir, scfg, ipN(77), sw, bw)
	waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
	if err := buyer.stop(); err != nil { // its final cheques
		t.Fatal(err)
	}
	r, held, err := sw.Highest(wallet.Received, bk.Address())
	if err != nil || !held || r.Cheque.Cumulative.IsZero() || r.Cheque.Vault != vault {
		t.Fatalf("seller holds %+v %v %v", r.Cheque, held, err)
	}
	cum := r.Cheque.Cumulative
	if !r.Settled.IsZero() || !vc.n.TRC20(vc.token, sw.Address()).IsZero() {
		t.Fatalf("seller cashed %s before the announcement: the case tests nothing", r.Settled)
	}
	c := vc.chain(t)
	if _, err := c.RequestUnreserve(ctx, bk, sw.Address(), wallet.NewAmount(reservedMiB*askPrice)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestWithdrawal(ctx, bk, wallet.NewAmount(deposit)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for vc.n.TRC20(vc.token, sw.Address()).Cmp(cum) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the seller did not cash its %s after the lowering was announced (holds %s)", cum, vc.n.TRC20(vc.token, sw.Address()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := c.Reservation(ctx, vault, sw.Address())
	if err != nil || res.Amount.Cmp(wallet.NewAmount(reservedMiB*askPrice).SubFloor(cum)) != 0 {
		t.Fatalf("reservation %+v %v after cashing %s from it", res, err, cum)
	}
	if err := seller.stop(); err != nil {
		t.Fatal(err)
	}
	vc.n.Advance(24*time.Hour + time.Minute)
	if _, err := c.Unreserve(ctx, bk, sw.Address()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Withdraw(ctx, bk); err != nil {
		t.Fatal(err)
	}
	got, left := vc.n.TRC20(vc.token, sw.Address()), vc.n.TRC20(vc.token, vault)
	t.Logf("seller claimed %s, cashed %s before the lowering; vault left %s", cum, got, left)
	if got.Cmp(cum) != 0 || !left.IsZero() {
		t.Fatalf("seller holds %s (claimed %s), vault %s after the buyer withdrew", got, cum, left)
	}
}
