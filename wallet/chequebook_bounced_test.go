package wallet

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bidtorrent/bidtorrent/wallet/internal/boltfile"
)

// TestChequeBookBounced (issue 16 item 4): a received vault cheque's
// record keeps what the last cash left bounced, written with the settled
// total in one transaction; a record written before the field existed
// (the old layout, with and without a pending cash) opens with zero
// bounced; a record without bounced is still written in the old layout.
func TestChequeBookBounced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.db")
	book, err := OpenChequeBook(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	payer, me := testKey(t, 1), testKey(t, 2)
	tok, vault := MustParseAddress(DefaultBTTContract), MustParseAddress("TGkWdpawVNfeset3P6uTBbLaPY7nZVZvXY")
	ch, err := SignVaultCheque(payer, ChainIDNile, vault, tok, me.Address(), NewAmount(8))
	if err != nil {
		t.Fatal(err)
	}
	key := recordKey(Received, ChainIDNile, tok, payer.Address())
	raw := func() []byte {
		t.Helper()
		var v []byte
		if err := boltfile.View(path, 0, func(tx *bolt.Tx) error {
			v = append([]byte(nil), tx.Bucket(bucketCheques).Get(key)...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	put := func(v []byte) {
		t.Helper()
		if err := boltfile.Update(path, 0, func(tx *bolt.Tx) error { return tx.Bucket(bucketCheques).Put(key, v) }); err != nil {
			t.Fatal(err)
		}
	}
	get := func() Record {
		t.Helper()
		r, ok, err := book.Highest(Received, ChainIDNile, tok, payer.Address())
		if err != nil || !ok {
			t.Fatalf("highest: %v %v", ok, err)
		}
		return r
	}

	// The old layout, built by hand as the code before this field wrote
	// it: cheque ‖ settled ‖ updated ‖ [txid ‖ target ‖ expires] ‖ vault.
	m, _ := ch.MarshalBinary()
	old := append([]byte(nil), m[:ChequeSize]...)
	settled := NewAmount(5).Bytes32()
	old = append(old, settled[:]...)
	old = binary.BigEndian.AppendUint64(old, uint64(time.Now().UnixNano()))
	withPending := append([]byte(nil), old...)
	withPending = append(withPending, make([]byte, 32)...)
	target := NewAmount(8).Bytes32()
	withPending = append(withPending, target[:]...)
	withPending = binary.BigEndian.AppendUint64(withPending, uint64(time.Now().Add(time.Minute).UnixNano()))
	old = append(old, vault[:]...)
	withPending = append(withPending, vault[:]...)
	put(old)
	if r := get(); r.Cheque.Vault != vault || r.Settled.String() != "5" || !r.Bounced.IsZero() || r.Pending != nil {
		t.Fatalf("old record read as %+v", r)
	}
	put(withPending)
	if r := get(); r.Cheque.Vault != vault || r.Settled.String() != "5" || !r.Bounced.IsZero() || r.Pending == nil || r.Pending.Target.String() != "8" {
		t.Fatalf("old pending record read as %+v", r)
	}
	if err := book.Check(); err != nil {
		t.Fatal(err)
	}

	// A cash paying 2 of the 3 owed: bounced 1, pending ended, in one write.
	txid := strings.Repeat("00", 32)
	if err := book.SetCashed(ChainIDNile, tok, payer.Address(), NewAmount(7), NewAmount(1), txid); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Settled.String() != "7" || r.Bounced.String() != "1" || r.Pending != nil {
		t.Fatalf("after a short cash: %+v", r)
	}
	if n := len(raw()); n != recordSize+21+32 {
		t.Fatalf("record with bounced is %d bytes", n)
	}
	// Pending and bounced together survive a round trip.
	if err := book.BeginPending(Received, ChainIDNile, tok, payer.Address(), NewAmount(7), Pending{TxID: strings.Repeat("ab", 32), Target: NewAmount(8), Expires: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Bounced.String() != "1" || r.Pending == nil || r.Cheque.Vault != vault || len(raw()) != recordSize+pendingSize+21+32 {
		t.Fatalf("pending with bounced: %+v (%d bytes)", r, len(raw()))
	}
	// A higher cheque keeps what the vault recorded as bounced.
	ch2, err := SignVaultCheque(payer, ChainIDNile, vault, tok, me.Address(), NewAmount(10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := book.RecordReceived(ch2); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Bounced.String() != "1" || r.Unsettled().String() != "3" {
		t.Fatalf("after a higher cheque: %+v", r)
	}
	// A bounced amount is never more than what is unsettled.
	if err := book.SetCashed(ChainIDNile, tok, payer.Address(), NewAmount(9), NewAmount(5), strings.Repeat("ab", 32)); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Settled.String() != "9" || r.Bounced.String() != "1" || r.Pending != nil {
		t.Fatalf("capped: %+v", r)
	}
	// A cash paying the rest clears it, and the record is in the old layout again.
	if err := book.SetCashed(ChainIDNile, tok, payer.Address(), NewAmount(10), Amount{}, txid); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.Settled.String() != "10" || !r.Bounced.IsZero() || len(raw()) != recordSize+21 {
		t.Fatalf("after paying the rest: %+v (%d bytes)", r, len(raw()))
	}
	// Settling the rest by any path clears a bounced amount.
	if err := book.SetCashed(ChainIDNile, tok, payer.Address(), NewAmount(10), NewAmount(1), txid); err != nil {
		t.Fatal(err)
	}
	if r := get(); !r.Bounced.IsZero() {
		t.Fatalf("bounced %s on a settled cheque", r.Bounced)
	}

	// Only a received vault cheque has a bounced amount.
	plain, err := SignCheque(me, ChainIDNile, tok, payer.Address(), NewAmount(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := book.RecordReceived(plain); err != nil {
		t.Fatal(err)
	}
	if err := book.SetCashed(ChainIDNile, tok, me.Address(), NewAmount(1), NewAmount(1), txid); err == nil {
		t.Fatal("SetCashed on a plain cheque succeeded")
	}
	if err := book.Check(); err != nil {
		t.Fatal(err)
	}
}
