package tron

import (
	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"

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
