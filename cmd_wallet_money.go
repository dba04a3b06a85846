package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/bidtorrent/bidtorrent/internal/cliargs"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// The money verbs: balance, send, faucet, cheques, settle; and the
// argument helpers the payment verbs share.

func walletBalance(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	addrFlag := fs.String("address", "", "show `ADDR` instead of this wallet")
	return func(ctx context.Context, r *walletRun) error {
		e, err := r.environment()
		if err != nil {
			return err
		}
		ch, err := r.chain()
		if err != nil {
			return err
		}
		var a wallet.Address
		if *addrFlag != "" {
			a, err = wallet.ParseAddress(*addrFlag)
		} else {
			a, err = e.Keystore.Address()
		}
		if err != nil {
			return err
		}
		b, err := ch.Balance(ctx, a)
		if err != nil {
			return fmt.Errorf("cannot get the balance of %s on %s: %w", a, ch.Name(), err)
		}
		out := balanceJSON{a.String(), ch.Name(), ch.ChainID(), ch.Token().String(),
			amountOut(b.Token, wallet.BTTDecimals), amountOut(b.TRX, wallet.TRXDecimals), amountOut(b.BTT10, wallet.BTT10Decimals)}
		return r.print(out, func(w io.Writer) {
			fmt.Fprintf(w, "address %s on %s\nBTT     %s\n", a, ch.Name(), out.BTT.Value)
			if ch.Name() != "local" {
				fmt.Fprintf(w, "TRX     %s\nBTT-10  %s\n", out.TRX.Value, out.BTT10.Value)
			}
		})
	}
}

func walletSend(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	to := fs.String("to", "", "recipient `ADDR` (T… or 41…)")
	return func(ctx context.Context, r *walletRun) error {
		if *to == "" {
			return r.usageError("--to is required")
		}
		toAddr, err := wallet.ParseAddress(*to)
		if err != nil {
			return err
		}
		amt, err := parseBTT(r.amount)
		if err != nil {
			return err
		}
		if amt.IsZero() {
			return fmt.Errorf("cannot send zero")
		}
		k, err := r.key()
		if err != nil {
			return err
		}
		w, err := r.wallet(k)
		if err != nil {
			return err
		}
		rc, err := w.Send(ctx, toAddr, amt)
		if err != nil {
			return err
		}
		out := receiptJSON{rc.TxID, rc.From.String(), rc.To.String(), amountOut(rc.Amount, wallet.BTTDecimals), rc.Block}
		return r.print(out, func(w io.Writer) {
			fmt.Fprintf(w, "sent %s BTT to %s (tx %s)\n", out.Amount.Value, rc.To, rc.TxID)
		})
	}
}

func walletFaucet(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(ctx context.Context, r *walletRun) error {
		amt, err := parseBTT(r.amount)
		if err != nil {
			return err
		}
		e, err := r.environment()
		if err != nil {
			return err
		}
		if e.Config.Wallet.Chain != "local" {
			return fmt.Errorf("there is no faucet on %s (the faucet is for the local ledger)", e.Config.Wallet.Chain)
		}
		w, err := r.wallet(nil)
		if err != nil {
			return err
		}
		if err := w.Faucet(ctx, amt); err != nil {
			return err
		}
		b, err := w.Balance(ctx)
		if err != nil {
			return err
		}
		return r.print(struct {
			Address  string     `json:"address"`
			Credited amountJSON `json:"credited"`
			Balance  amountJSON `json:"balance"`
		}{w.Address().String(), amountOut(amt, wallet.BTTDecimals), amountOut(b.Token, wallet.BTTDecimals)}, func(out io.Writer) {
			fmt.Fprintf(out, "credited %s BTT to %s; balance %s BTT\n", amt.Format(wallet.BTTDecimals), w.Address(), b.Token.Format(wallet.BTTDecimals))
		})
	}
}

func walletCheques(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(ctx context.Context, r *walletRun) error {
		e, err := r.environment()
		if err != nil {
			return err
		}
		book, err := e.ChequeBook()
		if err != nil {
			return err
		}
		rs, err := book.Records()
		if err != nil {
			return err
		}
		out := make([]recordJSON, 0, len(rs))
		for _, rec := range rs {
			out = append(out, recordOut(rec))
		}
		return r.print(out, func(w io.Writer) {
			if len(out) == 0 {
				fmt.Fprintln(w, "no cheques")
				return
			}
			fmt.Fprintf(w, "%-9s %-34s %-11s %22s %22s %22s\n", "DIRECTION", "COUNTERPARTY", "CHAIN", "CUMULATIVE BTT", "SETTLED", "UNSETTLED")
			for _, j := range out {
				fmt.Fprintf(w, "%-9s %-34s %-11d %22s %22s %22s\n", j.Direction, j.Counterparty, j.ChainID, j.Cumulative.Value, j.Settled.Value, j.Unsettled.Value)
			}
		})
	}
}

func walletSettle(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(ctx context.Context, r *walletRun) error {
		e, err := r.environment()
		if err != nil {
			return err
		}
		var k *wallet.Key
		if e.Config.Wallet.Chain != "local" { // on TRON we pay our cheques by transfer
			if k, err = r.key(); err != nil {
				return err
			}
		}
		w, err := r.wallet(k)
		if err != nil {
			return err
		}
		ss, err := w.Settle(ctx)
		if err != nil {
			return fmt.Errorf("cannot settle: %w", err)
		}
		out, failed := settlementsOut(ss)
		if err := r.print(out, func(w io.Writer) { printSettlements(w, out) }); err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d settlements failed", failed, len(out))
		}
		return nil
	}
}

// settlementsOut is the JSON of a settlement run and how many failed.
func settlementsOut(ss []wallet.Settlement) ([]settlementJSON, int) {
	out := make([]settlementJSON, 0, len(ss))
	var failed int
	for _, s := range ss {
		j := settlementJSON{
			Direction: s.Record.Direction.String(), Counterparty: s.Record.Counterparty.String(),
			Cumulative: amountOut(s.Record.Cheque.Cumulative, wallet.BTTDecimals),
			Paid:       amountOut(s.Paid, wallet.BTTDecimals), Settled: amountOut(s.Record.Settled, wallet.BTTDecimals),
			Shortfall: amountOut(s.Shortfall, wallet.BTTDecimals), TxID: s.TxID,
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

func printSettlements(w io.Writer, out []settlementJSON) {
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

// parseBTT parses a human BTT amount ("12.5", "0.5 BTT").
func parseBTT(s string) (wallet.Amount, error) { return cliargs.ParseBTT(s) }

// parseInterspersed parses flags placed before or after the positional
// arguments (`send --to X 0.5 --json`) and returns the positionals. An
// argument like "-1" is refused as a negative amount.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if len(a) > 1 && a[0] == '-' && (a[1] >= '0' && a[1] <= '9' || a[1] == '.') {
			return nil, fmt.Errorf("amount %q is negative", a)
		}
	}
	return cliargs.Interspersed(fs, args, parseFlags)
}

// parseNoArgs parses flags and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	return nil
}

// oneArg returns the single positional argument (an amount may be given
// as two words: 0.5 BTT).
func oneArg(fs *flag.FlagSet, pos []string, what string) (string, error) {
	switch len(pos) {
	case 1:
		return pos[0], nil
	case 2:
		return pos[0] + " " + pos[1], nil
	}
	fs.Usage()
	return "", fmt.Errorf("want one %s argument: %w", what, errUsage)
}
