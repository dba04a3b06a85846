package tron_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestVaultEmptyCashNotRepeated: a payee holding a vault cheque the vault
// could only partly pay (8 on a vault of 5: 5 paid, 3 bounced) sends no
// further cash while the vault can pay it nothing — empty, or holding
// only another payee's reservation — however often the threshold
// settlement runs (the engine calls SettleDue at every balance refresh,
// 3 s): each such cash would pay 0 and burn the payee's energy (a bounce
// costs about 65,000, 6.5 TRX). The bounce stays recorded as a shortfall.
// Once the payer deposits for it, the next settlement cashes the 3 left.
// Before, every refresh cashed again: 10 refreshes, 10 transactions.
func TestVaultEmptyCashNotRepeated(t *testing.T) {
	ctx := context.Background()
	v := newVaultNet(t, false)
	n := v.n
	payer, payee, other := key(t, 1), key(t, 2), key(t, 3)
	vault := v.fundedVault(t, payer, "100", "5", payee)
	book, err := wallet.OpenChequeBook(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sw := wallet.New(payee, book, v.c)
	ch, err := wallet.SignVaultCheque(payer, wallet.ChainIDNile, vault, token, payee.Address(), btt(t, "8"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.AcceptCheque(ch); err != nil {
		t.Fatal(err)
	}
	threshold := btt(t, "1")
	refresh := func(times int) (paid, short wallet.Amount) {
		t.Helper()
		for range times {
			ss, _, err := sw.SettleDue(ctx, threshold)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if s.Err != nil {
					t.Fatalf("settlement %+v", s)
				}
				paid, _ = paid.Add(s.Paid)
				short = s.Shortfall
			}
		}
		return paid, short
	}
	before := n.Broadcasts()
	if paid, short := refresh(10); paid.Cmp(btt(t, "5")) != 0 || short.Cmp(btt(t, "3")) != 0 {
		t.Fatalf("10 refreshes on a vault of 5: paid %s, short %s", paid, short)
	}
	if got := n.Broadcasts() - before; got != 1 {
		t.Fatalf("10 refreshes on an empty vault sent %d cashes, want 1", got)
	}
	// A deposit all reserved for another payee: still nothing for us.
	if _, err := v.c.Deposit(ctx, payer, btt(t, "4")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.c.Reserve(ctx, payer, other.Address(), btt(t, "4")); err != nil {
		t.Fatal(err)
	}
	before = n.Broadcasts()
	if paid, short := refresh(5); !paid.IsZero() || short.Cmp(btt(t, "3")) != 0 {
		t.Fatalf("a vault holding another's reservation: paid %s, short %s", paid, short)
	}
	if got := n.Broadcasts() - before; got != 0 {
		t.Fatalf("cashed %d times at a vault holding only another payee's reservation", got)
	}
	if _, err := v.c.Deposit(ctx, payer, btt(t, "10")); err != nil {
		t.Fatal(err)
	}
	before = n.Broadcasts()
	if paid, short := refresh(5); paid.Cmp(btt(t, "3")) != 0 || !short.IsZero() {
		t.Fatalf("after a deposit: paid %s, short %s", paid, short)
	}
	if got := n.Broadcasts() - before; got != 1 {
		t.Fatalf("after a deposit: %d cashes, want 1", got)
	}
	r, _, _ := sw.Highest(wallet.Received, payer.Address())
	if got, left := n.TRC20(token, payee.Address()), n.TRC20(token, vault); got.Cmp(btt(t, "8")) != 0 || r.Settled.Cmp(got) != 0 || left.Cmp(btt(t, "11")) != 0 {
		t.Fatalf("payee holds %s (settled %s), vault %s; want 8 and 11", got, r.Settled, left)
	}
}
