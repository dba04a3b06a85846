package tron_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// TestVaultReservations: per-payee reservations ("hard deposits",
// PROTOCOL.md §11.1) through the unmodified SDK client. A payee's
// collateral is its reservation (at the default share of 0), so two
// payees together can count on no more than the vault holds; a cash
// pays from the beneficiary's reservation first, then from the
// unreserved balance, never from another payee's reservation; a
// withdrawal takes only unreserved balance; lowering a reservation is
// announced, seen by the payee at once, and applied only after the
// vault's delay. Every amount is exact.
func TestVaultReservations(t *testing.T) {
	ctx := context.Background()
	v := newVaultNet(t, false)
	n, c := v.n, v.c
	payer, a, b := key(t, 1), key(t, 2), key(t, 3)
	vault := v.fundedVault(t, payer, "100", "10", a, b)
	cheque := func(to *wallet.Key, cum string) wallet.Cheque {
		t.Helper()
		ch, err := wallet.SignVaultCheque(payer, wallet.ChainIDNile, vault, token, to.Address(), btt(t, cum))
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	collateral := func(c *tron.Chain, to *wallet.Key, want string) {
		t.Helper()
		cv, got, known, err := c.Collateral(ctx, payer.Address(), to.Address())
		if err != nil || !known || cv != vault || got.Cmp(btt(t, want)) != 0 {
			t.Fatalf("collateral for %s: %s %v %v, want %s", to.Address(), got, known, err, want)
		}
	}
	state := func(balance, reserved, unreserved string) tron.VaultState {
		t.Helper()
		s, err := c.Reservations(ctx, vault)
		if err != nil || s.Balance.Cmp(btt(t, balance)) != 0 || s.Reserved.Cmp(btt(t, reserved)) != 0 || s.Unreserved.Cmp(btt(t, unreserved)) != 0 {
			t.Fatalf("vault %+v %v, want balance %s reserved %s unreserved %s", s, err, balance, reserved, unreserved)
		}
		return s
	}
	cash := func(k *wallet.Key, cum, paid, fromRes, bounced string) tron.CashResult {
		t.Helper()
		res, err := c.Cash(ctx, k, cheque(k, cum))
		if err != nil || res.Paid.Cmp(btt(t, paid)) != 0 || res.FromReservation.Cmp(btt(t, fromRes)) != 0 || res.Bounced.Cmp(btt(t, bounced)) != 0 {
			t.Fatalf("cash %s for %s: %+v %v, want paid %s (%s from the reservation), bounced %s", cum, k.Address(), res, err, paid, fromRes, bounced)
		}
		return res
	}

	// Reserve 4 for A and 3 for B out of 10.
	r, err := c.Reserve(ctx, payer, a.Address(), btt(t, "4"))
	if err != nil {
		t.Fatal(err)
	}
	v.energy(t, "reserve (a new payee)", r.TxID)
	if r, err = c.Reserve(ctx, payer, b.Address(), btt(t, "1")); err != nil {
		t.Fatal(err)
	}
	if r, err = c.Reserve(ctx, payer, b.Address(), btt(t, "2")); err != nil {
		t.Fatal(err)
	}
	v.energy(t, "reserve (more for a payee)", r.TxID)
	s := state("10", "7", "3")
	if len(s.Reservations) != 2 || s.Reservations[0].Beneficiary != a.Address() || s.Reservations[0].Held.Cmp(btt(t, "4")) != 0 ||
		s.Reservations[1].Beneficiary != b.Address() || s.Reservations[1].Amount.Cmp(btt(t, "3")) != 0 || s.Collateral.Cmp(btt(t, "3")) != 0 {
		t.Fatalf("reservations %+v", s)
	}
	// What each payee counts on: its reservation at share 0, plus half
	// the free 3 at share 50. Together at share 0: 4 + 3 ≤ 10.
	collateral(c, a, "4")
	collateral(c, b, "3")
	collateral(c, payer, "0")
	half := dial(t, n.Addr(), tron.Config{Factory: v.factory, FeeLimitSun: vaultFeeLimit, FreeShare: 50})
	collateral(half, a, "5.5")
	// No more than the unreserved 3 can be reserved: refused here, and by
	// the vault itself.
	before := n.Broadcasts()
	if _, err := c.Reserve(ctx, payer, b.Address(), btt(t, "3.5")); !errors.Is(err, wallet.ErrInsufficientFunds) || n.Broadcasts() != before {
		t.Fatalf("over-reservation: %v", err)
	}
	if err := tron.SendUncheckedForTest(ctx, c, payer, vault, "reserve", b.Address().EVM(), btt(t, "3.5").Big()); err == nil || !strings.Contains(err.Error(), "NotEnoughUnreserved") {
		t.Fatalf("the vault reserved past its unreserved balance: %v", err)
	}
	// Only the issuer reserves.
	if err := tron.SendUncheckedForTest(ctx, c, a, vault, "reserve", a.Address().EVM(), btt(t, "1").Big()); err == nil || !strings.Contains(err.Error(), "NotIssuer") {
		t.Fatalf("a payee reserved for itself: %v", err)
	}

	// A cashes 5: 4 from its reservation, 1 from the free balance.
	res := cash(a, "5", "5", "4", "0")
	v.energy(t, "cash (from the reservation and the free balance)", res.Receipt.TxID)
	state("5", "3", "2")
	collateral(c, a, "0")
	// A cashes 9 (4 more): the free 2 is paid, B's 3 stays B's, 2 bounce.
	cash(a, "9", "2", "0", "2")
	state("3", "3", "0")
	collateral(c, b, "3")
	// B cashes 2, all from its reservation.
	res = cash(b, "2", "2", "2", "0")
	v.energy(t, "cash (from the reservation only)", res.Receipt.TxID)
	state("1", "1", "0")

	// A withdrawal takes only unreserved balance: 6 deposited, 7
	// requested, 6 withdrawn; B's 1 stays.
	if _, err := c.Deposit(ctx, payer, btt(t, "6")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestWithdrawal(ctx, payer, btt(t, "7")); err != nil {
		t.Fatal(err)
	}
	if err := tron.SendUncheckedForTest(ctx, c, payer, vault, "requestUnreserve", b.Address().EVM(), btt(t, "1").Big()); err != nil {
		t.Fatal(err)
	}
	collateral(c, b, "0") // the announced lowering counts at once
	n.Advance(24*time.Hour + time.Minute)
	if _, err := c.RequestUnreserve(ctx, payer, b.Address(), wallet.Amount{}); err != nil { // cancelled before it was applied
		t.Fatal(err)
	}
	collateral(c, b, "1")
	if _, err := c.Unreserve(ctx, payer, b.Address()); err == nil || !strings.Contains(err.Error(), "NoDecrease") {
		t.Fatalf("unreserve with nothing announced: %v", err)
	}
	held := n.TRC20(token, payer.Address())
	if _, err := c.Withdraw(ctx, payer); err != nil {
		t.Fatal(err)
	}
	if got, _ := n.TRC20(token, payer.Address()).Sub(held); got.Cmp(btt(t, "6")) != 0 {
		t.Fatalf("withdrew %s, want the unreserved 6", got)
	}
	state("1", "1", "0")
	cash(b, "3", "1", "1", "0")

	// An attacker payer lowers B's reservation: B sees it the moment it
	// is announced, the vault applies it only after the delay, and until
	// then B's cashes still take it.
	if _, err := c.Deposit(ctx, payer, btt(t, "4")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reserve(ctx, payer, b.Address(), btt(t, "3")); err != nil {
		t.Fatal(err)
	}
	collateral(c, b, "3")
	if r, err = c.RequestUnreserve(ctx, payer, b.Address(), btt(t, "3")); err != nil {
		t.Fatal(err)
	}
	v.energy(t, "request unreserve", r.TxID)
	collateral(c, b, "0")
	collateral(half, b, "0.5") // half of the free 1
	res2, err := c.Reservation(ctx, vault, b.Address())
	if err != nil || res2.Amount.Cmp(btt(t, "3")) != 0 || res2.Decrease.Cmp(btt(t, "3")) != 0 || !res2.Held.IsZero() ||
		res2.DecreaseTime.Before(time.Now().Add(47*time.Hour)) { // the node's clock is a day ahead
		t.Fatalf("reservation after the request %+v %v", res2, err)
	}
	if _, err := c.Unreserve(ctx, payer, b.Address()); err == nil || !strings.Contains(err.Error(), "DecreaseNotDue") {
		t.Fatalf("an early unreserve: %v", err)
	}
	cash(b, "4", "1", "1", "0") // still B's: 2 left reserved
	state("3", "2", "1")
	n.Advance(24*time.Hour + time.Minute)
	if r, err = c.Unreserve(ctx, payer, b.Address()); err != nil {
		t.Fatal(err)
	}
	v.energy(t, "unreserve", r.TxID)
	state("3", "0", "3")
	if res2, _ = c.Reservation(ctx, vault, b.Address()); !res2.Amount.IsZero() || !res2.Decrease.IsZero() {
		t.Fatalf("reservation after the unreserve %+v", res2)
	}
	// Money: the payer put in 20 and took out 6; A and B hold what they
	// cashed (7 and 4), the vault the rest.
	paidA, paidB, left := n.TRC20(token, a.Address()), n.TRC20(token, b.Address()), n.TRC20(token, vault)
	if paidA.Cmp(btt(t, "7")) != 0 || paidB.Cmp(btt(t, "4")) != 0 || left.Cmp(btt(t, "3")) != 0 {
		t.Fatalf("A holds %s, B %s, vault %s", paidA, paidB, left)
	}
}

// TestVaultSelfCheque: why a payee counts no free collateral by default
// (vault_free_share = 0). The payer signs a cheque to an address of its
// own and cashes it at once: it takes the whole unreserved balance
// without announcing anything, so the withdrawal delay protects only
// reservations. A payee counting the free balance (share 100) saw 10 and
// is left with its reservation of 4, which the payer could not touch.
func TestVaultSelfCheque(t *testing.T) {
	ctx := context.Background()
	v := newVaultNet(t, false)
	n, c := v.n, v.c
	payer, a, puppet := key(t, 1), key(t, 2), key(t, 4)
	vault := v.fundedVault(t, payer, "10", "10", a, puppet)
	if _, err := c.Reserve(ctx, payer, a.Address(), btt(t, "4")); err != nil {
		t.Fatal(err)
	}
	full := dial(t, n.Addr(), tron.Config{Factory: v.factory, FeeLimitSun: vaultFeeLimit, FreeShare: 100})
	if _, col, _, err := full.Collateral(ctx, payer.Address(), a.Address()); err != nil || col.Cmp(btt(t, "10")) != 0 {
		t.Fatalf("collateral at share 100: %s %v", col, err)
	}
	self, err := wallet.SignVaultCheque(payer, wallet.ChainIDNile, vault, token, puppet.Address(), btt(t, "10"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Cash(ctx, puppet, self)
	if err != nil || res.Paid.Cmp(btt(t, "6")) != 0 || !res.FromReservation.IsZero() {
		t.Fatalf("self-cheque: %+v %v, want the free 6 taken at once", res, err)
	}
	for _, tc := range []struct {
		c    *tron.Chain
		want string
	}{{c, "4"}, {full, "4"}} {
		if _, col, _, err := tc.c.Collateral(ctx, payer.Address(), a.Address()); err != nil || col.Cmp(btt(t, tc.want)) != 0 {
			t.Fatalf("collateral after the drain: %s %v, want %s", col, err, tc.want)
		}
	}
	ch, err := wallet.SignVaultCheque(payer, wallet.ChainIDNile, vault, token, a.Address(), btt(t, "4"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Cash(ctx, a, ch); err != nil || res.Paid.Cmp(btt(t, "4")) != 0 || res.FromReservation.Cmp(btt(t, "4")) != 0 {
		t.Fatalf("the payee's cash after the drain: %+v %v", res, err)
	}
	if got := n.TRC20(token, vault); !got.IsZero() {
		t.Fatalf("vault holds %s", got)
	}
}
