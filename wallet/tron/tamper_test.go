package tron_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// trigger rewrites the TriggerSmartContract inside raw with f.
func trigger(t *testing.T, f func(*core.TriggerSmartContract)) func(*core.TransactionRaw) {
	return func(raw *core.TransactionRaw) {
		var tsc core.TriggerSmartContract
		if err := raw.Contract[0].Parameter.UnmarshalTo(&tsc); err != nil {
			t.Error(err)
			return
		}
		f(&tsc)
		p, err := anypb.New(&tsc)
		if err != nil {
			t.Error(err)
			return
		}
		raw.Contract[0].Parameter = p
	}
}

// TestRefusesTamperedTransactions is issue 15 case 8: a node (or anyone
// on a plaintext path to it) that builds another transaction than the
// transfer we asked for — another token, recipient or amount, call value,
// a second contract — gets nothing signed: the settlement fails with
// ErrUnexpectedTx, nothing is broadcast and nothing is recorded as paid
// or pending. Then the honest node's transfer goes through. Before, the
// wallet signed whatever the node built as long as the fee limit matched.
func TestRefusesTamperedTransactions(t *testing.T) {
	ctx := context.Background()
	n, c := setup(t)
	payer, payee, thief := key(t, 1), key(t, 2).Address(), key(t, 9).Address()
	other := key(t, 8).Address() // another TRC-20 the payer holds
	n.SetTRX(payer.Address(), 1_000_000_000)
	n.SetTRC20(token, payer.Address(), btt(t, "10"))
	n.SetTRC20(other, payer.Address(), btt(t, "10"))
	book, err := wallet.OpenChequeBook(filepath.Join(t.TempDir(), "p.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := wallet.New(payer, book, c)
	if _, err := w.SignCheque(w.Token(), payee, btt(t, "2"), w.ChainID()); err != nil {
		t.Fatal(err)
	}
	big := btt(t, "9").Bytes32()
	for _, tc := range []struct {
		name   string
		tamper func(*core.TransactionRaw)
	}{
		{"token contract swapped", trigger(t, func(c *core.TriggerSmartContract) { c.ContractAddress = other.Bytes() })},
		{"recipient swapped", trigger(t, func(c *core.TriggerSmartContract) { copy(c.Data[16:36], thief[1:]) })},
		{"amount raised", trigger(t, func(c *core.TriggerSmartContract) { copy(c.Data[36:68], big[:]) })},
		{"call value added", trigger(t, func(c *core.TriggerSmartContract) { c.CallValue = 5_000_000 })},
		{"TRC-10 call value added", trigger(t, func(c *core.TriggerSmartContract) { c.CallTokenValue, c.TokenId = 5, 1002000 })},
		{"another owner", trigger(t, func(c *core.TriggerSmartContract) { c.OwnerAddress = thief.Bytes() })},
		{"another method", trigger(t, func(c *core.TriggerSmartContract) { c.Data[0] ^= 1 })},
		{"second contract", func(raw *core.TransactionRaw) { raw.Contract = append(raw.Contract, raw.Contract[0]) }},
		{"contract type", func(raw *core.TransactionRaw) { raw.Contract[0].Type = core.Transaction_Contract_TransferContract }},
		{"permission id", func(raw *core.TransactionRaw) { raw.Contract[0].PermissionId = 2 }},
		{"memo", func(raw *core.TransactionRaw) { raw.Data = []byte("hi") }},
		{"expires in a week", func(raw *core.TransactionRaw) { raw.Expiration = time.Now().Add(7 * 24 * time.Hour).UnixMilli() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.SetTamper(tc.tamper)
			defer n.SetTamper(nil)
			ss, err := w.Settle(ctx)
			if err != nil || len(ss) != 1 || !errors.Is(ss[0].Err, wallet.ErrUnexpectedTx) || !ss[0].Paid.IsZero() {
				t.Fatalf("settle: %+v %v", ss, err)
			}
			t.Log(ss[0].Err)
			if n.Broadcasts() != 0 {
				t.Fatalf("%d transactions broadcast", n.Broadcasts())
			}
			r, _, _ := w.Highest(wallet.Issued, payee)
			if !r.Settled.IsZero() || r.Pending != nil {
				t.Fatalf("recorded as paid or pending: %+v", r)
			}
		})
	}
	for _, a := range []wallet.Address{payee, thief} {
		if !n.TRC20(token, a).IsZero() || !n.TRC20(other, a).IsZero() {
			t.Fatalf("%s was paid", a)
		}
	}
	// The honest node's transfer is signed and pays exactly the cheque.
	ss, err := w.Settle(ctx)
	if err != nil || len(ss) != 1 || ss[0].Err != nil || ss[0].Paid.Cmp(btt(t, "2")) != 0 {
		t.Fatalf("honest settle: %+v %v", ss, err)
	}
	if n.Broadcasts() != 1 || n.TRC20(token, payee).Cmp(btt(t, "2")) != 0 || n.TRC20(token, payer.Address()).Cmp(btt(t, "8")) != 0 {
		t.Errorf("broadcasts %d, payee %s, payer %s", n.Broadcasts(), n.TRC20(token, payee), n.TRC20(token, payer.Address()))
	}
}
