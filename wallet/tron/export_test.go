package tron

import (
	"context"
	"math/big"

	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"

	"github.com/bidtorrent/bidtorrent/contracts"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// SignForTest exposes signTx to the external tests.
func SignForTest(k *wallet.Key, tx *core.Transaction) *core.Transaction {
	t, err := signTx(k, tx)
	if err != nil {
		panic(err)
	}
	return t
}

// CashUncheckedForTest sends a cash of ch to vault without our own
// checks, to show the vault's.
func CashUncheckedForTest(ctx context.Context, c *Chain, from *wallet.Key, vault wallet.Address, ch wallet.Cheque) (*core.TransactionInfo, error) {
	info, _, err := c.send(ctx, from, contracts.Vault, vault, "cash", evm(from.Address()), ch.Cumulative.Big(), ch.Signature[:])
	return info, err
}

// SendUncheckedForTest calls method of vault with args from from without
// our own checks, to show the vault's.
func SendUncheckedForTest(ctx context.Context, c *Chain, from *wallet.Key, vault wallet.Address, method string, args ...any) error {
	_, _, err := c.send(ctx, from, contracts.Vault, vault, method, args...)
	return err
}

// VaultBounced reads the vault's bounced[beneficiary]: what its last
// cash left unpaid.
func (c *Chain) VaultBounced(ctx context.Context, vault, beneficiary wallet.Address) (wallet.Amount, error) {
	out, err := c.constant(ctx, contracts.Vault, vault, "bounced", evm(beneficiary))
	if err != nil {
		return wallet.Amount{}, err
	}
	return wallet.AmountFromBig(out[0].(*big.Int))
}
