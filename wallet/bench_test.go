package wallet

import (
	"path/filepath"
	"testing"
)

func BenchmarkChequeSign(b *testing.B) {
	k := testKey(b, 1)
	ben := testKey(b, 2).Address()
	tok := MustParseAddress(DefaultBTTContract)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := SignCheque(k, ChainIDMainnet, tok, ben, NewAmount(uint64(i)+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cheques/s")
}

func BenchmarkChequeVerify(b *testing.B) {
	k := testKey(b, 1)
	c, err := SignCheque(k, ChainIDMainnet, MustParseAddress(DefaultBTTContract), testKey(b, 2).Address(), NewAmount(1<<40))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Verify(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cheques/s")
}

// BenchmarkRecordReceived is verify + one fsynced cheque book transaction:
// the cost a seller pays per accepted cheque before sending a RECEIPT.
func BenchmarkRecordReceived(b *testing.B) {
	book, err := OpenChequeBook(filepath.Join(b.TempDir(), "book.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	k, me := testKey(b, 1), testKey(b, 2).Address()
	tok := MustParseAddress(DefaultBTTContract)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c, err := SignCheque(k, ChainIDLocal, tok, me, NewAmount(uint64(i)+1))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := book.RecordReceived(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cheques/s")
}
