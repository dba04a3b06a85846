package wallet

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// fakeChain is a Chain + TrackedSender with function fields.
type fakeChain struct {
	send   func(to Address, amt Amount, record func(string, time.Time) error) (Receipt, error)
	status func(id string) (TxStatus, error)
}

func (f *fakeChain) Name() string    { return "fake" }
func (f *fakeChain) ChainID() uint64 { return ChainIDShasta }
func (f *fakeChain) Token() Address  { return MustParseAddress(DefaultBTTContract) }
func (f *fakeChain) Balance(context.Context, Address) (Balance, error) {
	return Balance{}, nil
}
func (f *fakeChain) Send(ctx context.Context, k *Key, to Address, a Amount) (Receipt, error) {
	return f.send(to, a, nil)
}
func (f *fakeChain) SendTracked(ctx context.Context, k *Key, to Address, a Amount, rec func(string, time.Time) error) (Receipt, error) {
	return f.send(to, a, rec)
}
func (f *fakeChain) TxStatus(ctx context.Context, id string) (TxStatus, error) { return f.status(id) }
func (f *fakeChain) Redeem(context.Context, Cheque) (Redemption, error) {
	return Redemption{}, ErrNotSupported
}
func (f *fakeChain) Faucet(context.Context, Address, Amount) error { return ErrNotSupported }

func TestSettlePendingStates(t *testing.T) {
	ctx := context.Background()
	book, err := OpenChequeBook(filepath.Join(t.TempDir(), "b.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	payee := testKey(t, 2).Address()
	var sent []string
	status := TxUnknown
	id := func(n int) string {
		return string(rune('a'+n)) + "000000000000000000000000000000000000000000000000000000000000000"[:63]
	}
	ch := &fakeChain{
		send: func(to Address, amt Amount, rec func(string, time.Time) error) (Receipt, error) {
			txid := id(len(sent))
			if err := rec(txid, time.Now().Add(-time.Hour)); err != nil { // already long expired
				return Receipt{}, err
			}
			sent = append(sent, amt.String())
			return Receipt{}, ErrTimeout // broadcast, outcome unknown
		},
		status: func(string) (TxStatus, error) { return status, nil },
	}
	w := New(testKey(t, 1), book, ch)
	if _, err := w.SignCheque(w.Token(), payee, NewAmount(100), w.ChainID()); err != nil {
		t.Fatal(err)
	}
	ss, _ := w.Settle(ctx)
	if len(ss) != 1 || !errors.Is(ss[0].Err, ErrTimeout) || len(sent) != 1 {
		t.Fatalf("first: %+v %v", ss, sent)
	}
	// Failed on chain: the pending record is dropped and payment retried.
	status = TxFailed
	ss, _ = w.Settle(ctx)
	if len(sent) != 2 || !errors.Is(ss[0].Err, ErrTimeout) {
		t.Fatalf("after failure: %+v %v", ss, sent)
	}
	// Unknown long past expiry: dropped as never mined, paid again.
	status = TxUnknown
	_, _ = w.Settle(ctx)
	if len(sent) != 3 {
		t.Fatalf("after expiry: %v", sent)
	}
	// Confirmed: recorded as settled, nothing more sent.
	status = TxConfirmed
	ss, _ = w.Settle(ctx)
	if len(sent) != 3 || len(ss) != 1 || ss[0].Err != nil || ss[0].TxID != id(2) || ss[0].Paid.String() != "100" {
		t.Fatalf("after confirmation: %+v %v", ss, sent)
	}
	if ss, _ = w.Settle(ctx); len(ss) != 0 {
		t.Errorf("settled twice: %+v", ss)
	}
	// A locked wallet cannot pay.
	if _, err := w.SignCheque(w.Token(), payee, NewAmount(150), w.ChainID()); err != nil {
		t.Fatal(err)
	}
	ro := NewWatchOnly(w.Address(), book, ch)
	if ss, _ = ro.Settle(ctx); len(ss) != 1 || !errors.Is(ss[0].Err, ErrNoKey) {
		t.Errorf("watch-only settle: %+v", ss)
	}
}
