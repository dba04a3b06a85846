// Package walletjson is the JSON the wallet commands print with --json,
// the same from the local CLI (bidtorrent wallet ...) and over SSH from
// the daemon (ssh HOST wallet ...), so scripts read one shape. Amounts are
// objects {base_units, value}: an integer string in base units and the
// same with the token's decimals.
package walletjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Print writes v as indented JSON.
func Print(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Amount is an amount in base units and formatted with its decimals.
type Amount struct {
	BaseUnits string `json:"base_units"`
	Value     string `json:"value"`
}

// AmountOf is a with its decimals.
func AmountOf(a wallet.Amount, decimals int) Amount {
	return Amount{BaseUnits: a.String(), Value: a.Format(decimals)}
}

// Address is a wallet address.
type Address struct {
	Address  string `json:"address"`
	Hex      string `json:"hex"`
	Keystore string `json:"keystore,omitempty"`
}

// Balance is `wallet balance`.
type Balance struct {
	Address string `json:"address"`
	Chain   string `json:"chain"`
	ChainID uint64 `json:"chain_id"`
	Token   string `json:"token"`
	BTT     Amount `json:"btt"`
	TRX     Amount `json:"trx"`
	BTT10   Amount `json:"btt_trc10"`
}

// Receipt is `wallet send`.
type Receipt struct {
	TxID   string `json:"txid"`
	From   string `json:"from"`
	To     string `json:"to"`
	Amount Amount `json:"amount"`
	Block  int64  `json:"block,omitempty"`
}

// ReceiptOf is rc as JSON, with amount (BTT) as what it moved: a token
// transfer's own amount, or the amount a contract call was given.
func ReceiptOf(rc wallet.Receipt, amount wallet.Amount) Receipt {
	return Receipt{TxID: rc.TxID, From: rc.From.String(), To: rc.To.String(), Amount: AmountOf(amount, wallet.BTTDecimals), Block: rc.Block}
}

// Record is one counterparty in `wallet cheques`.
type Record struct {
	Direction    string    `json:"direction"`
	Counterparty string    `json:"counterparty"`
	ChainID      uint64    `json:"chain_id"`
	Token        string    `json:"token"`
	Cumulative   Amount    `json:"cumulative"`
	Settled      Amount    `json:"settled"`
	Unsettled    Amount    `json:"unsettled"`
	Bounced      Amount    `json:"bounced"` // what the last cash at the payer's vault left unpaid (received vault cheques; else 0)
	Signature    string    `json:"signature"`
	Vault        string    `json:"vault,omitempty"` // a vault cheque's vault (cashed there by the payee)
	Updated      time.Time `json:"updated"`
}

// RecordOf is r as JSON.
func RecordOf(r wallet.Record) Record {
	return Record{
		Direction: r.Direction.String(), Counterparty: r.Counterparty.String(),
		ChainID: r.Cheque.ChainID, Token: r.Cheque.Token.String(),
		Cumulative: AmountOf(r.Cheque.Cumulative, wallet.BTTDecimals),
		Settled:    AmountOf(r.Settled, wallet.BTTDecimals),
		Unsettled:  AmountOf(r.Unsettled(), wallet.BTTDecimals),
		Bounced:    AmountOf(r.Bounced, wallet.BTTDecimals),
		Signature:  r.Cheque.Signature.String(), Updated: r.Updated.UTC(), Vault: vaultOf(r.Cheque),
	}
}

func vaultOf(c wallet.Cheque) string {
	if c.Vault.IsZero() {
		return ""
	}
	return c.Vault.String()
}

// Settlement is one entry of `wallet settle`.
type Settlement struct {
	Direction    string `json:"direction"`
	Counterparty string `json:"counterparty"`
	Cumulative   Amount `json:"cumulative"`
	Paid         Amount `json:"paid"`
	Settled      Amount `json:"settled"`
	Shortfall    Amount `json:"shortfall"`
	TxID         string `json:"txid,omitempty"`
	Error        string `json:"error,omitempty"`
}

// Cheque is `wallet cheque sign|verify`.
type Cheque struct {
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

// ChequeOf is ch as JSON.
func ChequeOf(ch wallet.Cheque) Cheque {
	ds, sh, dg := wallet.ChequeDomainSeparator(ch.ChainID), ch.StructHash(), ch.Digest()
	if !ch.Vault.IsZero() {
		ds = wallet.VaultDomainSeparator(ch.ChainID, ch.Vault)
	}
	return Cheque{
		ChainID: ch.ChainID, Token: ch.Token.String(), Payer: ch.Payer.String(), Beneficiary: ch.Beneficiary.String(),
		Cumulative: ch.Cumulative.String(), DomainSeparator: "0x" + fmt.Sprintf("%x", ds), StructHash: "0x" + fmt.Sprintf("%x", sh),
		Digest: "0x" + fmt.Sprintf("%x", dg), Signature: ch.Signature.String(),
	}
}

// SettlementsOf is a settlement run as JSON and how many entries failed
// (a payer-side wait, ErrNotSupported, is not a failure).
func SettlementsOf(ss []wallet.Settlement) ([]Settlement, int) {
	out := make([]Settlement, 0, len(ss))
	var failed int
	for _, s := range ss {
		j := Settlement{
			Direction: s.Record.Direction.String(), Counterparty: s.Record.Counterparty.String(),
			Cumulative: AmountOf(s.Record.Cheque.Cumulative, wallet.BTTDecimals),
			Paid:       AmountOf(s.Paid, wallet.BTTDecimals), Settled: AmountOf(s.Record.Settled, wallet.BTTDecimals),
			Shortfall: AmountOf(s.Shortfall, wallet.BTTDecimals), TxID: s.TxID,
		}
		if s.Err != nil && !errors.Is(s.Err, wallet.ErrNotSupported) {
			j.Error = s.Err.Error()
			failed++
		} else if s.Err != nil {
			j.Error = "waiting for the payer to settle"
		}
		out = append(out, j)
	}
	return out, failed
}

// PrintSettlements writes a settlement run as text.
func PrintSettlements(w io.Writer, out []Settlement) {
	if len(out) == 0 {
		fmt.Fprintln(w, "nothing to settle")
		return
	}
	for _, j := range out {
		fmt.Fprintf(w, "%-8s %s paid %s BTT, settled %s of %s", j.Direction, j.Counterparty, j.Paid.Value, j.Settled.Value, j.Cumulative.Value)
		if j.Shortfall.BaseUnits != "0" {
			fmt.Fprintf(w, ", short %s", j.Shortfall.Value)
		}
		if j.Error != "" {
			fmt.Fprintf(w, " (%s)", j.Error)
		}
		fmt.Fprintln(w)
	}
}

// Records is `wallet cheques`: every record, and as text a table.
func Records(rs []wallet.Record) []Record {
	out := make([]Record, 0, len(rs))
	for _, r := range rs {
		out = append(out, RecordOf(r))
	}
	return out
}

// PrintRecords writes `wallet cheques` as text.
func PrintRecords(w io.Writer, out []Record) {
	if len(out) == 0 {
		fmt.Fprintln(w, "no cheques")
		return
	}
	fmt.Fprintf(w, "%-9s %-34s %-11s %22s %22s %22s\n", "DIRECTION", "COUNTERPARTY", "CHAIN", "CUMULATIVE BTT", "SETTLED", "UNSETTLED")
	for _, j := range out {
		fmt.Fprintf(w, "%-9s %-34s %-11d %22s %22s %22s\n", j.Direction, j.Counterparty, j.ChainID, j.Cumulative.Value, j.Settled.Value, j.Unsettled.Value)
		if j.Vault != "" {
			fmt.Fprintf(w, "          vault cheque: cashed by the payee at %s", j.Vault)
			if j.Bounced.BaseUnits != "0" {
				fmt.Fprintf(w, "; bounced %s BTT at the last cash (cashable after a deposit)", j.Bounced.Value)
			}
			fmt.Fprintln(w)
		}
	}
}

// BalanceOf is the balance of a on ch.
func BalanceOf(a wallet.Address, ch wallet.Chain, b wallet.Balance) Balance {
	return Balance{a.String(), ch.Name(), ch.ChainID(), ch.Token().String(),
		AmountOf(b.Token, wallet.BTTDecimals), AmountOf(b.TRX, wallet.TRXDecimals), AmountOf(b.BTT10, wallet.BTT10Decimals)}
}

// PrintBalance writes `wallet balance` as text.
func PrintBalance(w io.Writer, b Balance) {
	fmt.Fprintf(w, "address %s on %s\nBTT     %s\n", b.Address, b.Chain, b.BTT.Value)
	if b.Chain != "local" {
		fmt.Fprintf(w, "TRX     %s\nBTT-10  %s\n", b.TRX.Value, b.BTT10.Value)
	}
}
