package local_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

var token = wallet.MustParseAddress(wallet.DefaultBTTContract)

func key(t testing.TB, b byte) *wallet.Key {
	t.Helper()
	raw := make([]byte, 32)
	raw[31] = b
	raw[0] = 1
	k, err := wallet.KeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func bal(t *testing.T, l *local.Ledger, a wallet.Address) string {
	t.Helper()
	b, err := l.Balance(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return b.Token.String()
}

func TestRedeem(t *testing.T) {
	ctx := context.Background()
	l, err := local.Open(filepath.Join(t.TempDir(), "ledger.db"), token, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	payer, ben, other := key(t, 1), key(t, 2), key(t, 3)
	if err := l.Faucet(ctx, payer.Address(), wallet.NewAmount(1000)); err != nil {
		t.Fatal(err)
	}
	cheque := func(n uint64) wallet.Cheque {
		c, err := wallet.SignCheque(payer, wallet.ChainIDLocal, token, ben.Address(), wallet.NewAmount(n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r, err := l.Redeem(ctx, cheque(300))
	if err != nil || r.Paid.String() != "300" || r.Settled.String() != "300" || !r.Shortfall.IsZero() {
		t.Fatalf("redeem 300: %+v %v", r, err)
	}
	if bal(t, l, payer.Address()) != "700" || bal(t, l, ben.Address()) != "300" {
		t.Fatalf("balances after 300")
	}
	// Cumulative: a cheque for 500 pays 200 more.
	if r, err = l.Redeem(ctx, cheque(500)); err != nil || r.Paid.String() != "200" {
		t.Fatalf("redeem 500: %+v %v", r, err)
	}
	// Replays and older cheques are stale and move nothing.
	for _, n := range []uint64{500, 300} {
		if _, err := l.Redeem(ctx, cheque(n)); !errors.Is(err, wallet.ErrStale) {
			t.Errorf("replay of %d: %v", n, err)
		}
	}
	// Forged: signed by someone else, or amount changed after signing.
	f, _ := wallet.SignCheque(other, wallet.ChainIDLocal, token, ben.Address(), wallet.NewAmount(900))
	f.Payer = payer.Address()
	if _, err := l.Redeem(ctx, f); !errors.Is(err, wallet.ErrBadSignature) {
		t.Errorf("forged signer: %v", err)
	}
	g := cheque(600)
	g.Cumulative = wallet.NewAmount(900)
	if _, err := l.Redeem(ctx, g); !errors.Is(err, wallet.ErrBadSignature) {
		t.Errorf("altered amount: %v", err)
	}
	// Misaddressed: another chain or token.
	m, _ := wallet.SignCheque(payer, wallet.ChainIDMainnet, token, ben.Address(), wallet.NewAmount(900))
	if _, err := l.Redeem(ctx, m); !errors.Is(err, wallet.ErrMisaddressed) {
		t.Errorf("mainnet cheque: %v", err)
	}
	m, _ = wallet.SignCheque(payer, wallet.ChainIDLocal, other.Address(), ben.Address(), wallet.NewAmount(900))
	if _, err := l.Redeem(ctx, m); !errors.Is(err, wallet.ErrMisaddressed) {
		t.Errorf("other token: %v", err)
	}
	if bal(t, l, payer.Address()) != "500" || bal(t, l, ben.Address()) != "500" {
		t.Fatalf("rejected cheques moved money")
	}
	// Shortfall: the payer owes 1200 − 500 = 700 but holds 500.
	r, err = l.Redeem(ctx, cheque(1200))
	if err != nil || r.Paid.String() != "500" || r.Settled.String() != "1000" || r.Shortfall.String() != "200" {
		t.Fatalf("shortfall: %+v %v", r, err)
	}
	if s, sf, _ := l.Settled(ctx, payer.Address(), ben.Address()); s.String() != "1000" || sf.String() != "200" {
		t.Errorf("Settled = %s, %s", s, sf)
	}
	// Once funded again, the same cheque pays the rest.
	_ = l.Faucet(ctx, payer.Address(), wallet.NewAmount(50))
	if r, err = l.Redeem(ctx, cheque(1200)); err != nil || r.Paid.String() != "50" || r.Shortfall.String() != "150" {
		t.Fatalf("second redeem: %+v %v", r, err)
	}
	if bal(t, l, payer.Address()) != "0" || bal(t, l, ben.Address()) != "1050" {
		t.Fatalf("final balances %s %s", bal(t, l, payer.Address()), bal(t, l, ben.Address()))
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestSendAndSharing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	a, b := key(t, 1), key(t, 2)
	// 100 concurrent sends queue on the file lock, each an fsynced commit:
	// on a loaded machine the last may wait longer than the default 5s.
	// The test is about lost updates, not latency, so wait generously.
	l1, err := local.Open(path, token, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := local.Open(path, token, time.Minute) // a second handle, as another process would
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l1.Send(ctx, a, b.Address(), wallet.NewAmount(1)); !errors.Is(err, wallet.ErrInsufficientFunds) {
		t.Fatalf("send unfunded: %v", err)
	}
	_ = l1.Faucet(ctx, a.Address(), wallet.NewAmount(100))
	_ = l2.Faucet(ctx, b.Address(), wallet.NewAmount(100))
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 50; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _, err := l1.Send(ctx, a, b.Address(), wallet.NewAmount(1)); errs <- err }()
		go func() { defer wg.Done(); _, err := l2.Send(ctx, b, a.Address(), wallet.NewAmount(2)); errs <- err }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if bal(t, l1, a.Address()) != "150" || bal(t, l2, b.Address()) != "50" {
		t.Errorf("after concurrent sends: %s %s", bal(t, l1, a.Address()), bal(t, l2, b.Address()))
	}
	if _, err := local.Open(path, wallet.Address{}, 0); !errors.Is(err, wallet.ErrBadAddress) {
		t.Errorf("zero token: %v", err)
	}
}

// TestWalletSettleLocal runs the payer and payee wallets against one
// ledger: the payer issues cheques, the payee accepts them, and either
// side's Settle moves exactly what the cheques promise.
func TestWalletSettleLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := local.Open(filepath.Join(dir, "ledger.db"), token, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	book := func(name string) *wallet.ChequeBook {
		b, err := wallet.OpenChequeBook(filepath.Join(dir, name), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pk, sk := key(t, 1), key(t, 2)
	buyer := wallet.New(pk, book("buyer.db"), l)
	seller := wallet.New(sk, book("seller.db"), l)
	if err := buyer.Faucet(ctx, wallet.NewAmount(1000)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{100, 250, 400} {
		c, err := buyer.SignCheque(buyer.Token(), seller.Address(), wallet.NewAmount(n), buyer.ChainID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seller.AcceptCheque(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := buyer.SignCheque(buyer.Token(), seller.Address(), wallet.NewAmount(300), buyer.ChainID()); !errors.Is(err, wallet.ErrStale) {
		t.Errorf("lower cheque signed: %v", err)
	}
	// Misaddressed: a cheque to someone else.
	c, _ := buyer.SignCheque(buyer.Token(), key(t, 9).Address(), wallet.NewAmount(5), buyer.ChainID())
	if _, err := seller.AcceptCheque(c); !errors.Is(err, wallet.ErrMisaddressed) {
		t.Errorf("cheque to another: %v", err)
	}
	ss, err := seller.Settle(ctx)
	if err != nil || len(ss) != 1 || ss[0].Err != nil || ss[0].Paid.String() != "400" {
		t.Fatalf("seller settle: %+v %v", ss, err)
	}
	// The buyer's settle sees its cheque already paid and catches up;
	// its cheque to key 9 (5) is paid too.
	bs, err := buyer.Settle(ctx)
	if err != nil || len(bs) != 2 {
		t.Fatalf("buyer settle: %+v %v", bs, err)
	}
	for _, s := range bs {
		if s.Err != nil || !s.Record.Unsettled().IsZero() {
			t.Errorf("buyer settlement %+v", s)
		}
	}
	b1, _ := buyer.Balance(ctx)
	b2, _ := seller.Balance(ctx)
	if b1.Token.String() != "595" || b2.Token.String() != "400" {
		t.Errorf("balances %s %s", b1.Token, b2.Token)
	}
	rs, _ := seller.Cheques()
	if len(rs) != 1 || rs[0].Settled.String() != "400" {
		t.Errorf("seller book %+v", rs)
	}
	if again, _ := seller.Settle(ctx); len(again) != 0 {
		t.Errorf("second settle did %+v", again)
	}
}
