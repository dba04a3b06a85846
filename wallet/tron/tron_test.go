package tron_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/fbsobreira/gotron-sdk/pkg/client"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/api"
	"google.golang.org/grpc/credentials/insecure"

	"google.golang.org/grpc"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

var token = wallet.MustParseAddress(wallet.DefaultBTTContract)

func key(t testing.TB, b byte) *wallet.Key {
	t.Helper()
	raw := make([]byte, 32)
	raw[0], raw[31] = 2, b
	k, err := wallet.KeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func btt(t testing.TB, s string) wallet.Amount {
	a, err := wallet.ParseAmount(s, wallet.BTTDecimals)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const feeLimit = 20_000_000 // 20 TRX

func setup(t *testing.T) (*faketron.Node, *tron.Chain) {
	t.Helper()
	n, err := faketron.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	n.AddContract(token)
	c := dial(t, n.Addr(), tron.Config{})
	return n, c
}

func dial(t *testing.T, addr string, over tron.Config) *tron.Chain {
	t.Helper()
	cfg := tron.Config{
		Network: "nile", ChainID: wallet.ChainIDNile, Endpoint: addr, Plaintext: true, APIKey: "test-api-key",
		Token: token, FeeLimitSun: feeLimit, RPCTimeout: 2 * time.Second,
		ConfirmTimeout: 5 * time.Second, PollInterval: 10 * time.Millisecond,
	}
	if over.RPCTimeout != 0 {
		cfg.RPCTimeout = over.RPCTimeout
	}
	if over.ConfirmTimeout != 0 {
		cfg.ConfirmTimeout = over.ConfirmTimeout
	}
	if !over.Token.IsZero() {
		cfg.Token = over.Token
	}
	cfg.Factory, cfg.FreeShare = over.Factory, over.FreeShare
	if over.FeeLimitSun != 0 {
		cfg.FeeLimitSun = over.FeeLimitSun
	}
	c, err := tron.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestBalance(t *testing.T) {
	n, c := setup(t)
	ctx := context.Background()
	a := key(t, 1).Address()
	n.SetTRX(a, 12_345_678)
	n.SetTRC10(tron.BTT10ID, a, 5_000_000)
	n.SetTRC20(token, a, btt(t, "1.048576"))
	b, err := c.Balance(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if b.TRX.Format(wallet.TRXDecimals) != "12.345678" || b.BTT10.Format(wallet.BTT10Decimals) != "5" || b.Token.Format(wallet.BTTDecimals) != "1.048576" {
		t.Errorf("balance %+v", b)
	}
	// An account the chain has never seen has nothing.
	b, err = c.Balance(ctx, key(t, 2).Address())
	if err != nil || !b.TRX.IsZero() || !b.Token.IsZero() || !b.BTT10.IsZero() {
		t.Errorf("unknown account: %+v %v", b, err)
	}
	if ks := n.APIKeys(); len(ks) == 0 || ks[0] != "test-api-key" {
		t.Errorf("API key not sent: %v", ks)
	}
	// A token address that is no contract is a bad address.
	bad := dial(t, n.Addr(), tron.Config{Token: key(t, 3).Address()})
	if _, err := bad.Balance(ctx, a); !errors.Is(err, wallet.ErrBadAddress) {
		t.Errorf("non-contract token: %v", err)
	}
}

func TestSend(t *testing.T) {
	n, c := setup(t)
	ctx := context.Background()
	from, to := key(t, 1), key(t, 2).Address()
	n.SetTRX(from.Address(), 100_000_000)
	n.SetTRC20(token, from.Address(), btt(t, "10"))
	r, err := c.Send(ctx, from, to, btt(t, "2.5"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.TxID) != 64 || r.Block == 0 {
		t.Errorf("receipt %+v", r)
	}
	if got := n.TRC20(token, to).Format(wallet.BTTDecimals); got != "2.5" {
		t.Errorf("recipient holds %s", got)
	}
	if got := n.TRC20(token, from.Address()).Format(wallet.BTTDecimals); got != "7.5" {
		t.Errorf("sender holds %s", got)
	}
	if n.LastFeeLimit() != feeLimit {
		t.Errorf("fee limit %d, want %d", n.LastFeeLimit(), feeLimit)
	}
	info, err := n.Receipt(r.TxID)
	if err != nil || info.GetBlockNumber() != r.Block {
		t.Fatalf("node receipt %v %v", info, err)
	}
	energy := info.GetReceipt().GetEnergyUsageTotal()
	if energy < 20_000 || info.GetFee() != energy*faketron.EnergyPriceSun || n.TRX(from.Address()) != 100_000_000-info.GetFee() {
		t.Errorf("energy %d, fee %d, TRX after fee: %d", energy, info.GetFee(), n.TRX(from.Address()))
	}
	t.Logf("TRC-20 transfer: %d energy, %d sun", energy, info.GetFee())
}

func TestSendFaults(t *testing.T) {
	ctx := context.Background()
	n, c := setup(t)
	from, to := key(t, 1), key(t, 2).Address()
	n.SetTRX(from.Address(), 100_000_000)
	n.SetTRC20(token, from.Address(), btt(t, "10"))

	t.Run("insufficient balance", func(t *testing.T) {
		_, err := c.Send(ctx, from, to, btt(t, "11"))
		if !errors.Is(err, wallet.ErrInsufficientFunds) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("insufficient energy (no TRX to burn)", func(t *testing.T) {
		poor := key(t, 5)
		n.SetTRC20(token, poor.Address(), btt(t, "1"))
		n.SetTRX(poor.Address(), 1_000_000)
		_, err := c.Send(ctx, poor, to, btt(t, "1"))
		if !errors.Is(err, wallet.ErrInsufficientEnergy) {
			t.Errorf("got %v", err)
		}
		if n.TRC20(token, poor.Address()).Cmp(btt(t, "1")) != 0 {
			t.Errorf("failed transfer moved tokens")
		}
	})
	for _, f := range []struct {
		name  string
		fault faketron.Fault
		want  error
		cfg   tron.Config
	}{
		{"out of energy", faketron.OutOfEnergy, wallet.ErrInsufficientEnergy, tron.Config{}},
		{"duplicate", faketron.DuplicateTx, wallet.ErrDuplicateTx, tron.Config{}},
		{"bad address", faketron.BadAddress, wallet.ErrBadAddress, tron.Config{}},
		{"unavailable", faketron.Unavailable, wallet.ErrUnreachable, tron.Config{}},
		{"hang", faketron.Hang, wallet.ErrTimeout, tron.Config{RPCTimeout: 200 * time.Millisecond}},
		{"never confirms", faketron.NeverConfirm, wallet.ErrTimeout, tron.Config{ConfirmTimeout: 300 * time.Millisecond}},
	} {
		t.Run(f.name, func(t *testing.T) {
			cc := dial(t, n.Addr(), f.cfg)
			before := n.TRC20(token, to)
			n.SetFault(f.fault)
			defer n.SetFault(faketron.NoFault)
			_, err := cc.Send(ctx, from, to, btt(t, "1"))
			if !errors.Is(err, f.want) {
				t.Fatalf("got %v, want %v", err, f.want)
			}
			if f.fault != faketron.NeverConfirm && n.TRC20(token, to).Cmp(before) != 0 {
				t.Errorf("a failed send moved tokens")
			}
			t.Logf("%s: %v", f.name, err)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cc := dial(t, addr, tron.Config{})
		if _, err := cc.Balance(ctx, to); !errors.Is(err, wallet.ErrUnreachable) {
			t.Errorf("balance: %v", err)
		}
		if _, err := cc.Send(ctx, from, to, btt(t, "1")); !errors.Is(err, wallet.ErrUnreachable) {
			t.Errorf("send: %v", err)
		}
	})
	t.Run("bad recipient", func(t *testing.T) {
		if _, err := c.Send(ctx, from, wallet.Address{}, btt(t, "1")); !errors.Is(err, wallet.ErrBadAddress) {
			t.Errorf("got %v", err)
		}
	})
}

// TestNodeVerifiesSignatures drives the fake node with the SDK client
// directly: a transfer signed by someone other than its owner is refused,
// and the same signed transaction cannot be broadcast twice.
func TestNodeVerifiesSignatures(t *testing.T) {
	n, _ := setup(t)
	owner, thief := key(t, 1), key(t, 9)
	n.SetTRX(owner.Address(), 100_000_000)
	n.SetTRC20(token, owner.Address(), btt(t, "3"))
	g := client.NewGrpcClientWithTimeout(n.Addr(), 2*time.Second)
	if err := g.Start(grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	build := func() *api.TransactionExtention {
		ext, err := g.TRC20Send(owner.Address().String(), thief.Address().String(), token.String(), btt(t, "1").Big(), feeLimit)
		if err != nil {
			t.Fatal(err)
		}
		return ext
	}
	ext := build()
	if _, err := g.Broadcast(tron.SignForTest(thief, ext.Transaction)); err == nil {
		t.Fatal("transaction signed by a non-owner accepted")
	}
	ext = build()
	tx := tron.SignForTest(owner, ext.Transaction)
	if _, err := g.Broadcast(tx); err != nil {
		t.Fatal(err)
	}
	res, err := g.Broadcast(tx)
	if err == nil || res.GetCode() != api.Return_DUP_TRANSACTION_ERROR {
		t.Fatalf("second broadcast: %v %v", res, err)
	}
	if n.Broadcasts() != 1 || n.TRC20(token, thief.Address()).Cmp(btt(t, "1")) != 0 {
		t.Errorf("broadcasts %d, thief holds %s", n.Broadcasts(), n.TRC20(token, thief.Address()))
	}
}

// TestWalletSettleTron: on TRON the payer settles issued cheques by
// transfer; received cheques wait for their payer.
func TestWalletSettleTron(t *testing.T) {
	ctx := context.Background()
	n, c := setup(t)
	payer, payee := key(t, 1), key(t, 2)
	n.SetTRX(payer.Address(), 100_000_000)
	n.SetTRC20(token, payer.Address(), btt(t, "5"))
	book := func(name string) *wallet.ChequeBook {
		b, err := wallet.OpenChequeBook(filepath.Join(t.TempDir(), name), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pw := wallet.New(payer, book("p.db"), c)
	sw := wallet.New(payee, book("s.db"), c)
	for _, v := range []string{"0.5", "1.25"} {
		ch, err := pw.SignCheque(pw.Token(), payee.Address(), btt(t, v), pw.ChainID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sw.AcceptCheque(ch); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := sw.Settle(ctx)
	if err != nil || len(ss) != 1 || !errors.Is(ss[0].Err, wallet.ErrNotSupported) {
		t.Fatalf("payee settle: %+v %v", ss, err)
	}
	ps, err := pw.Settle(ctx)
	if err != nil || len(ps) != 1 || ps[0].Err != nil || ps[0].Paid.Cmp(btt(t, "1.25")) != 0 {
		t.Fatalf("payer settle: %+v %v", ps, err)
	}
	if got := n.TRC20(token, payee.Address()); got.Cmp(btt(t, "1.25")) != 0 {
		t.Errorf("payee holds %s", got)
	}
	// Another cheque: only the difference is paid.
	if _, err := pw.SignCheque(pw.Token(), payee.Address(), btt(t, "2"), pw.ChainID()); err != nil {
		t.Fatal(err)
	}
	ps, _ = pw.Settle(ctx)
	if len(ps) != 1 || ps[0].Paid.Cmp(btt(t, "0.75")) != 0 {
		t.Fatalf("second settle: %+v", ps)
	}
	if got := n.TRC20(token, payee.Address()); got.Cmp(btt(t, "2")) != 0 {
		t.Errorf("payee holds %s", got)
	}
	if ps, _ = pw.Settle(ctx); len(ps) != 0 {
		t.Errorf("nothing left to settle, got %+v", ps)
	}
}

// TestSettleNeverPaysTwice: the payer's settlement transfer lands but its
// confirmation is lost (as if the process died before recording it). The
// next Settle finds the pending transaction on chain instead of paying
// again.
func TestSettleNeverPaysTwice(t *testing.T) {
	ctx := context.Background()
	n, _ := setup(t)
	c := dial(t, n.Addr(), tron.Config{ConfirmTimeout: 200 * time.Millisecond})
	payer, payee := key(t, 1), key(t, 2).Address()
	n.SetTRX(payer.Address(), 100_000_000)
	n.SetTRC20(token, payer.Address(), btt(t, "5"))
	book, err := wallet.OpenChequeBook(filepath.Join(t.TempDir(), "p.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pw := wallet.New(payer, book, c)
	if _, err := pw.SignCheque(pw.Token(), payee, btt(t, "2"), pw.ChainID()); err != nil {
		t.Fatal(err)
	}
	n.SetFault(faketron.NeverConfirm)
	ss, _ := pw.Settle(ctx)
	if len(ss) != 1 || !errors.Is(ss[0].Err, wallet.ErrTimeout) {
		t.Fatalf("first settle: %+v", ss)
	}
	r, _, _ := pw.Highest(wallet.Issued, payee)
	if r.Pending == nil || r.Pending.Target.Cmp(btt(t, "2")) != 0 || !r.Settled.IsZero() {
		t.Fatalf("no pending settlement recorded: %+v", r)
	}
	// Still unknown and not expired: Settle waits instead of paying again.
	ss, _ = pw.Settle(ctx)
	if len(ss) != 1 || !errors.Is(ss[0].Err, wallet.ErrPending) {
		t.Fatalf("second settle: %+v", ss)
	}
	n.SetFault(faketron.NoFault)
	ss, _ = pw.Settle(ctx)
	if len(ss) != 1 || ss[0].Err != nil || ss[0].TxID != r.Pending.TxID || ss[0].Paid.Cmp(btt(t, "2")) != 0 {
		t.Fatalf("third settle: %+v", ss)
	}
	if n.Broadcasts() != 1 || n.TRC20(token, payee).Cmp(btt(t, "2")) != 0 {
		t.Errorf("broadcasts %d, payee holds %s", n.Broadcasts(), n.TRC20(token, payee))
	}
	r, _, _ = pw.Highest(wallet.Issued, payee)
	if r.Pending != nil || r.Settled.Cmp(btt(t, "2")) != 0 {
		t.Errorf("record after settle %+v", r)
	}
}
