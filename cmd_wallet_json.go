package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// The JSON the wallet verbs print with --json (see runWallet).

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// amountJSON is an amount in base units and formatted with its decimals.
type amountJSON struct {
	BaseUnits string `json:"base_units"`
	Value     string `json:"value"`
}

func amountOut(a wallet.Amount, decimals int) amountJSON {
	return amountJSON{BaseUnits: a.String(), Value: a.Format(decimals)}
}

type addressJSON struct {
	Address  string `json:"address"`
	Hex      string `json:"hex"`
	Keystore string `json:"keystore,omitempty"`
}

type balanceJSON struct {
	Address string     `json:"address"`
	Chain   string     `json:"chain"`
	ChainID uint64     `json:"chain_id"`
	Token   string     `json:"token"`
	BTT     amountJSON `json:"btt"`
	TRX     amountJSON `json:"trx"`
	BTT10   amountJSON `json:"btt_trc10"`
}

type receiptJSON struct {
	TxID   string     `json:"txid"`
	From   string     `json:"from"`
	To     string     `json:"to"`
	Amount amountJSON `json:"amount"`
	Block  int64      `json:"block,omitempty"`
}

type recordJSON struct {
	Direction    string     `json:"direction"`
	Counterparty string     `json:"counterparty"`
	ChainID      uint64     `json:"chain_id"`
	Token        string     `json:"token"`
	Cumulative   amountJSON `json:"cumulative"`
	Settled      amountJSON `json:"settled"`
	Unsettled    amountJSON `json:"unsettled"`
	Signature    string     `json:"signature"`
	Updated      time.Time  `json:"updated"`
}

func recordOut(r wallet.Record) recordJSON {
	return recordJSON{
		Direction: r.Direction.String(), Counterparty: r.Counterparty.String(),
		ChainID: r.Cheque.ChainID, Token: r.Cheque.Token.String(),
		Cumulative: amountOut(r.Cheque.Cumulative, wallet.BTTDecimals),
		Settled:    amountOut(r.Settled, wallet.BTTDecimals),
		Unsettled:  amountOut(r.Unsettled(), wallet.BTTDecimals),
		Signature:  r.Cheque.Signature.String(), Updated: r.Updated.UTC(),
	}
}

type settlementJSON struct {
	Direction    string     `json:"direction"`
	Counterparty string     `json:"counterparty"`
	Cumulative   amountJSON `json:"cumulative"`
	Paid         amountJSON `json:"paid"`
	Settled      amountJSON `json:"settled"`
	Shortfall    amountJSON `json:"shortfall"`
	TxID         string     `json:"txid,omitempty"`
	Error        string     `json:"error,omitempty"`
}

type chequeJSON struct {
	ChainID         uint64 `json:"chain_id"`
	Token           string `json:"token"`
	Payer           string `json:"payer"`
	Beneficiary     string `json:"beneficiary"`
	Cumulative      string `json:"cumulative"`
	DomainSeparator string `json:"domain_separator"`
	StructHash      string `json:"struct_hash"`
	Digest          string `json:"digest"`
	Signature       string `json:"signature"`
	Valid           *bool  `json:"valid,omitempty"`
	Error           string `json:"error,omitempty"`
}

func chequeOut(ch wallet.Cheque) chequeJSON {
	ds, sh, dg := wallet.ChequeDomainSeparator(ch.ChainID), ch.StructHash(), ch.Digest()
	return chequeJSON{
		ChainID: ch.ChainID, Token: ch.Token.String(), Payer: ch.Payer.String(), Beneficiary: ch.Beneficiary.String(),
		Cumulative: ch.Cumulative.String(), DomainSeparator: "0x" + fmt.Sprintf("%x", ds), StructHash: "0x" + fmt.Sprintf("%x", sh),
		Digest: "0x" + fmt.Sprintf("%x", dg), Signature: ch.Signature.String(),
	}
}
