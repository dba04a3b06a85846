package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/bidtorrent/bidtorrent/internal/cliargs"
	"github.com/bidtorrent/bidtorrent/internal/walletjson"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// The money verbs: balance, send, faucet, cheques, settle; and the
// argument helpers the payment verbs share.

func walletBalance(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	addrFlag := fs.String("address", "", "show `ADDR` instead of this wallet")
	return func(ctx context.Context, r *walletRun) error {
		ch, err := r.chain()
		if err != nil {
			return err
		}
		a, err := r.address(*addrFlag)
		if err != nil {
			return err
		}
		b, err := ch.Balance(ctx, a)
		if err != nil {
			return fmt.Errorf("cannot get the balance of %s on %s: %w", a, ch.Name(), err)
		}
		out := walletjson.BalanceOf(a, ch, b)
		return r.print(out, func(w io.Writer) { walletjson.PrintBalance(w, out) })
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
		w, err := r.wallet(true)
		if err != nil {
			return err
		}
		rc, err := w.Send(ctx, toAddr, amt)
		if err != nil {
			return err
		}
		out := receiptOut(rc, rc.Amount)
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
		w, err := r.wallet(false)
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
		book, err := r.chequeBook()
		if err != nil {
			return err
		}
		rs, err := book.Records()
		if err != nil {
			return err
		}
		out := walletjson.Records(rs)
		return r.print(out, func(w io.Writer) { walletjson.PrintRecords(w, out) })
	}
}

func walletSettle(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(ctx context.Context, r *walletRun) error {
		e, err := r.environment()
		if err != nil {
			return err
		}
		// On TRON we pay our cheques by transfer: that needs the key.
		w, err := r.wallet(e.Config.Wallet.Chain != "local")
		if err != nil {
			return err
		}
		ss, err := w.Settle(ctx)
		if err != nil {
			return fmt.Errorf("cannot settle: %w", err)
		}
		out, failed := walletjson.SettlementsOf(ss)
		if err := r.print(out, func(w io.Writer) { walletjson.PrintSettlements(w, out) }); err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d settlements failed", failed, len(out))
		}
		return nil
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
