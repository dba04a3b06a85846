package core

import (
	"testing"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// chequesOnly is a Wallet whose cheque book holds rs; unsettled needs
// nothing else.
type chequesOnly struct {
	Wallet
	rs []wallet.Record
}

func (w chequesOnly) Cheques() ([]wallet.Record, error) { return w.rs, nil }

// TestUnsettledKeepsEveryPayer is the attack on the unsettled total: a
// payer signs a cheque for 2^256 − 2 after an honest payer's 2. Summed
// with the old addAmount (which dropped the addend that overflowed) the
// total was 2, the attacker's cheque vanished from it, and the other
// order gave 2^256 − 2, the honest payer's cheque vanished. It saturates
// now, as the market's sums do: at the ceiling in either order.
func TestUnsettledKeepsEveryPayer(t *testing.T) {
	honest, attacker := wallet.Address{1}, wallet.Address{2}
	big := wallet.MaxAmount().SubFloor(wallet.NewAmount(1))
	rec := func(from wallet.Address, a wallet.Amount) wallet.Record {
		return wallet.Record{Direction: wallet.Received, Counterparty: from, Cheque: wallet.Cheque{Cumulative: a}}
	}
	for _, rs := range [][]wallet.Record{
		{rec(honest, wallet.NewAmount(2)), rec(attacker, big)},
		{rec(attacker, big), rec(honest, wallet.NewAmount(2))},
	} {
		sum, by, err := unsettled(chequesOnly{rs: rs})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Cmp(wallet.MaxAmount()) != 0 {
			t.Errorf("unsettled total = %s, want 2^256-1 (saturated, no cheque dropped)", sum)
		}
		if by[honest].String() != "2" || by[attacker].Cmp(big) != 0 {
			t.Errorf("by payer = %v", by)
		}
	}
}
