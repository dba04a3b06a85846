package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// `wallet cheque sign|verify`: one TIP-712 cheque by hand.

var chequeVerbs = []walletVerb{
	{name: "cheque sign", pass: "read the passphrase from `FILE`", setup: chequeSign},
	{name: "cheque verify", setup: chequeVerify},
}

func walletCheque(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 || (args[0] != "sign" && args[0] != "verify") {
		fmt.Fprintf(c.stderr, "Usage: bidtorrent wallet cheque sign --token ADDR --beneficiary ADDR --cumulative BASE_UNITS --chain-id N [--passphrase-file F] [--json]\n"+
			"       bidtorrent wallet cheque verify --token ADDR --payer ADDR --beneficiary ADDR --cumulative BASE_UNITS --chain-id N --signature HEX [--record] [--json]\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	v := chequeVerbs[0]
	if args[0] == "verify" {
		v = chequeVerbs[1]
	}
	return c.runWalletVerb(ctx, v, args[1:])
}

// chequeFlags are the fields `cheque sign` and `cheque verify` share.
type chequeFlags struct {
	token, beneficiary, cumulative, chainID string
}

func (f *chequeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.token, "token", "", "token contract `ADDR`")
	fs.StringVar(&f.beneficiary, "beneficiary", "", "beneficiary `ADDR`")
	fs.StringVar(&f.cumulative, "cumulative", "", "cumulative payout in `BASE_UNITS` (integer)")
	fs.StringVar(&f.chainID, "chain-id", "", "TIP-712 chain id `N` (mainnet 728126428, nile 3448148188, shasta 2494104990, local 1651799148)")
}

func (f *chequeFlags) cheque() (wallet.Cheque, error) {
	var ch wallet.Cheque
	for name, v := range map[string]string{"--token": f.token, "--beneficiary": f.beneficiary, "--cumulative": f.cumulative, "--chain-id": f.chainID} {
		if v == "" {
			return ch, fmt.Errorf("%s is required: %w", name, errUsage)
		}
	}
	var err error
	if ch.Token, err = wallet.ParseAddress(f.token); err != nil {
		return ch, fmt.Errorf("--token: %w", err)
	}
	if ch.Beneficiary, err = wallet.ParseAddress(f.beneficiary); err != nil {
		return ch, fmt.Errorf("--beneficiary: %w", err)
	}
	if ch.Cumulative, err = wallet.ParseAmount(f.cumulative, 0); err != nil {
		return ch, fmt.Errorf("--cumulative (base units): %w", err)
	}
	if ch.ChainID, err = strconv.ParseUint(f.chainID, 10, 64); err != nil {
		return ch, fmt.Errorf("--chain-id %q is not a non-negative integer", f.chainID)
	}
	return ch, nil
}

func chequeSign(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	var cf chequeFlags
	cf.register(fs)
	return func(ctx context.Context, r *walletRun) error {
		ch, err := cf.cheque()
		if err != nil {
			if errors.Is(err, errUsage) {
				r.fs.Usage()
			}
			return err
		}
		k, err := r.key()
		if err != nil {
			return err
		}
		signed, err := wallet.SignCheque(k, ch.ChainID, ch.Token, ch.Beneficiary, ch.Cumulative)
		if err != nil {
			return err
		}
		// Record it as issued, so `wallet settle` pays it and later cheques
		// continue from it. A lower total than already issued is still
		// printed, with a warning.
		book, err := r.chequeBook()
		if err != nil {
			return err
		}
		if _, err := book.RecordIssued(signed); errors.Is(err, wallet.ErrStale) {
			fmt.Fprintf(r.c.stderr, "bidtorrent: warning: not recorded: %v\n", err)
		} else if err != nil {
			return err
		}
		out := chequeOut(signed)
		return r.print(out, func(w io.Writer) {
			fmt.Fprintf(w, "digest    %s\nsignature %s\n", out.Digest, out.Signature)
		})
	}
}

// errInvalidCheque makes `cheque verify` exit non-zero.
var errInvalidCheque = errors.New("invalid cheque")

func chequeVerify(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	var cf chequeFlags
	cf.register(fs)
	payer := fs.String("payer", "", "payer `ADDR` (the expected signer)")
	sigHex := fs.String("signature", "", "65-byte signature r‖s‖v in `HEX`")
	record := fs.Bool("record", false, "if valid and addressed to this wallet, record it in the cheque book as received")
	return func(ctx context.Context, r *walletRun) error {
		ch, err := cf.cheque()
		if err == nil && (*payer == "" || *sigHex == "") {
			err = fmt.Errorf("--payer and --signature are required: %w", errUsage)
		}
		if err != nil {
			if errors.Is(err, errUsage) {
				r.fs.Usage()
			}
			return err
		}
		if ch.Payer, err = wallet.ParseAddress(*payer); err != nil {
			return fmt.Errorf("--payer: %w", err)
		}
		if ch.Signature, err = wallet.ParseSignature(*sigHex); err != nil {
			return fmt.Errorf("--signature: %w", err)
		}
		verr := ch.Verify()
		if verr == nil && *record {
			verr = r.recordReceived(ch)
		}
		out := chequeOut(ch)
		valid := verr == nil
		out.Valid = &valid
		if verr != nil {
			out.Error = verr.Error()
		}
		if err := r.print(out, func(w io.Writer) {
			if valid {
				fmt.Fprintf(w, "valid cheque: %s pays %s a cumulative %s base units (digest %s)\n", ch.Payer, ch.Beneficiary, ch.Cumulative, out.Digest)
			}
		}); err != nil {
			return err
		}
		if !valid {
			return fmt.Errorf("%w: %v", errInvalidCheque, verr)
		}
		return nil
	}
}

// recordReceived stores a verified cheque addressed to this wallet.
func (r *walletRun) recordReceived(ch wallet.Cheque) error {
	w, err := r.wallet(false)
	if err != nil {
		return err
	}
	_, err = w.AcceptCheque(ch)
	return err
}
