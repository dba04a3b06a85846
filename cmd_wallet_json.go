package main

import "github.com/bidtorrent/bidtorrent/internal/walletjson"

// The JSON the wallet verbs print with --json (see runWallet): the same
// shapes the daemon's `wallet` remote commands print.

type (
	amountJSON     = walletjson.Amount
	addressJSON    = walletjson.Address
	receiptJSON    = walletjson.Receipt
	settlementJSON = walletjson.Settlement
	balanceJSON    = walletjson.Balance
	recordJSON     = walletjson.Record
	chequeJSON     = walletjson.Cheque
)

var (
	printJSON  = walletjson.Print
	amountOut  = walletjson.AmountOf
	chequeOut  = walletjson.ChequeOf
	receiptOut = walletjson.ReceiptOf
)
