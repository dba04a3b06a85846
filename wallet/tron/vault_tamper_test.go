package tron_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// TestVaultRefusesTampered (issue 16 item 5): every vault transaction is
// checked against the one we built before signing. A node that rewrites
// any of them — the factory's bytecode, or the call data of create,
// approve + deposit, withdraw, unreserve, reserve, requestWithdrawal,
// requestUnreserve and cash — gets nothing signed: each fails
// with ErrUnexpectedTx, nothing is broadcast and the vault and balances
// do not move. The honest node then runs the same calls.
func TestVaultRefusesTampered(t *testing.T) {
	ctx := context.Background()
	v := newVaultNet(t, false)
	n, c := v.n, v.c
	payer, payee, fresh, deployer := key(t, 1), key(t, 2), key(t, 3), key(t, 50)
	vault := v.fundedVault(t, payer, "100", "10", payee, fresh)
	if _, err := c.Reserve(ctx, payer, payee.Address(), btt(t, "4")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestWithdrawal(ctx, payer, btt(t, "1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestUnreserve(ctx, payer, payee.Address(), btt(t, "1")); err != nil {
		t.Fatal(err)
	}
	n.Advance(24*time.Hour + time.Minute) // the withdrawal and the lowering are due
	ch, err := wallet.SignVaultCheque(payer, wallet.ChainIDNile, vault, token, payee.Address(), btt(t, "2"))
	if err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		do   func() error
	}{
		{"deploy factory", func() error {
			_, _, err := dial(t, n.Addr(), tron.Config{FeeLimitSun: vaultFeeLimit}).DeployFactory(ctx, deployer)
			return err
		}},
		{"create vault", func() error { _, _, err := c.CreateVault(ctx, fresh, 24*time.Hour); return err }},
		{"deposit", func() error { _, err := c.Deposit(ctx, payer, btt(t, "1")); return err }},
		{"withdraw", func() error { _, err := c.Withdraw(ctx, payer); return err }},
		{"reserve", func() error { _, err := c.Reserve(ctx, payer, payee.Address(), btt(t, "1")); return err }},
		{"unreserve", func() error { _, err := c.Unreserve(ctx, payer, payee.Address()); return err }},
		{"request withdrawal", func() error { _, err := c.RequestWithdrawal(ctx, payer, btt(t, "2")); return err }},
		{"request unreserve", func() error { _, err := c.RequestUnreserve(ctx, payer, payee.Address(), btt(t, "2")); return err }},
		{"cash", func() error { _, err := c.Cash(ctx, payee, ch); return err }},
	}
	state := func() string {
		st, err := c.Vault(ctx, vault)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Reservation(ctx, vault, payee.Address())
		if err != nil {
			t.Fatal(err)
		}
		return st.Balance.String() + " " + st.Unreserved.String() + " " + r.Amount.String() + " " + r.Decrease.String() + " " +
			n.TRC20(token, payer.Address()).String() + " " + n.TRC20(token, payee.Address()).String()
	}
	was, before := state(), n.Broadcasts()
	n.SetTamper(rewrite(t))
	for _, op := range ops {
		if err := op.do(); !errors.Is(err, wallet.ErrUnexpectedTx) {
			t.Errorf("%s on a tampering node: %v, want ErrUnexpectedTx", op.name, err)
		}
	}
	n.SetTamper(nil)
	if got := n.Broadcasts() - before; got != 0 {
		t.Fatalf("%d tampered transactions were broadcast", got)
	}
	if now := state(); now != was {
		t.Fatalf("the vault moved under tampered transactions: %s, was %s", now, was)
	}
	if _, err := c.VaultOf(ctx, fresh.Address()); !errors.Is(err, tron.ErrNoVault) {
		t.Fatalf("a vault was made by a tampered create: %v", err)
	}
	// The same calls on the honest node.
	for _, op := range ops {
		if err := op.do(); err != nil {
			t.Errorf("%s on the honest node: %v", op.name, err)
		}
	}
	if got := n.TRC20(token, payee.Address()); got.Cmp(btt(t, "2")) != 0 {
		t.Fatalf("payee cashed %s, want 2", got)
	}
}

// rewrite changes every transaction the node builds a little: the last
// byte of a contract call's data, or of a deployment's bytecode.
func rewrite(t *testing.T) func(*core.TransactionRaw) {
	return func(raw *core.TransactionRaw) {
		p := raw.Contract[0].Parameter
		var tsc core.TriggerSmartContract
		if p.UnmarshalTo(&tsc) == nil {
			tsc.Data[len(tsc.Data)-1] ^= 1
			raw.Contract[0].Parameter = mustAny(t, &tsc)
			return
		}
		var csc core.CreateSmartContract
		if err := p.UnmarshalTo(&csc); err != nil {
			t.Errorf("an unexpected contract %s", p.GetTypeUrl())
			return
		}
		b := csc.NewContract.Bytecode
		b[len(b)-1] ^= 1
		raw.Contract[0].Parameter = mustAny(t, &csc)
	}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		t.Error(err)
	}
	return a
}
