package wallet

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bidtorrent/bidtorrent/wallet/internal/boltfile"
)

func openTestBook(t *testing.T) *ChequeBook {
	t.Helper()
	b, err := OpenChequeBook(filepath.Join(t.TempDir(), "book.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAcceptPayment(t *testing.T) {
	book := openTestBook(t)
	payer, me := testKey(t, 1), testKey(t, 2)
	tok := MustParseAddress(DefaultBTTContract)
	cheque := func(n uint64) Cheque {
		c, err := SignCheque(payer, ChainIDLocal, tok, me.Address(), NewAmount(n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t0 := time.Unix(1_764_000_000, 0)
	tip := Payment{For: ForTip, InfoHash: testIH, Amount: NewAmount(100), Memo: "great seed", Time: t0}

	// Bandwidth first: a plain cheque of 50.
	if _, err := book.RecordReceived(cheque(50)); err != nil {
		t.Fatal(err)
	}
	// A tip of 100 in a cheque that also pays 30 of bandwidth.
	inc, err := book.AcceptPayment(cheque(180), tip)
	if err != nil || inc.String() != "130" {
		t.Fatalf("tip: %s %v", inc, err)
	}
	// Refused payments leave neither cheque nor row.
	for _, tc := range []struct {
		name string
		c    Cheque
		p    Payment
		want error
	}{
		{"underpaid", cheque(250), Payment{For: ForTip, Amount: NewAmount(71)}, ErrUnderpaid},
		{"repeated cheque", cheque(180), Payment{For: ForTip, Amount: NewAmount(1)}, ErrUnderpaid},
		{"stale", cheque(170), Payment{For: ForTip, Amount: NewAmount(1)}, ErrStale},
		{"forged", func() Cheque { c := cheque(900); c.Cumulative = NewAmount(901); return c }(), Payment{For: ForTip, Amount: NewAmount(1)}, ErrBadSignature},
	} {
		if _, err := book.AcceptPayment(tc.c, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		p    Payment
		want string
	}{
		{"issued direction", Payment{Direction: Issued, For: ForTip, Amount: NewAmount(1)}, "marked issued"},
		{"other counterparty", Payment{Counterparty: me.Address(), For: ForTip, Amount: NewAmount(1)}, "counterparty"},
		{"other cumulative", Payment{Cumulative: NewAmount(5), For: ForTip, Amount: NewAmount(1)}, "cumulative 5"},
		{"no purpose", Payment{Amount: NewAmount(1)}, "purpose"},
		{"zero", Payment{For: ForTip}, "of zero"},
		{"memo on a purchase", Payment{For: ForPurchase, Amount: NewAmount(1), Memo: "x"}, "no memo"},
	} {
		if _, err := book.AcceptPayment(cheque(300), tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if r, _, _ := book.Highest(Received, ChainIDLocal, tok, payer.Address()); r.Cheque.Cumulative.String() != "180" {
		t.Fatalf("a refused payment moved the cheque to %s", r.Cheque.Cumulative)
	}
	ps, err := book.Payments()
	if err != nil || len(ps) != 1 {
		t.Fatalf("payments %d %v", len(ps), err)
	}
	want := Payment{Direction: Received, For: ForTip, Counterparty: payer.Address(), InfoHash: testIH, Amount: NewAmount(100),
		Memo: "great seed", Time: t0, Cumulative: NewAmount(180)}
	if !samePayment(ps[0], want) {
		t.Errorf("payment %+v, want %+v", ps[0], want)
	}

	// A purchase and a pledge; payments come back by time.
	if _, err := book.AcceptPayment(cheque(300), Payment{For: ForPurchase, InfoHash: testIH, Amount: NewAmount(120), Time: t0.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	other := testIH
	other[0] = 1
	if _, err := book.AcceptPayment(cheque(340), Payment{For: ForPledge, InfoHash: other, Amount: NewAmount(40), Time: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	ps, _ = book.Payments()
	if len(ps) != 3 || ps[0].For != ForTip || ps[1].For != ForPledge || ps[2].For != ForPurchase || ps[2].Cumulative.String() != "300" {
		t.Fatalf("payments %+v", ps)
	}
	if paid, err := book.PledgePaid(other, payer.Address(), me.Address()); err != nil || paid.String() != "40" {
		t.Errorf("pledge paid %s %v", paid, err)
	}
	if paid, _ := book.PledgePaid(testIH, payer.Address(), me.Address()); !paid.IsZero() {
		t.Errorf("pledge paid on the other torrent %s", paid)
	}
	if err := book.Check(); err != nil {
		t.Fatal(err)
	}
}

func samePayment(a, b Payment) bool {
	return a.Direction == b.Direction && a.For == b.For && a.Counterparty == b.Counterparty && a.InfoHash == b.InfoHash &&
		a.Amount.Cmp(b.Amount) == 0 && a.Memo == b.Memo && a.Time.Equal(b.Time) && a.Cumulative.Cmp(b.Cumulative) == 0
}

func TestRecordIssuedPayment(t *testing.T) {
	book := openTestBook(t)
	me, seller := testKey(t, 1), testKey(t, 2).Address()
	tok := MustParseAddress(DefaultBTTContract)
	cheque := func(n uint64) Cheque {
		c, err := SignCheque(me, ChainIDLocal, tok, seller, NewAmount(n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := book.RecordIssued(cheque(10)); err != nil {
		t.Fatal(err)
	}
	if inc, err := book.RecordIssuedPayment(cheque(60), Payment{For: ForPledge, InfoHash: testIH, Amount: NewAmount(50)}); err != nil || inc.String() != "50" {
		t.Fatalf("pledge payment %s %v", inc, err)
	}
	if _, err := book.RecordIssuedPayment(cheque(100), Payment{For: ForPledge, InfoHash: testIH, Amount: NewAmount(41)}); !errors.Is(err, ErrUnderpaid) {
		t.Errorf("underpaid: %v", err)
	}
	if paid, err := book.PledgePaid(testIH, me.Address(), seller); err != nil || paid.String() != "50" {
		t.Errorf("pledge paid %s %v", paid, err)
	}
	ps, err := book.Payments()
	if err != nil || len(ps) != 1 || ps[0].Direction != Issued || ps[0].Counterparty != seller || ps[0].Cumulative.String() != "60" || ps[0].Time.IsZero() {
		t.Fatalf("payments %+v %v", ps, err)
	}
}

func TestLicenseStore(t *testing.T) {
	book := openTestBook(t)
	payee, buyer, payee2 := testKey(t, 3), testKey(t, 4), testKey(t, 5)
	tok := MustParseAddress(DefaultBTTContract)
	lic := func(k *Key, ih [20]byte, price uint64) License {
		l, err := SignLicense(k, ChainIDLocal, tok, buyer.Address(), ih, NewAmount(price))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if _, ok, err := book.LicenseFor(testIH, buyer.Address(), payee.Address()); ok || err != nil {
		t.Fatalf("licence in an empty book: %v %v", ok, err)
	}
	l := lic(payee, testIH, 500)
	for range 2 { // idempotent
		if err := book.SaveLicense(l); err != nil {
			t.Fatal(err)
		}
	}
	forged := l
	forged.Price = NewAmount(1)
	if err := book.SaveLicense(forged); !errors.Is(err, ErrBadSignature) {
		t.Errorf("forged licence: %v", err)
	}
	other := testIH
	other[19] = 0xff
	if err := book.SaveLicense(lic(payee2, testIH, 9)); err != nil {
		t.Fatal(err)
	}
	if err := book.SaveLicense(lic(payee, other, 7)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := book.LicenseFor(testIH, buyer.Address(), payee.Address())
	if err != nil || !ok || got != l {
		t.Fatalf("LicenseFor = %+v %v %v", got, ok, err)
	}
	if _, ok, _ := book.LicenseFor(testIH, payee2.Address(), payee.Address()); ok {
		t.Errorf("a licence for another buyer")
	}
	// Another licence for the same key replaces the first.
	l2 := lic(payee, testIH, 600)
	if err := book.SaveLicense(l2); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := book.LicenseFor(testIH, buyer.Address(), payee.Address()); got != l2 {
		t.Errorf("replaced licence %+v", got)
	}
	ls, err := book.Licenses()
	if err != nil || len(ls) != 3 {
		t.Fatalf("Licenses %d %v", len(ls), err)
	}

	w := New(buyer, book, &fakeChain{})
	if got, ok, err := w.LicenseFor(other, payee.Address()); err != nil || !ok || got.Price.String() != "7" {
		t.Errorf("Wallet.LicenseFor = %+v %v %v", got, ok, err)
	}
	if _, ok, _ := New(payee2, book, &fakeChain{}).LicenseFor(other, payee.Address()); ok {
		t.Errorf("a wallet sees another buyer's licence as its own")
	}
}

func TestPledgeStore(t *testing.T) {
	book := openTestBook(t)
	a, b, payee := testKey(t, 5), testKey(t, 6), testKey(t, 7).Address()
	tok := MustParseAddress(DefaultBTTContract)
	pledge := func(k *Key, ih [20]byte, amount, at uint64) Pledge {
		p, err := SignPledge(k, ChainIDLocal, tok, payee, ih, NewAmount(amount), NewAmount(1000), 2_000_000_000, at)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1 := pledge(a, testIH, 100, 1_000)
	if err := book.SavePledge(p1); err != nil {
		t.Fatal(err)
	}
	if err := book.SavePledge(p1); err != nil {
		t.Errorf("same pledge again: %v", err)
	}
	p2 := pledge(a, testIH, 250, 1_010)
	if err := book.SavePledge(p2); err != nil {
		t.Fatal(err)
	}
	if err := book.SavePledge(p1); !errors.Is(err, ErrSuperseded) {
		t.Errorf("older pledge: %v", err)
	}
	if err := book.SavePledge(pledge(a, testIH, 1, 1_010)); !errors.Is(err, ErrSuperseded) {
		t.Errorf("another pledge at the same second: %v", err)
	}
	bad := p2
	bad.Amount = NewAmount(999)
	if err := book.SavePledge(bad); !errors.Is(err, ErrBadSignature) {
		t.Errorf("forged pledge: %v", err)
	}
	other := testIH
	other[3] = 0
	if err := book.SavePledge(pledge(b, testIH, 70, 900)); err != nil {
		t.Fatal(err)
	}
	if err := book.SavePledge(pledge(b, other, 5, 900)); err != nil {
		t.Fatal(err)
	}
	ps, err := book.Pledges(testIH)
	if err != nil || len(ps) != 2 {
		t.Fatalf("Pledges %d %v", len(ps), err)
	}
	sum := Amount{}
	for _, p := range ps {
		if p.InfoHash != testIH {
			t.Errorf("pledge for %x", p.InfoHash)
		}
		sum, _ = sum.Add(p.Amount)
	}
	if sum.String() != "320" {
		t.Errorf("pledged %s, want 320 (250 replacing 100, plus 70)", sum)
	}
}

func TestPaymentBookReopenAndCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.db")
	book, err := OpenChequeBook(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	buyer, seller := testKey(t, 1), testKey(t, 2)
	bw, sw := New(buyer, book, &fakeChain{}), New(seller, openTestBook(t), &fakeChain{})

	// The buyer pays a purchase through IssuePayment; the seller accepts
	// it and grants a licence the buyer stores; the buyer also pledges.
	c, n, err := bw.IssuePayment(seller.Address(), NewAmount(1000), Payment{For: ForPurchase, InfoHash: testIH, Amount: NewAmount(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyTipNote(c, n); err != nil {
		t.Fatalf("issued note: %v", err)
	}
	if _, _, err := bw.IssuePayment(seller.Address(), NewAmount(1500), Payment{For: ForTip, InfoHash: testIH, Amount: NewAmount(501)}); !errors.Is(err, ErrUnderpaid) {
		t.Errorf("IssuePayment above the cumulative's increase: %v", err)
	}
	wrong, _ := buyer.SignHash([32]byte{1})
	forged := n
	forged.Signature = wrong
	if _, err := sw.AcceptTip(c, forged); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tip with a forged note: %v", err)
	}
	if inc, err := sw.AcceptTip(c, n); err != nil || inc.String() != "1000" {
		t.Fatalf("seller accepts: %s %v", inc, err)
	}
	if ps, err := sw.Payments(); err != nil || len(ps) != 1 || ps[0].For != ForPurchase || ps[0].Counterparty != buyer.Address() || ps[0].Amount.String() != "1000" {
		t.Fatalf("seller's payments %+v %v", ps, err)
	}
	if _, err := New(testKey(t, 9), openTestBook(t), &fakeChain{}).AcceptTip(c, n); !errors.Is(err, ErrMisaddressed) {
		t.Errorf("payment to another wallet: %v", err)
	}
	l, err := sw.SignLicense(buyer.Address(), testIH, NewAmount(1000))
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.SaveLicense(l); err != nil {
		t.Fatal(err)
	}
	p, err := bw.SignPledge(seller.Address(), testIH, NewAmount(30), NewAmount(90), 2_000_000_000, 1_900_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.SavePledge(p); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWatchOnly(buyer.Address(), book, &fakeChain{}).SignPledge(seller.Address(), testIH, NewAmount(1), NewAmount(2), 3, 2); !errors.Is(err, ErrNoKey) {
		t.Errorf("watch-only signing: %v", err)
	}

	// Everything is there after reopening the file.
	book2, err := OpenChequeBook(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	w2 := New(buyer, book2, &fakeChain{})
	if r, ok, err := w2.Highest(Issued, seller.Address()); err != nil || !ok || r.Cheque != c {
		t.Errorf("issued cheque after reopen: %+v %v %v", r, ok, err)
	}
	if ps, err := w2.Payments(); err != nil || len(ps) != 1 || ps[0].For != ForPurchase || ps[0].Amount.String() != "1000" || ps[0].Direction != Issued {
		t.Errorf("payments after reopen: %+v %v", ps, err)
	}
	if got, ok, err := w2.LicenseFor(testIH, seller.Address()); err != nil || !ok || got != l {
		t.Errorf("licence after reopen: %v %v", ok, err)
	}
	if ps, err := w2.Pledges(testIH); err != nil || len(ps) != 1 || ps[0] != p {
		t.Errorf("pledges after reopen: %+v %v", ps, err)
	}
	if err := book2.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := sw.ChequeBook().Check(); err != nil {
		t.Fatalf("seller Check: %v", err)
	}

	// Check notices a licence whose signature no longer holds.
	err = boltfile.Update(path, 0, func(tx *bolt.Tx) error {
		bad := l
		bad.Price = NewAmount(1)
		return tx.Bucket(bucketLicenses).Put(licenseKey(l.InfoHash, l.Buyer, l.Payee), encodeLicense(bad))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := book2.Check(); err == nil || !strings.Contains(err.Error(), "bad licence") {
		t.Errorf("Check of a tampered licence: %v", err)
	}
}

// TestAcceptAll: a money writer's batch stores each item as AcceptCheque
// or AcceptTip alone would, in order, and refuses each bad one alone;
// a batch whose transaction fails stores nothing of any item.
func TestAcceptAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.db")
	book, err := OpenChequeBook(path, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	payer, me := testKey(t, 1), testKey(t, 2)
	w := New(me, book, &fakeChain{})
	cheque := func(n uint64) Cheque {
		c, err := SignCheque(payer, w.ChainID(), w.Token(), me.Address(), NewAmount(n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tip := func(cum, amount uint64) Incoming {
		n, err := SignTipNote(payer, w.ChainID(), w.Token(), me.Address(), NewAmount(cum), NewAmount(amount), testIH, ForTip, "")
		if err != nil {
			t.Fatal(err)
		}
		return Incoming{Cheque: cheque(cum), Note: &n}
	}
	forged := cheque(500)
	forged.Cumulative = NewAmount(5000)
	in := []Incoming{
		{Cheque: cheque(100)},
		{Cheque: cheque(100)}, // the same again: a repeat
		{Cheque: forged},
		tip(300, 150),         // 200 more, a tip of 150
		{Cheque: cheque(250)}, // below the tip's 300
		tip(320, 50),          // 20 more cannot pay 50
		{Cheque: cheque(400)},
	}
	res, err := w.AcceptAll(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		inc    string
		repeat bool
		err    error
	}{{"100", false, nil}, {"0", true, nil}, {"0", false, ErrBadSignature}, {"200", false, nil},
		{"0", false, ErrStale}, {"0", false, ErrUnderpaid}, {"100", false, nil}}
	for i, r := range res {
		if r.Inc.String() != want[i].inc || r.Repeat != want[i].repeat || !errors.Is(r.Err, want[i].err) || (want[i].err == nil) != (r.Err == nil) {
			t.Errorf("item %d: %+v, want %+v", i, r, want[i])
		}
	}
	if r, ok, err := w.Highest(Received, payer.Address()); err != nil || !ok || r.Cheque.Cumulative.String() != "400" || r.Cheque.Verify() != nil {
		t.Fatalf("recorded %+v %v %v, want the cheque of 400", r, ok, err)
	}
	if ps, err := w.Payments(); err != nil || len(ps) != 1 || ps[0].Amount.String() != "150" || ps[0].Cumulative.String() != "300" {
		t.Fatalf("payments %+v %v, want the one tip of 150", ps, err)
	}

	// The file held by another writer: the transaction fails, the whole
	// batch errs and nothing of it is stored.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err = w.AcceptAll([]Incoming{{Cheque: cheque(500)}, tip(700, 100)})
	if err == nil || res != nil {
		t.Fatalf("a failed batch: %+v %v, want an error and no results", res, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := w.Highest(Received, payer.Address()); r.Cheque.Cumulative.String() != "400" {
		t.Fatalf("a failed batch stored the cheque of %s", r.Cheque.Cumulative)
	}
	if ps, _ := w.Payments(); len(ps) != 1 {
		t.Fatalf("a failed batch stored a payment: %d", len(ps))
	}
}
