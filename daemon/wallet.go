package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bidtorrent/bidtorrent/internal/passphrase"
	"github.com/bidtorrent/bidtorrent/internal/walletjson"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// The daemon's own wallet over SSH: unlock, and wallet address, balance,
// cheques and settle, printing what `bidtorrent wallet` prints locally.

// errNoWalletHere is returned when the daemon was given no Wallet.
var errNoWalletHere = errors.New("this daemon has no wallet (started with --no-wallet, or no keystore: bidtorrent wallet new)")

func (s *Server) walletOrErr() (*wallet.Wallet, error) {
	if s.wallet == nil {
		return nil, errNoWalletHere
	}
	return s.wallet.Wallet()
}

// walletState is "unlocked", "locked" or "none".
func (s *Server) walletState() string {
	if s.wallet == nil {
		return "none"
	}
	return s.wallet.WalletState()
}

func (s *Server) cmdUnlock(ctx context.Context, cio cmdIO, args []string) error {
	fs := s.flags("unlock", cio)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(cio, "unlock takes no arguments: the passphrase is read from stdin (ssh HOST unlock < PASSFILE)")
	}
	if s.wallet == nil {
		return errNoWalletHere
	}
	pass, err := passphrase.Read(cio.stdin)
	if errors.Is(err, passphrase.ErrEmpty) {
		return errors.New("no passphrase on stdin (ssh HOST unlock < PASSFILE)")
	} else if err != nil {
		return err
	}
	if err := s.wallet.Unlock(ctx, pass); err != nil {
		return err
	}
	a, _ := s.wallet.Address()
	fmt.Fprintf(cio.stdout, "wallet %s unlocked: the bandwidth market is on\n", a)
	return nil
}

// walletVerbs are the `wallet` remote sub-commands.
var walletVerbs = []string{"address", "balance", "cheques", "settle"}

func (s *Server) cmdWallet(ctx context.Context, cio cmdIO, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError(cio, "Usage: wallet %s", commandHelp["wallet"].args)
	}
	verb := args[0]
	fs := s.flags("wallet", cio)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(cio, "Usage: wallet %s", commandHelp["wallet"].args)
	}
	print := func(v any, text func(io.Writer)) error {
		if *asJSON {
			return walletjson.Print(cio.stdout, v)
		}
		text(cio.stdout)
		return nil
	}
	if verb == "address" {
		if s.wallet == nil {
			return errNoWalletHere
		}
		a, err := s.wallet.Address()
		if err != nil {
			return err
		}
		return print(struct {
			walletjson.Address
			State string `json:"state"`
		}{walletjson.Address{Address: a.String(), Hex: a.Hex()}, s.walletState()}, func(w io.Writer) {
			fmt.Fprintf(w, "address  %s\nhex      %s\nstate    %s\n", a, a.Hex(), s.walletState())
		})
	}
	switch verb {
	case "balance", "cheques", "settle":
	default:
		return usageError(cio, "unknown wallet command %q (want %s)", verb, strings.Join(walletVerbs, ", "))
	}
	w, err := s.walletOrErr()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	switch verb {
	case "balance":
		b, err := w.Balance(cctx)
		if err != nil {
			return fmt.Errorf("cannot get the balance of %s on %s: %w", w.Address(), w.Chain().Name(), err)
		}
		out := walletjson.BalanceOf(w.Address(), w.Chain(), b)
		return print(out, func(w io.Writer) { walletjson.PrintBalance(w, out) })
	case "cheques":
		rs, err := w.Cheques()
		if err != nil {
			return err
		}
		out := walletjson.Records(rs)
		return print(out, func(w io.Writer) { walletjson.PrintRecords(w, out) })
	}
	ss, err := w.Settle(cctx)
	if err != nil {
		return fmt.Errorf("cannot settle: %w", err)
	}
	out, failed := walletjson.SettlementsOf(ss)
	if err := print(out, func(w io.Writer) { walletjson.PrintSettlements(w, out) }); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d settlements failed", failed, len(out))
	}
	return nil
}
