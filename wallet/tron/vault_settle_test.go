package tron_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// TestVaultSettle: with vault cheques the payee settles: Settle cashes
// received vault cheques at the payer's vault and records paid and
// bounced amounts, the payer never pays them by transfer, the payee's
// cover of the payer is the vault's collateral (and drops at once with a
// withdrawal request), and a cash whose confirmation was lost is
// recorded from the vault, never cashed twice.
func TestVaultSettle(t *testing.T) {
	ctx := context.Background()
	v := newVaultNet(t, false)
	n := v.n
	payer, payee := key(t, 1), key(t, 2)
	vault := v.fundedVault(t, payer, "100", "5", payee)
	book := func(name string) *wallet.ChequeBook {
		b, err := wallet.OpenChequeBook(filepath.Join(t.TempDir(), name), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The payee counts the vault's whole free collateral (no reservation
	// here; TestVaultReservations has them).
	sc := dial(t, n.Addr(), tron.Config{Factory: v.factory, FeeLimitSun: vaultFeeLimit, ConfirmTimeout: 300 * time.Millisecond, FreeShare: 100})
	pw, sw := wallet.New(payer, book("p.db"), v.c), wallet.New(payee, book("s.db"), sc)
	pay := func(cum string) {
		t.Helper()
		ch, err := pw.SignVaultCheque(vault, token, payee.Address(), btt(t, cum), wallet.ChainIDNile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sw.AcceptCheque(ch); err != nil {
			t.Fatal(err)
		}
	}
	settle := func(wantPaid, wantShort string) wallet.Settlement {
		t.Helper()
		ss, err := sw.Settle(ctx)
		if err != nil || len(ss) != 1 || ss[0].Err != nil || ss[0].Paid.Cmp(btt(t, wantPaid)) != 0 || ss[0].Shortfall.Cmp(btt(t, wantShort)) != 0 {
			t.Fatalf("settle: %+v %v, want paid %s short %s", ss, err, wantPaid, wantShort)
		}
		return ss[0]
	}
	if _, known, err := sw.Cover(ctx, payer.Address()); known || err != nil {
		t.Fatalf("cover before any vault cheque: %v %v", known, err)
	}
	pay("3")
	if cov, known, err := sw.Cover(ctx, payer.Address()); !known || err != nil || cov.Cmp(btt(t, "5")) != 0 {
		t.Fatalf("cover %s %v %v", cov, known, err)
	}
	// The payer does not transfer what its payee cashes.
	before := n.Broadcasts()
	if ss, err := pw.Settle(ctx); err != nil || len(ss) != 0 || n.Broadcasts() != before {
		t.Fatalf("payer settled a vault cheque: %+v %v", ss, err)
	}
	if due, _ := pw.Due(); !due.IsZero() {
		t.Errorf("payer's due %s", due)
	}
	if due, _ := sw.Due(); due.Cmp(btt(t, "3")) != 0 {
		t.Errorf("payee's due %s", due)
	}
	if _, settled, err := sw.SettleDue(ctx, btt(t, "1")); !settled || err != nil {
		t.Fatalf("threshold settlement: %v %v", settled, err)
	}
	if _, settled, _ := sw.SettleDue(ctx, btt(t, "1")); settled {
		t.Fatal("settled again with nothing due")
	}
	if got := n.TRC20(token, payee.Address()); got.Cmp(btt(t, "3")) != 0 {
		t.Fatalf("payee holds %s", got)
	}
	// 8 cumulative against 2 left: 2 paid, 3 bounced; after a deposit, 3.
	// The record keeps what bounced (the vault's bounced[payee]) until a
	// cash pays it.
	bounced := func(s wallet.Settlement, settled, want string) {
		t.Helper()
		r, _, _ := sw.Highest(wallet.Received, payer.Address())
		out, err := v.c.VaultBounced(ctx, vault, payee.Address())
		if err != nil || r.Bounced.Cmp(btt(t, want)) != 0 || s.Record.Bounced.Cmp(btt(t, want)) != 0 || out.Cmp(btt(t, want)) != 0 ||
			r.Settled.Cmp(btt(t, settled)) != 0 || n.TRC20(token, payee.Address()).Cmp(r.Settled) != 0 {
			t.Fatalf("record %+v, settlement %+v, vault says %s bounced (%v), payee holds %s; want %s bounced, %s settled",
				r, s.Record, out, err, n.TRC20(token, payee.Address()), want, settled)
		}
	}
	pay("8")
	bounced(settle("2", "3"), "5", "3")
	if _, err := v.c.Deposit(ctx, payer, btt(t, "10")); err != nil {
		t.Fatal(err)
	}
	bounced(settle("3", "0"), "8", "0")
	// A cash whose confirmation is lost: the next Settle reads it from
	// the vault instead of cashing again.
	pay("9")
	n.SetFault(faketron.NeverConfirm)
	ss, _ := sw.Settle(ctx)
	n.SetFault(faketron.NoFault)
	if len(ss) != 1 || !errors.Is(ss[0].Err, wallet.ErrTimeout) {
		t.Fatalf("lost confirmation: %+v", ss)
	}
	before = n.Broadcasts()
	s := settle("1", "0")
	if n.Broadcasts() != before || s.TxID != "" {
		t.Fatalf("cashed twice: %d transactions, %+v", n.Broadcasts()-before, s)
	}
	r, _, _ := sw.Highest(wallet.Received, payer.Address())
	if r.Settled.Cmp(btt(t, "9")) != 0 || n.TRC20(token, payee.Address()).Cmp(btt(t, "9")) != 0 {
		t.Fatalf("record %+v, payee holds %s", r, n.TRC20(token, payee.Address()))
	}
	// A withdrawal request lowers the cover at once: 6 left, 5 announced.
	if _, err := v.c.RequestWithdrawal(ctx, payer, btt(t, "5")); err != nil {
		t.Fatal(err)
	}
	if cov, known, _ := sw.Cover(ctx, payer.Address()); !known || cov.Cmp(btt(t, "1")) != 0 {
		t.Fatalf("cover after the request %s %v", cov, known)
	}
}

// TestVaultCashRace: three settlements of the payee's cheque book at
// once (two handles of the book, three goroutines), ten times over after
// a new vault cheque: exactly one cash per round, the rest say
// "settlement in progress" or find nothing left, and the payee holds
// exactly the cumulative amount.
func TestVaultCashRace(t *testing.T) {
	ctx := context.Background()
	v := newVaultNet(t, false)
	n := v.n
	payer, payee := key(t, 1), key(t, 2)
	vault := v.fundedVault(t, payer, "100", "50", payee)
	path := filepath.Join(t.TempDir(), "s.db")
	open := func() *wallet.ChequeBook {
		b, err := wallet.OpenChequeBook(path, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s1 := wallet.New(payee, open(), v.c)
	s2 := wallet.New(payee, open(), dial(t, n.Addr(), tron.Config{Factory: v.factory, FeeLimitSun: vaultFeeLimit}))
	var cum wallet.Amount
	for round := 1; round <= 10; round++ {
		cum, _ = cum.Add(btt(t, "1.5"))
		ch, err := wallet.SignVaultCheque(payer, wallet.ChainIDNile, vault, token, payee.Address(), cum)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s1.AcceptCheque(ch); err != nil {
			t.Fatal(err)
		}
		before := n.Broadcasts()
		var wg sync.WaitGroup
		for _, w := range []*wallet.Wallet{s1, s2, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ss, err := w.Settle(ctx)
				for _, s := range ss {
					if s.Err != nil && !errors.Is(s.Err, wallet.ErrPending) {
						err = s.Err
					}
				}
				if err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		wg.Wait()
		if got := n.Broadcasts() - before; got != 1 {
			t.Fatalf("round %d: %d cash transactions, want 1", round, got)
		}
		if got := n.TRC20(token, payee.Address()); got.Cmp(cum) != 0 {
			t.Fatalf("round %d: payee holds %s, want %s", round, got, cum)
		}
		if r, _, _ := s2.Highest(wallet.Received, payer.Address()); r.Settled.Cmp(cum) != 0 || r.Pending != nil {
			t.Fatalf("round %d: record %+v", round, r)
		}
	}
}
