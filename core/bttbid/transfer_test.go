package bttbid

import (
	"bytes"
	"errors"
	"testing"
)

// TestTransferCodec: TRANSFER round-trips, its bytes are the canonical
// dict, and a tx that is not 32 bytes (or missing) is ERROR 102.
func TestTransferCodec(t *testing.T) {
	var m Transfer
	for i := range m.TxID {
		m.TxID[i] = byte(i)
	}
	b, err := Encode(&m)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("d1:t8:transfer2:tx32:"), m.TxID[:]...), 'e')
	// keys sorted: "t" before "tx"
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded %q, want %q", b, want)
	}
	got, err := Decode(b)
	if err != nil || got.(*Transfer).TxID != m.TxID {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	for _, bad := range []string{"d1:t8:transfere", "d1:t8:transfer2:tx3:abce", "d1:t8:transfer2:txi5ee"} {
		var e *Error
		if _, err := Decode([]byte(bad)); !errors.As(err, &e) || e.Code != CodeInvalidField {
			t.Errorf("%q: %v, want invalid_field", bad, err)
		}
	}
	if CodeBadTransfer.String() != "bad_transfer" || CodeBadTransfer.Disables() {
		t.Errorf("code 410: %s disables=%v", CodeBadTransfer, CodeBadTransfer.Disables())
	}
}
