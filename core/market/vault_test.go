package market

import (
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// envKey is the key env.wallet gives seed.
func envKey(t *testing.T, seed byte) *wallet.Key {
	t.Helper()
	b := make([]byte, 32)
	b[31], b[0] = seed, 1
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestHelloReplayRefused (PROTOCOL.md §18.2): an observer copies a
// buyer's HELLO and AUTH from one connection and replays them to the same
// seller on another connection, claiming both peer IDs. The seller's
// nonce on the new connection is fresh, so the copied AUTH does not
// verify: the connection never turns READY and nothing can be charged
// to the buyer's account. (Version 2 had no AUTH: the copied HELLO alone
// made the connection READY, and paid service went on the buyer's
// account until its credit ran out.)
func TestHelloReplayRefused(t *testing.T) {
	e := newEnv(t)
	ms, mb := newMarket(t, e.wallet("s", 1)), newMarket(t, e.wallet("b", 2))
	ts := ms.NewAuction(ih)
	l := newLink(ts, mb.NewAuction(ih), 1, 2)
	l.start(t, t0)
	if l.a.State() != Ready || l.b.State() != Ready || l.a.Version() != 3 {
		t.Fatalf("states %s %s version %d", l.a.State(), l.b.State(), l.a.Version())
	}
	hello, _ := lastOf[*bttbid.Hello](l.ba)
	auth, _ := lastOf[*bttbid.Auth](l.ba)
	// The second connection: same peer IDs, the seller's fresh session.
	s2 := ts.NewSession("replayer", pid(1), pid(2), t0)
	s2.SetAsk(askOf(10))
	s2.Start(t0.Add(time.Second))
	if s2.Nonce() == l.a.Nonce() {
		t.Fatal("two connections share a nonce")
	}
	s2.TakeOutbox()
	s2.Receive(t0.Add(time.Second), mustEncode(t, hello))
	if s2.State() == Ready {
		t.Fatal("a replayed HELLO made the connection READY")
	}
	if auth == nil || hello.Nonce.IsZero() {
		t.Fatalf("no HELLO nonce or AUTH from the buyer: %v", l.ba)
	}
	s2.Receive(t0.Add(time.Second), mustEncode(t, auth))
	if s2.State() == Ready {
		t.Fatal("a replayed HELLO and AUTH made the connection READY")
	}
	em, ok := lastOf[*bttbid.ErrorMsg](decodeAll(t, s2.TakeOutbox()))
	if !ok || em.Code != bttbid.CodeBadSignature || !em.Disable {
		t.Fatalf("answer %+v, want ERROR 200 disable", em)
	}
	// Nothing a buyer does reaches the market there: a BID is ignored.
	s2.Receive(t0.Add(2*time.Second), mustEncode(t, &bttbid.Bid{Seq: 1, Price: amt(50)}))
	if !s2.View().TheirBid.IsZero() {
		t.Fatal("the replayer's bid was taken")
	}
	// Without an AUTH at all the connection waits, then gives up.
	s3 := ts.NewSession("silent", pid(1), pid(2), t0)
	s3.Start(t0)
	s3.Receive(t0, mustEncode(t, hello))
	s3.Receive(t0, mustEncode(t, &bttbid.Bid{Seq: 1, Price: amt(50)}))
	if s3.State() != Disabled {
		t.Fatalf("a BID before AUTH left the connection %s", s3.State())
	}
}

// vaultPair is a seller and a buyer whose market pays with the cheques
// of vault (set before the HELLOs).
func vaultPair(t *testing.T, vault wallet.Address) (*env, *Market, *Market, *link) {
	t.Helper()
	e := newEnv(t)
	ms, mb := newMarket(t, e.wallet("s", 1)), newMarket(t, e.wallet("b", 2))
	mb.SetVault(vault)
	l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
	l.a.SetAsk(askOf(10))
	l.start(t, t0)
	return e, ms, mb, l
}

// TestVaultCheques (§18.3): a buyer with a vault names it in HELLO and
// pays version 3 peers with cheques of that vault; the seller takes them
// and holds the vault; a cheque of another vault, or a plain cheque from
// a payer that named a vault, is refused (401) and stores nothing.
func TestVaultCheques(t *testing.T) {
	vault, other := envKey(t, 90).Address(), envKey(t, 91).Address()
	_, ms, mb, l := vaultPair(t, vault)
	buyer := mb.Wallet().Address()
	h, _ := lastOf[*bttbid.Hello](l.ba)
	if wallet.Address(h.Vault) != vault {
		t.Fatalf("HELLO names vault %s, want %s", wallet.Address(h.Vault), vault)
	}
	if v := ms.PayerVault(buyer); v != vault {
		t.Fatalf("seller's PayerVault %s", v)
	}
	if err := l.b.Pay(wallet.ForTip, amt(5000), "", nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	tip, ok := lastOf[*bttbid.Tip](l.ba)
	if !ok || wallet.Address(tip.Cheque.Vault) != vault {
		t.Fatalf("TIP cheque names vault %v", tip.Cheque.Vault)
	}
	r, held, err := ms.Wallet().Highest(wallet.Received, buyer)
	if err != nil || !held || r.Cheque.Vault != vault || r.Cheque.Cumulative.Cmp(amt(5000)) != 0 {
		t.Fatalf("seller holds %+v %v %v", r.Cheque, held, err)
	}
	if err := r.Cheque.VerifyVault(vault); err != nil {
		t.Fatalf("held cheque is not the vault's: %v", err)
	}
	// Refusals: another vault's cheque, a plain cheque.
	k := envKey(t, 2)
	for _, tc := range []struct {
		name  string
		vault wallet.Address
	}{{"other vault", other}, {"plain", wallet.Address{}}} {
		t.Run(tc.name, func(t *testing.T) {
			_, ms, _, l := vaultPair(t, vault)
			var c wallet.Cheque
			var err error
			if tc.vault.IsZero() {
				c, err = wallet.SignCheque(k, ms.Wallet().ChainID(), ms.Wallet().Token(), ms.Wallet().Address(), amt(100))
			} else {
				c, err = wallet.SignVaultCheque(k, ms.Wallet().ChainID(), tc.vault, ms.Wallet().Token(), ms.Wallet().Address(), amt(100))
			}
			if err != nil {
				t.Fatal(err)
			}
			m := chequeMsg(c)
			l.a.Receive(t0, mustEncode(t, &m))
			em, ok := lastOf[*bttbid.ErrorMsg](decodeAll(t, l.a.TakeOutbox()))
			if !ok || em.Code != bttbid.CodeMisaddressed || !em.Disable {
				t.Fatalf("answer %+v, want ERROR 401", em)
			}
			if _, held, _ := ms.Wallet().Highest(wallet.Received, buyer); held {
				t.Fatal("refused cheque stored")
			}
		})
	}
}

// TestVersion2Peer (§18.1): a version 2 peer's HELLO (no nonce, no
// AUTH) still makes the connection READY at version 2; we send it no
// AUTH and pay it with plain cheques, though we have a vault.
func TestVersion2Peer(t *testing.T) {
	e := newEnv(t)
	ms, mb := newMarket(t, e.wallet("s", 1)), newMarket(t, e.wallet("b", 2))
	mb.SetVault(envKey(t, 90).Address())
	l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
	l.b.Start(t0)
	l.b.TakeOutbox()
	// The seller's HELLO as a version 2 peer sends it.
	sw := ms.Wallet()
	h := &bttbid.Hello{Version: 2, ChainID: sw.ChainID(), Token: bttbid.Address(sw.Token()), Address: bttbid.Address(sw.Address()), Time: t0.Unix()}
	sig, err := sw.SignMessage(bttbid.HelloSigningBytes(h, ih, pid(1), pid(2)))
	if err != nil {
		t.Fatal(err)
	}
	h.Sig = bttbid.Signature(sig)
	l.b.Receive(t0, mustEncode(t, h))
	out := decodeAll(t, l.b.TakeOutbox())
	if l.b.State() != Ready || l.b.Version() != 2 {
		t.Fatalf("state %s version %d", l.b.State(), l.b.Version())
	}
	if _, ok := lastOf[*bttbid.Auth](out); ok {
		t.Fatal("AUTH sent to a version 2 peer")
	}
	if err := l.b.Pay(wallet.ForTip, amt(5000), "", nil); err != nil {
		t.Fatal(err)
	}
	tip, ok := lastOf[*bttbid.Tip](decodeAll(t, l.b.TakeOutbox()))
	if !ok || !tip.Cheque.Vault.IsZero() {
		t.Fatalf("a version 2 peer was paid with %+v", tip)
	}
	if err := chequeOf(&tip.Cheque).Verify(); err != nil {
		t.Fatalf("plain cheque: %v", err)
	}
}

// TestVaultCoveredLicence (§18.5, issue 15 item 4): a purchase paid with
// a vault cheque is licensed once a reading of the payer's vault, made
// after the purchase, shows it covered; no settlement (no transaction)
// is asked for. A vault holding less than the payer's exposure gets no
// licence.
func TestVaultCoveredLicence(t *testing.T) {
	vault := envKey(t, 90).Address()
	for _, tc := range []struct {
		name    string
		cover   uint64
		granted bool
	}{{"covered", 7000, true}, {"short", 6999, false}} {
		t.Run(tc.name, func(t *testing.T) {
			_, ms, mb, l := vaultPair(t, vault)
			st := l.a.t
			tm := &Terms{Payee: ms.Wallet().Address(), ChainID: ms.Wallet().ChainID(), Token: ms.Wallet().Token(), Price: amt(7000)}
			st.SetTerms(tm, t0)
			l.b.t.SetTerms(tm, t0)
			if err := l.b.Pay(wallet.ForPurchase, amt(7000), "", nil); err != nil {
				t.Fatal(err)
			}
			l.flush(t, t0)
			if ms.SettleDue() {
				t.Fatal("a vault purchase asked for a settlement")
			}
			buyer := mb.Wallet().Address()
			// A reading from before the purchase does not count.
			ms.SetCover(buyer, Cover{Amount: amt(1e9), Known: true, Vault: true}, t0.Add(-time.Second))
			l.a.CommerceTick(t0)
			l.flush(t, t0)
			if l.b.t.Licensed() {
				t.Fatal("licensed on a cover read before the purchase")
			}
			due := ms.CoverDue(t0.Add(2 * time.Second))
			if len(due) != 1 || due[0] != buyer {
				t.Fatalf("cover due %v", due)
			}
			ms.SetCover(buyer, Cover{Amount: amt(tc.cover), Known: true, Vault: true}, t0.Add(2*time.Second))
			l.a.CommerceTick(t0.Add(2 * time.Second))
			l.flush(t, t0.Add(2*time.Second))
			if l.b.t.Licensed() != tc.granted {
				t.Fatalf("licensed %v with cover %d for a price of 7000", l.b.t.Licensed(), tc.cover)
			}
		})
	}
}

// TestVaultAccountNeedsVault: an account paid with vault cheques is not
// paid on a connection whose HELLO named no vault (our vault could not
// be read at start): a cheque the seller must refuse (401, disable) is
// never sent; the payment fails locally instead.
func TestVaultAccountNeedsVault(t *testing.T) {
	vault := envKey(t, 90).Address()
	e, _, mb, l := vaultPair(t, vault)
	if err := l.b.Pay(wallet.ForTip, amt(5000), "", nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	// The buyer restarts without reading its vault.
	mb2 := newMarket(t, mb.Wallet())
	ms2 := newMarket(t, e.wallet("s", 1))
	l2 := newLink(ms2.NewAuction(ih), mb2.NewAuction(ih), 1, 2)
	l2.start(t, t0)
	if err := l2.b.Pay(wallet.ForTip, amt(5000), "", nil); err == nil {
		t.Fatal("paid an account of vault cheques on a connection whose HELLO named no vault")
	}
	if l2.b.State() != Ready || l2.a.State() != Ready {
		t.Fatalf("states %s %s", l2.a.State(), l2.b.State())
	}
}

// TestVaultFoundLater: the engine re-reads its vault while running
// (core/market_vault.go). A vault set after a connection's HELLOs is not
// used on it (its HELLO named none: the seller would refuse the cheque
// with 401 and disable the connection); the account is paid with a plain
// cheque the seller takes. A connection started after SetVault names it,
// and a fresh account there is paid with the vault's cheques.
func TestVaultFoundLater(t *testing.T) {
	vault := envKey(t, 90).Address()
	e := newEnv(t)
	ms, mb := newMarket(t, e.wallet("s", 1)), newMarket(t, e.wallet("b", 2))
	buyer := mb.Wallet().Address()
	l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
	l.a.SetAsk(askOf(10))
	l.start(t, t0)
	mb.SetVault(vault)
	if err := l.b.Pay(wallet.ForTip, amt(5000), "", nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	if em, ok := lastOf[*bttbid.ErrorMsg](l.ab); ok {
		t.Fatalf("the seller refused the payment: %+v", em)
	}
	if r, held, err := ms.Wallet().Highest(wallet.Received, buyer); err != nil || !held || !r.Cheque.Vault.IsZero() || r.Cheque.Cumulative.Cmp(amt(5000)) != 0 {
		t.Fatalf("seller holds %+v %v %v, want a plain cheque of 5000", r.Cheque, held, err)
	}
	ms2 := newMarket(t, e.wallet("s2", 3))
	l2 := newLink(ms2.NewAuction(ih), mb.NewAuction(ih), 3, 2)
	l2.a.SetAsk(askOf(10))
	l2.start(t, t0)
	if h, _ := lastOf[*bttbid.Hello](l2.ba); wallet.Address(h.Vault) != vault {
		t.Fatalf("a later HELLO names vault %s", wallet.Address(h.Vault))
	}
	if err := l2.b.Pay(wallet.ForTip, amt(3000), "", nil); err != nil {
		t.Fatal(err)
	}
	l2.flush(t, t0)
	if r, held, err := ms2.Wallet().Highest(wallet.Received, buyer); err != nil || !held || r.Cheque.Vault != vault || r.Cheque.Cumulative.Cmp(amt(3000)) != 0 {
		t.Fatalf("second seller holds %+v %v %v, want a cheque of vault %s for 3000", r.Cheque, held, err, vault)
	}
}

// TestVaultCoverFallCashes (§18.5): when a vault payer's cover falls
// below what the seller accepted from it and holds unsettled (the payer
// announced lowering the seller's reservation or a withdrawal), the
// seller asks for a settlement at once, so it cashes while the vault
// still holds the money; once per fall, not at every reading.
func TestVaultCoverFallCashes(t *testing.T) {
	vault := envKey(t, 90).Address()
	_, ms, mb, l := vaultPair(t, vault)
	buyer := mb.Wallet().Address()
	if err := l.b.Pay(wallet.ForTip, amt(5000), "", nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	ms.SettleDue() // whatever the tip asked for
	read := func(amount uint64, known bool, at time.Duration) bool {
		ms.SetCover(buyer, Cover{Amount: amt(amount), Known: known, Vault: known}, t0.Add(at))
		return ms.SettleDue()
	}
	if read(10_000, true, time.Second) {
		t.Fatal("settlement asked for while the cover holds")
	}
	if !read(2_000, true, 2*time.Second) {
		t.Fatal("the cover fell to 2000 under 5000 accepted: no settlement asked for")
	}
	if read(2_000, true, 3*time.Second) {
		t.Fatal("settlement asked for again without a new fall")
	}
	if !read(0, false, 4*time.Second) {
		t.Fatal("the reservation gone (cover unknown): no settlement asked for")
	}
	// Settled in full: a fall asks for nothing.
	ms.SetCover(buyer, Cover{Amount: amt(10_000), Known: true, Vault: true, Settled: amt(5000)}, t0.Add(5*time.Second))
	ms.SettleDue()
	if read(1_000, true, 6*time.Second) {
		t.Fatal("settlement asked for with nothing unsettled")
	}
}

// TestVaultLicenceCashed (§18.5, the attacker buyer): a buyer pays a
// purchase of 7000 with a cheque of its vault, whose reservation for the
// publisher is below the price (it reserved too little, or announced
// taking the reservation back: a cover of 0 is unknown). A reading of the
// vault after the purchase does not cover it, so the publisher cashes the
// cheque (a settlement is asked for, once) and grants the licence only
// when the cash paid the price; a cash that comes up short (a bounce) is
// answered with ERROR 407 underpaid, no licence, and the buyer's purchase
// fails. A cash that ended neither way is asked for again after
// cashRetry. Before, such a purchase asked for no settlement and waited for a
// licence for ever.
func TestVaultLicenceCashed(t *testing.T) {
	vault := envKey(t, 90).Address()
	for _, tc := range []struct {
		name        string
		cover       Cover
		paid, short uint64 // what the cash paid, and what bounced
		granted     bool
	}{
		{"reserved too little, cash pays", Cover{Amount: amt(1000), Known: true, Vault: true}, 7000, 0, true},
		{"reservation withdrawn, cash pays", Cover{Vault: true}, 7000, 0, true},
		{"cash bounces", Cover{Amount: amt(1000), Known: true, Vault: true}, 6999, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ms, mb, l := vaultPair(t, vault)
			tm := &Terms{Payee: ms.Wallet().Address(), ChainID: ms.Wallet().ChainID(), Token: ms.Wallet().Token(), Price: amt(7000)}
			l.a.t.SetTerms(tm, t0)
			l.b.t.SetTerms(tm, t0)
			var bought error
			done := false
			if err := l.b.Pay(wallet.ForPurchase, amt(7000), "", func(err error) { bought, done = err, true }); err != nil {
				t.Fatal(err)
			}
			l.flush(t, t0)
			buyer := mb.Wallet().Address()
			if ms.SettleDue() {
				t.Fatal("a vault purchase asked for a settlement before reading the vault")
			}
			// A reading made before the purchase asks for nothing.
			ms.SetCover(buyer, Cover{Vault: true}, t0.Add(-time.Second))
			l.a.CommerceTick(t0)
			l.flush(t, t0)
			if ms.SettleDue() || l.b.t.Licensed() {
				t.Fatal("a reading from before the purchase decided it")
			}
			now := t0.Add(2 * time.Second)
			if due := ms.CoverDue(now); len(due) != 1 || due[0] != buyer {
				t.Fatalf("cover due %v", due)
			}
			ms.SetCover(buyer, tc.cover, now)
			l.a.CommerceTick(now)
			l.flush(t, now)
			if l.b.t.Licensed() {
				t.Fatalf("licensed on a cover of %s for a price of 7000", tc.cover.Amount)
			}
			if !ms.SettleDue() {
				t.Fatal("a vault reading after the purchase does not cover it: no cash asked for (the licence waits for ever)")
			}
			l.a.CommerceTick(now.Add(time.Second))
			if ms.SettleDue() {
				t.Fatal("the cash was asked for again at once")
			}
			// A cash that ended neither way (it failed) is asked for
			// again after cashRetry.
			l.a.CommerceTick(now.Add(cashRetry))
			if !ms.SettleDue() {
				t.Fatal("a failed cash is never tried again: the licence waits for ever")
			}
			// The engine cashed: the cheque book's settled total and what
			// bounced come back.
			ms.Settled(buyer, amt(tc.paid), amt(tc.short))
			later := now.Add(cashRetry + time.Second)
			l.a.CommerceTick(later)
			l.flush(t, later)
			if l.b.t.Licensed() != tc.granted || !done || (bought == nil) != tc.granted {
				t.Fatalf("cash paid %d of 7000: licensed %v, purchase done %v (%v); want licensed %v", tc.paid, l.b.t.Licensed(), done, bought, tc.granted)
			}
			if !tc.granted {
				em, ok := lastOf[*bttbid.ErrorMsg](l.ab)
				if !ok || em.Code != bttbid.CodeUnderpaid {
					t.Fatalf("a short cash answered with %+v, want 407 underpaid", em)
				}
				if !ms.Short(buyer) {
					t.Fatal("the short payer is not cut")
				}
			}
		})
	}
}
