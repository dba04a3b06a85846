package tron_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestThresholdSettlesOnce is issue 15 case 9: on TRON, received cheques
// are IOUs the payee cannot settle, so they never reach the threshold;
// issued cheques past it are paid once, and the balance refreshes after
// that (the engine calls SettleDue at each) settle nothing more. Before,
// the threshold counted received IOUs, so every refresh settled again.
func TestThresholdSettlesOnce(t *testing.T) {
	ctx := context.Background()
	n, c := setup(t)
	me, buyer, seller := key(t, 1), key(t, 3), key(t, 2).Address()
	n.SetTRX(me.Address(), 1_000_000_000)
	n.SetTRC20(token, me.Address(), btt(t, "10"))
	book, err := wallet.OpenChequeBook(filepath.Join(t.TempDir(), "me.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := wallet.New(me, book, c)
	threshold := btt(t, "1")
	// A buyer's IOUs far past the threshold: nothing to settle.
	ch, err := wallet.SignCheque(buyer, w.ChainID(), w.Token(), me.Address(), btt(t, "5"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AcceptCheque(ch); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, settled, err := w.SettleDue(ctx, threshold); err != nil || settled {
			t.Fatalf("refresh %d with received IOUs only: settled=%v %v", i, settled, err)
		}
	}
	// What we owe a seller passes it: paid once, not at every refresh.
	if _, err := w.SignCheque(w.Token(), seller, btt(t, "0.5"), w.ChainID()); err != nil {
		t.Fatal(err)
	}
	if _, settled, _ := w.SettleDue(ctx, threshold); settled {
		t.Fatal("settled below the threshold")
	}
	if _, err := w.SignCheque(w.Token(), seller, btt(t, "1.25"), w.ChainID()); err != nil {
		t.Fatal(err)
	}
	settlements := 0
	for i := 0; i < 10; i++ {
		ss, settled, err := w.SettleDue(ctx, threshold)
		if err != nil {
			t.Fatal(err)
		}
		if settled {
			settlements++
			for _, s := range ss {
				if s.Record.Direction == wallet.Issued && (s.Err != nil || s.Paid.Cmp(btt(t, "1.25")) != 0) {
					t.Errorf("settlement %+v", s)
				}
			}
		}
	}
	if settlements != 1 || n.Broadcasts() != 1 || n.TRC20(token, seller).Cmp(btt(t, "1.25")) != 0 {
		t.Errorf("%d settlements, %d transfers, seller holds %s", settlements, n.Broadcasts(), n.TRC20(token, seller))
	}
}
