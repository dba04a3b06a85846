package wallet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

// A buyer pays a seller with cumulative cheques on the local ledger: the
// buyer signs (and records) each new total, the seller accepts it
// (verified and fsynced before it answers with a RECEIPT), and either
// side settles. This is the flow the engine drives over btt_bid.
func Example() {
	dir, _ := os.MkdirTemp("", "wallet-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	token := wallet.MustParseAddress(wallet.DefaultBTTContract)
	ledger, _ := local.Open(filepath.Join(dir, "ledger.db"), token, time.Second)

	open := func(keyHex, book string) *wallet.Wallet {
		k, _ := wallet.KeyFromHex(keyHex)
		b, _ := wallet.OpenChequeBook(filepath.Join(dir, book), time.Second)
		return wallet.New(k, b, ledger)
	}
	buyer := open("24cbc3b1e4a2cd54242206c7c406e85528028e4489e50d20bb93f6b44e653076", "buyer.db")
	seller := open("0101010101010101010101010101010101010101010101010101010101010101", "seller.db")
	price, _ := wallet.ParseAmount("0.001", wallet.BTTDecimals) // per MiB
	_ = buyer.Faucet(ctx, wallet.NewAmount(1e18))

	var total wallet.Amount
	for mib := uint64(1); mib <= 3; mib++ {
		total, _ = price.MulDiv(mib, 1)
		c, err := buyer.SignCheque(buyer.Token(), seller.Address(), total, buyer.ChainID())
		if err != nil {
			panic(err)
		}
		delta, err := seller.AcceptCheque(c)
		if err != nil {
			panic(err)
		}
		fmt.Println("accepted", delta.Format(wallet.BTTDecimals), "BTT, total", c.Cumulative.Format(wallet.BTTDecimals))
	}
	ss, _ := seller.Settle(ctx)
	fmt.Println("settled", ss[0].Paid.Format(wallet.BTTDecimals), "BTT")
	b, _ := seller.Balance(ctx)
	fmt.Println("seller balance", b.Token.Format(wallet.BTTDecimals))
	// Output:
	// accepted 0.001 BTT, total 0.001
	// accepted 0.001 BTT, total 0.002
	// accepted 0.001 BTT, total 0.003
	// settled 0.003 BTT
	// seller balance 0.003
}
