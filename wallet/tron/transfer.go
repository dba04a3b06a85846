package tron

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// topicTransfer is the TRC-20 Transfer(address,address,uint256) event.
var topicTransfer = crypto.Keccak256([]byte("Transfer(address,address,uint256)"))

var _ wallet.TransferChecker = (*Chain)(nil)

// Transferred returns what transaction txid moved of the configured token
// from from to to (PROTOCOL.md §11.2), asking the node for its receipt
// (GetTransactionInfoById): the transaction must be in a block and have
// succeeded, and the amount is the sum of the Transfer events the token
// contract logged from from to to. Events of any other contract (a
// look-alike token), another sender or recipient count nothing.
func (c *Chain) Transferred(ctx context.Context, txid string, from, to wallet.Address) (wallet.Amount, error) {
	rctx, cancel := c.rpcCtx(ctx)
	info, err := c.g.GetTransactionInfoByIDCtx(rctx, txid)
	cancel()
	switch {
	case err != nil && strings.Contains(err.Error(), "not found"):
		return wallet.Amount{}, fmt.Errorf("transaction %s: %w", txid, wallet.ErrTxUnknown)
	case err != nil:
		return wallet.Amount{}, c.mapErr("get transaction "+txid, err)
	case info.GetBlockNumber() <= 0:
		return wallet.Amount{}, fmt.Errorf("transaction %s is in no block: %w", txid, wallet.ErrTxUnknown)
	}
	if err := receiptErr(txid, info); err != nil {
		return wallet.Amount{}, fmt.Errorf("%v: %w", err, wallet.ErrBadTransfer)
	}
	var sum wallet.Amount
	for _, l := range info.GetLog() {
		t := l.GetTopics()
		if !sameAccount(l.GetAddress(), c.cfg.Token) || len(t) != 3 || !bytes.Equal(t[0], topicTransfer) ||
			!sameAccount(t[1], from) || !sameAccount(t[2], to) || len(l.GetData()) != 32 {
			continue
		}
		v, err := wallet.AmountFromBytes(l.GetData())
		if err != nil {
			continue
		}
		if sum, err = sum.Add(v); err != nil {
			return wallet.Amount{}, fmt.Errorf("transaction %s: %w", txid, err)
		}
	}
	if sum.IsZero() {
		return wallet.Amount{}, fmt.Errorf("transaction %s moved no %s from %s to %s: %w", txid, c.cfg.Token, from, to, wallet.ErrBadTransfer)
	}
	return sum, nil
}

// sameAccount reports whether b, a log's 20-byte address or a 32-byte
// topic holding one left-padded with zeros (TRON logs drop the 0x41
// prefix), is a.
func sameAccount(b []byte, a wallet.Address) bool {
	switch len(b) {
	case 32:
		if !bytes.Equal(b[:12], make([]byte, 12)) {
			return false
		}
		b = b[12:]
	case 21:
		if b[0] != wallet.AddressPrefix {
			return false
		}
		b = b[1:]
	}
	return len(b) == 20 && bytes.Equal(b, a[1:])
}
