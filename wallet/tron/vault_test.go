package tron_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// vaultFeeLimit is 1,000 TRX: creating a vault deploys 4 kB of code.
const vaultFeeLimit = 1_000_000_000

// vaultNet is a fake node with a deployed VaultFactory and a client
// configured for it.
type vaultNet struct {
	n       *faketron.Node
	c       *tron.Chain
	factory wallet.Address
}

func newVaultNet(t *testing.T, quiet bool) *vaultNet {
	t.Helper()
	n, err := faketron.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	if quiet {
		n.AddQuietToken(token)
	} else {
		n.AddContract(token)
	}
	deployer := key(t, 50)
	n.SetTRX(deployer.Address(), 10_000_000_000)
	f, _, err := dial(t, n.Addr(), tron.Config{FeeLimitSun: vaultFeeLimit}).DeployFactory(context.Background(), deployer)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := n.Receipt(lastTx(t, n)); r != nil {
		t.Logf("energy: deploy factory %d", r.GetReceipt().GetEnergyUsageTotal())
	}
	return &vaultNet{n: n, c: dial(t, n.Addr(), tron.Config{Factory: f, FeeLimitSun: vaultFeeLimit}), factory: f}
}

// lastTx is the id of the node's latest transaction.
func lastTx(t *testing.T, n *faketron.Node) string { return n.LastTx() }

func (v *vaultNet) energy(t *testing.T, what, id string) int64 {
	r, err := v.n.Receipt(id)
	if err != nil {
		t.Fatal(err)
	}
	e := r.GetReceipt().GetEnergyUsageTotal()
	t.Logf("energy: %s %d (%.2f TRX at 100 sun)", what, e, float64(e)*100/1e6)
	return e
}

// TestVault: a payer's vault end to end through the unmodified SDK
// client: create, deposit, cheques cashed by the payee for exactly the
// cumulative amount and never twice, a cheque for another vault refused,
// a short vault bouncing and the rest cashed after a deposit, a
// withdrawal request lowering the collateral at once, an early
// withdrawal refused and a due one paid. Every transaction was checked
// before signing (tron.Chain.call).
func TestVault(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		name := "token returning bool"
		if quiet {
			name = "token returning nothing"
		}
		t.Run(name, func(t *testing.T) { testVault(t, quiet) })
	}
}

func testVault(t *testing.T, quiet bool) {
	ctx := context.Background()
	v := newVaultNet(t, quiet)
	n, c := v.n, v.c
	payer, payee, other := key(t, 1), key(t, 2), key(t, 3)
	for _, k := range []*wallet.Key{payer, payee, other} {
		n.SetTRX(k.Address(), 10_000_000_000)
	}
	n.SetTRC20(token, payer.Address(), btt(t, "100"))
	n.SetTRC20(token, other.Address(), btt(t, "100"))

	if _, err := c.VaultOf(ctx, payer.Address()); !errors.Is(err, tron.ErrNoVault) {
		t.Fatalf("vault before creation: %v", err)
	}
	if _, _, err := c.CreateVault(ctx, payer, time.Hour); err == nil || !strings.Contains(err.Error(), "DelayTooShort") {
		t.Fatalf("a vault with a 1 h delay: %v", err)
	}
	vault, r, err := c.CreateVault(ctx, payer, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v.energy(t, "create vault", r.TxID)
	if _, _, err := c.CreateVault(ctx, payer, 24*time.Hour); err == nil || !strings.Contains(err.Error(), "VaultExists") {
		t.Fatalf("second vault: %v", err)
	}
	before := n.Broadcasts()
	if r, err = c.Deposit(ctx, payer, btt(t, "10")); err != nil {
		t.Fatal(err)
	}
	if n.Broadcasts() != before+2 {
		t.Fatalf("deposit made %d transactions, want approve + deposit", n.Broadcasts()-before)
	}
	v.energy(t, "deposit (after its approve)", r.TxID)
	st, err := c.Vault(ctx, vault)
	if err != nil || st.Issuer != payer.Address() || st.Token != token || st.Delay != 24*time.Hour ||
		st.Balance.Cmp(btt(t, "10")) != 0 || st.Collateral.Cmp(btt(t, "10")) != 0 {
		t.Fatalf("vault %+v %v", st, err)
	}
	if got := n.TRC20(token, payer.Address()); got.Cmp(btt(t, "90")) != 0 {
		t.Fatalf("payer holds %s after depositing 10", got)
	}

	// The payee cashes 3, then 4.5 cumulative: exactly 4.5 in all.
	cheque := func(cum string) wallet.Cheque {
		ch, err := wallet.SignVaultCheque(payer, wallet.ChainIDNile, vault, token, payee.Address(), btt(t, cum))
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	res, err := c.Cash(ctx, payee, cheque("3"))
	if err != nil || res.Paid.Cmp(btt(t, "3")) != 0 || !res.Bounced.IsZero() {
		t.Fatalf("cash 3: %+v %v", res, err)
	}
	v.energy(t, "cash (first)", res.Receipt.TxID)
	if res, err = c.Cash(ctx, payee, cheque("4.5")); err != nil || res.Paid.Cmp(btt(t, "1.5")) != 0 {
		t.Fatalf("cash 4.5: %+v %v", res, err)
	}
	v.energy(t, "cash (again)", res.Receipt.TxID)
	if got := n.TRC20(token, payee.Address()); got.Cmp(btt(t, "4.5")) != 0 {
		t.Fatalf("payee holds %s, want the cumulative 4.5", got)
	}
	// A node that rewrites the cash (recipient) or a deposit (amount) gets
	// nothing signed.
	n.SetTamper(trigger(t, func(c *core.TriggerSmartContract) { c.Data[35] ^= 1 }))
	before = n.Broadcasts()
	if _, err := c.Cash(ctx, payee, cheque("6")); !errors.Is(err, wallet.ErrUnexpectedTx) {
		t.Fatalf("tampered cash: %v", err)
	}
	if _, err := c.Deposit(ctx, payer, btt(t, "1")); !errors.Is(err, wallet.ErrUnexpectedTx) {
		t.Fatalf("tampered deposit: %v", err)
	}
	n.SetTamper(nil)
	if n.Broadcasts() != before {
		t.Fatal("a tampered transaction was broadcast")
	}
	// Cashing the same cheque again pays nothing.
	if _, err := c.Cash(ctx, payee, cheque("4.5")); err == nil || !strings.Contains(err.Error(), "NothingToCash") {
		t.Fatalf("cashed twice: %v", err)
	}
	// Someone else cannot cash the payee's cheque.
	if _, err := c.Cash(ctx, other, cheque("6")); !errors.Is(err, wallet.ErrMisaddressed) {
		t.Fatalf("cashed by another: %v", err)
	}

	// A cheque for vault A presented at vault B (another payer's) is refused
	// by the vault itself, not only by our own check.
	vaultB, _, err := c.CreateVault(ctx, other, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deposit(ctx, other, btt(t, "10")); err != nil {
		t.Fatal(err)
	}
	forB, err := wallet.SignVaultCheque(other, wallet.ChainIDNile, vault, token, payee.Address(), btt(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cash(ctx, payee, forB); !errors.Is(err, wallet.ErrMisaddressed) {
		t.Fatalf("a cheque for vault A accepted for B: %v", err)
	}
	before = n.Broadcasts()
	if _, err := tron.CashUncheckedForTest(ctx, c, payee, vaultB, forB); err == nil || !strings.Contains(err.Error(), "BadSignature") {
		t.Fatalf("vault B paid a cheque for vault A: %v", err)
	}
	if n.Broadcasts() != before+1 || n.TRC20(token, payee.Address()).Cmp(btt(t, "4.5")) != 0 {
		t.Fatal("vault B moved tokens")
	}

	// A short vault: 5.5 left, a cheque for 14.5 cumulative pays 5.5 and
	// bounces 4.5; after a deposit the rest is cashed.
	if res, err = c.Cash(ctx, payee, cheque("14.5")); err != nil || res.Paid.Cmp(btt(t, "5.5")) != 0 || res.Bounced.Cmp(btt(t, "4.5")) != 0 {
		t.Fatalf("short vault: %+v %v", res, err)
	}
	v.energy(t, "cash (bounced)", res.Receipt.TxID)
	if _, err := c.Deposit(ctx, payer, btt(t, "20")); err != nil {
		t.Fatal(err)
	}
	if res, err = c.Cash(ctx, payee, cheque("14.5")); err != nil || res.Paid.Cmp(btt(t, "4.5")) != 0 || !res.Bounced.IsZero() {
		t.Fatalf("rest after deposit: %+v %v", res, err)
	}
	if got := n.TRC20(token, payee.Address()); got.Cmp(btt(t, "14.5")) != 0 {
		t.Fatalf("payee holds %s, want 14.5", got)
	}

	// Withdrawal: the request lowers the collateral at once; withdrawing
	// before the delay is refused, after it pays the payer. Without a
	// reservation a payee counts only the configured share of the free
	// collateral: none by default, all of it here.
	if cv, col, known, err := c.Collateral(ctx, payer.Address(), payee.Address()); err != nil || !known || cv != vault || !col.IsZero() {
		t.Fatalf("collateral at share 0 without a reservation %s %v %v", col, known, err)
	}
	c = dial(t, n.Addr(), tron.Config{Factory: v.factory, FeeLimitSun: vaultFeeLimit, FreeShare: 100})
	if cv, col, known, err := c.Collateral(ctx, payer.Address(), payee.Address()); err != nil || !known || cv != vault || col.Cmp(btt(t, "15.5")) != 0 {
		t.Fatalf("collateral %s %v %v", col, known, err)
	}
	if r, err = c.RequestWithdrawal(ctx, payer, btt(t, "10")); err != nil {
		t.Fatal(err)
	}
	v.energy(t, "request withdrawal", r.TxID)
	if _, col, known, err := c.Collateral(ctx, payer.Address(), payee.Address()); err != nil || !known || col.Cmp(btt(t, "5.5")) != 0 {
		t.Fatalf("collateral after the request %s %v %v", col, known, err)
	}
	if _, err := c.Withdraw(ctx, payer); err == nil || !strings.Contains(err.Error(), "WithdrawalNotDue") {
		t.Fatalf("early withdrawal: %v", err)
	}
	if _, err := c.Withdraw(ctx, payee); err == nil {
		t.Fatal("the payee withdrew from the payer's vault")
	}
	n.Advance(24*time.Hour + time.Minute)
	if r, err = c.Withdraw(ctx, payer); err != nil {
		t.Fatal(err)
	}
	v.energy(t, "withdraw", r.TxID)
	// 100 − 10 − 20 deposited + 10 withdrawn; the vault keeps 5.5.
	if got := n.TRC20(token, payer.Address()); got.Cmp(btt(t, "80")) != 0 {
		t.Errorf("payer holds %s, want 80", got)
	}
	if st, _ := c.Vault(ctx, vault); st.Balance.Cmp(btt(t, "5.5")) != 0 || !st.Withdrawal.IsZero() {
		t.Errorf("vault after withdrawal %+v", st)
	}
	if _, _, known, _ := c.Collateral(ctx, payee.Address(), payer.Address()); known {
		t.Error("a payer without a vault has known collateral")
	}
}

// fundedVault gives the payer and each of others TRX for energy and the
// payer tokens BTT, creates the payer's vault and deposits deposit BTT
// into it; it returns the vault.
func (v *vaultNet) fundedVault(t *testing.T, payer *wallet.Key, tokens, deposit string, others ...*wallet.Key) wallet.Address {
	t.Helper()
	ctx := context.Background()
	for _, k := range append([]*wallet.Key{payer}, others...) {
		v.n.SetTRX(k.Address(), 10_000_000_000)
	}
	v.n.SetTRC20(token, payer.Address(), btt(t, tokens))
	vault, _, err := v.c.CreateVault(ctx, payer, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.c.Deposit(ctx, payer, btt(t, deposit)); err != nil {
		t.Fatal(err)
	}
	return vault
}
