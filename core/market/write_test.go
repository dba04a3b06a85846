package market

import (
	"errors"
	"testing"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestQueuedWrites: with QueueWrites, a received cheque counts and is
// acknowledged only once the engine reports it stored: queued cheques
// change no account and send no RECEIPT; the outcomes, applied in order,
// give what storing each at once would have (a lower cheque queued
// behind a higher one is stale, a resent one is a duplicate); a store
// that failed is answered ERROR 500 and counts nothing.
func TestQueuedWrites(t *testing.T) {
	s := paidSwarm(t)
	s.seller.QueueWrites()
	l := s.links[0]
	l.a.ObserveSent(2<<20, 1) // owed 2000
	w := s.buyers[0].Wallet()
	sign := func(n uint64) []byte {
		wc, err := wallet.SignCheque(testKeyOf(t, s, 0), w.ChainID(), w.Token(), s.seller.Wallet().Address(), amt(n))
		if err != nil {
			t.Fatal(err)
		}
		m := chequeMsg(wc)
		b, _ := bttbid.Encode(&m)
		return b
	}
	credit := s.seller.Accounts()[0].Credit
	l.a.TakeOutbox()
	for _, n := range []uint64{1500, 500, 1500} {
		l.a.Receive(t0, sign(n))
	}
	if out := l.a.TakeOutbox(); len(out) != 0 {
		t.Fatalf("answered %v before anything was stored", decode(t, out[0]))
	}
	if acc := s.seller.Accounts()[0]; !acc.Accepted.IsZero() || acc.Credit != credit {
		t.Fatalf("queued cheques count: accepted %s credit %d", acc.Accepted, acc.Credit)
	}
	ws := s.seller.TakeWrites()
	if len(ws) != 3 || s.seller.Writing() != 3 || len(s.seller.TakeWrites()) != 0 {
		t.Fatalf("%d writes taken, %d pending", len(ws), s.seller.Writing())
	}
	in := make([]wallet.Incoming, len(ws))
	for i, wr := range ws {
		in[i] = wallet.Incoming{Cheque: wr.Cheque, Note: wr.Note}
	}
	rs, err := s.seller.Wallet().(*wallet.Wallet).AcceptAll(in)
	if err != nil {
		t.Fatal(err)
	}
	for i, wr := range ws {
		if s.seller.Written(wr.ID, rs[i]) != l.a {
			t.Fatalf("write %d names another session", i)
		}
	}
	if s.seller.Written(ws[0].ID, rs[0]) != nil {
		t.Fatal("a write completed twice")
	}
	// The answers, in order (the first RECEIPT also ends the suspension
	// the debt of 2000 caused: an AWARD follows it).
	var out []bttbid.Message
	for _, raw := range l.a.TakeOutbox() {
		if m := decode(t, raw); m.Type() != bttbid.TypeAward {
			out = append(out, m)
		}
	}
	if len(out) != 3 {
		t.Fatalf("%d answers to 3 stored cheques: %v", len(out), out)
	}
	if r, ok := out[0].(*bttbid.Receipt); !ok || r.Payout.String() != "1500" {
		t.Fatalf("first answer %+v, want RECEIPT 1500", out[0])
	}
	if e, ok := out[1].(*bttbid.ErrorMsg); !ok || e.Code != bttbid.CodeStaleCheque {
		t.Fatalf("second answer %+v, want ERROR 402", out[1])
	}
	if r, ok := out[2].(*bttbid.Receipt); !ok || r.Payout.String() != "1500" {
		t.Fatalf("third answer %+v, want RECEIPT 1500", out[2])
	}
	acc := s.seller.Accounts()[0]
	if acc.Accepted.String() != "1500" || acc.Credit <= credit {
		t.Fatalf("stored: accepted %s credit %d (was %d)", acc.Accepted, acc.Credit, credit)
	}
	credit = acc.Credit

	// A store that failed: ERROR 500, nothing counted or acknowledged.
	l.a.Receive(t0, sign(1800))
	ws = s.seller.TakeWrites()
	if len(ws) != 1 {
		t.Fatalf("%d writes for one cheque", len(ws))
	}
	s.seller.Written(ws[0].ID, wallet.Accepted{Err: errors.New("disk full")})
	raws := l.a.TakeOutbox()
	if len(raws) != 1 {
		t.Fatalf("%d answers to a failed store", len(raws))
	}
	if e, ok := decode(t, raws[0]).(*bttbid.ErrorMsg); !ok || e.Code != bttbid.CodeInternal || e.Disable {
		t.Fatalf("answer %+v to a failed store, want ERROR 500 without disable", decode(t, raws[0]))
	}
	if acc := s.seller.Accounts()[0]; acc.Accepted.String() != "1500" || acc.Credit != credit {
		t.Fatalf("a failed store counts: accepted %s credit %d", acc.Accepted, acc.Credit)
	}
	if r, _, _ := s.seller.Wallet().Highest(wallet.Received, w.Address()); r.Cheque.Cumulative.String() != "1500" {
		t.Fatalf("book holds %s", r.Cheque.Cumulative)
	}
}

// testKeyOf is buyer i's key in s (env.wallet's derivation), to sign
// cheques its wallet does not record.
func testKeyOf(t *testing.T, s *swarm, i int) *wallet.Key {
	t.Helper()
	b := make([]byte, 32)
	b[0], b[31] = 1, byte(2+i)
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if k.Address() != s.buyers[i].Wallet().Address() {
		t.Fatal("not the buyer's key")
	}
	return k
}

// storeQueued stores m's queued writes as the engine's money writer does
// and applies the outcomes.
func storeQueued(t *testing.T, m *Market) int {
	t.Helper()
	ws := m.TakeWrites()
	in := make([]wallet.Incoming, len(ws))
	for i, wr := range ws {
		in[i] = wallet.Incoming{Cheque: wr.Cheque, Note: wr.Note}
	}
	rs, err := m.Wallet().(*wallet.Wallet).AcceptAll(in)
	if err != nil {
		t.Fatal(err)
	}
	for i, wr := range ws {
		m.Written(wr.ID, rs[i])
	}
	return len(ws)
}

// TestQueuedTip: with QueueWrites a received TIP is neither logged,
// counted nor acknowledged until its store is reported; the payer's
// payment completes only then. A resent TIP while the first is queued
// is answered with RECEIPT once it is stored, and recorded once.
func TestQueuedTip(t *testing.T) {
	s, _ := commerceSwarm(t, 1, 0, 0)
	s.seller.QueueWrites()
	l := s.links[0]
	var got error = errPending
	if err := l.b.Pay(wallet.ForTip, amt(5000), "queued", func(err error) { got = err }); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	tip, _ := lastOf[*bttbid.Tip](l.ba)
	l.a.Receive(t0, mustEncode(t, tip)) // resent before the first is stored
	l.flush(t, t0)
	if got != errPending || len(s.st.Payments()) != 0 || !s.seller.Accounts()[0].Accepted.IsZero() {
		t.Fatalf("a queued tip counts: payer %v, %d payments, accepted %s", got, len(s.st.Payments()), s.seller.Accounts()[0].Accepted)
	}
	if _, ok := lastOf[*bttbid.Receipt](l.ab); ok {
		t.Fatal("RECEIPT before the tip was stored")
	}
	if n := storeQueued(t, s.seller); n != 2 {
		t.Fatalf("%d writes queued, want the tip and its resend", n)
	}
	l.flush(t, t0)
	if got != nil {
		t.Fatalf("stored tip not acknowledged: %v", got)
	}
	if in := s.st.Payments(); len(in) != 1 || in[0].Amount.Cmp(amt(5000)) != 0 {
		t.Fatalf("receiver's payments %+v", in)
	}
	if ps, _ := s.seller.Wallet().Payments(); len(ps) != 1 {
		t.Fatalf("%d payments in the book, want 1", len(ps))
	}
	if acc := s.seller.Accounts()[0]; acc.Accepted.Cmp(amt(5000)) != 0 || acc.Owed.Cmp(amt(5000)) != 0 {
		t.Fatalf("seller account %+v", acc)
	}
	if e, ok := lastOf[*bttbid.ErrorMsg](l.ab); ok {
		t.Fatalf("ERROR %+v for a stored tip and its resend", e)
	}
}
