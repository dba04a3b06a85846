package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/bidtorrent/bidtorrent/internal/app"
	"github.com/bidtorrent/bidtorrent/internal/passphrase"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Scrypt cost of keystores the CLI writes (tests lower it).
var keystoreScryptN, keystoreScryptP = wallet.StandardScryptN, wallet.StandardScryptP

// passphraseEnv is the environment variable that can hold the keystore
// passphrase (for scripts; a prompt or --passphrase-file is preferred).
const passphraseEnv = passphrase.Env

// walletVerb is one `bidtorrent wallet` sub-command. setup registers the
// verb's own flags on fs and returns the function that runs it; the shared
// set-up (--json, --passphrase-file, the positional AMOUNT, the config,
// data dir, keystore and chain) is walletRun's. A new verb (e.g. a vault
// family) is one more entry in walletVerbs, in its own cmd_wallet_*.go.
type walletVerb struct {
	name, usage, summary string
	// pass adds --passphrase-file (with its help text); amount takes one
	// AMOUNT argument (flags may follow it), payee a PAYEE argument before
	// it; neither: no arguments.
	pass   string
	amount bool
	payee  bool
	setup  func(fs *flag.FlagSet) func(ctx context.Context, r *walletRun) error
	// run replaces the shared set-up for verbs with their own sub-verbs.
	run func(ctx context.Context, c *cli, args []string) error
}

// walletVerbs are the wallet sub-commands, in help order.
var walletVerbs = []walletVerb{
	{name: "new", usage: "[--passphrase-file F] [--json]", summary: "create a key in the data dir's encrypted keystore",
		pass: "read the passphrase from `FILE`", setup: walletNew},
	{name: "import", usage: "(--mnemonic-file F [--index N] | --hex-file F | --keystore-file F) [--passphrase-file F] [--json]",
		summary: "import a key (BIP-39 mnemonic on m/44'/195'/0'/0/N, hex, or v3 keystore JSON)",
		pass:    "read the passphrase from `FILE`", setup: walletImport},
	{name: "show", usage: "[--json]", summary: "print the address (base58 and hex)", setup: walletShow},
	{name: "balance", usage: "[--address ADDR] [--json]", summary: "print balances on the configured chain", setup: walletBalance},
	{name: "send", usage: "--to ADDR [--passphrase-file F] [--json] AMOUNT", summary: "send AMOUNT BTT (e.g. 12.5 or \"0.5 BTT\")",
		pass: "read the passphrase from `FILE`", amount: true, setup: walletSend},
	{name: "cheques", usage: "[--json]", summary: "list cheques issued and received, settled and unsettled", setup: walletCheques},
	{name: "settle", usage: "[--passphrase-file F] [--json]", summary: "settle unsettled cheques on the configured chain",
		pass: "read the passphrase from `FILE` (TRON: to pay issued cheques)", setup: walletSettle},
	{name: "faucet", usage: "[--json] AMOUNT", summary: "credit AMOUNT BTT to this wallet (local ledger only)", amount: true, setup: walletFaucet},
	{name: "cheque", summary: "sign or verify one TIP-712 cheque", run: walletCheque},
	{name: "vault", summary: "the payer's cheque vault on TRON (cmd_vault.go)", run: walletVault},
}

// runWallet dispatches `bidtorrent wallet SUBCOMMAND`.
//
// With --json every sub-command prints one JSON value on stdout (the
// *JSON types in cmd_wallet_json.go): new/import/show an addressJSON;
// balance a balanceJSON; send a receiptJSON; cheques an array of
// recordJSON; settle an array of settlementJSON; faucet {address,
// credited, balance}; cheque sign/verify a chequeJSON (verify adds valid
// and error). Amounts are objects {base_units, value}: an integer string
// in base units and the same with the token's decimals. Errors go to
// stderr as one line, with exit status 1 (2 for usage errors).
func runWallet(ctx context.Context, c *cli, args []string) error {
	usage := func() {
		fmt.Fprintf(c.stderr, "Usage: bidtorrent wallet COMMAND [flags]\n\nCommands:\n")
		for _, v := range walletVerbs {
			fmt.Fprintf(c.stderr, "  %-8s %s\n", v.name, v.summary)
		}
		fmt.Fprintf(c.stderr, "\nThe keystore is DATA_DIR/keystore; the passphrase comes from --passphrase-file,\n$%s, or a prompt. The chain, ledger and TRON node come from the [wallet]\nconfig section; --ledger overrides the local ledger file.\n", passphraseEnv)
	}
	if len(args) == 0 {
		usage()
		return errUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return flag.ErrHelp
	}
	for _, v := range walletVerbs {
		if v.name != args[0] {
			continue
		}
		if v.run != nil {
			return v.run(ctx, c, args[1:])
		}
		return c.runWalletVerb(ctx, v, args[1:])
	}
	fmt.Fprintf(c.stderr, "bidtorrent wallet: unknown command %q\n", args[0])
	usage()
	return errUsage
}

// walletRun is what a wallet verb gets from the shared set-up: its parsed
// common flags and, on first use, the environment, key and chain.
type walletRun struct {
	c        *cli
	fs       *flag.FlagSet
	json     bool
	passFile string
	amount   string // the AMOUNT argument of amount verbs
	payee    string // the PAYEE argument of payee verbs
	env      *app.Env
	closers  []func()
}

// runWalletVerb parses the shared flags and arguments, then runs v.
func (c *cli) runWalletVerb(ctx context.Context, v walletVerb, args []string) error {
	r := &walletRun{c: c, fs: c.newFlagSet("wallet "+v.name, v.usage)}
	if v.pass != "" {
		r.fs.StringVar(&r.passFile, "passphrase-file", "", v.pass)
	}
	r.fs.BoolVar(&r.json, "json", false, "print JSON")
	run := v.setup(r.fs)
	if v.amount || v.payee {
		pos, err := parseInterspersed(r.fs, args)
		if err != nil {
			return err
		}
		if v.payee {
			if len(pos) == 0 {
				return r.usageError("want a PAYEE argument")
			}
			r.payee, pos = pos[0], pos[1:]
		}
		if v.amount {
			if r.amount, err = oneArg(r.fs, pos, "AMOUNT"); err != nil {
				return err
			}
		} else if len(pos) != 0 {
			return r.usageError("unexpected argument %q", pos[0])
		}
	} else if err := parseNoArgs(r.fs, args); err != nil {
		return err
	}
	defer func() {
		for i := len(r.closers) - 1; i >= 0; i-- {
			r.closers[i]()
		}
	}()
	return run(ctx, r)
}

// usageError prints the verb's usage and marks err as a usage error.
func (r *walletRun) usageError(format string, a ...any) error {
	r.fs.Usage()
	return fmt.Errorf(format+": %w", append(a, errUsage)...)
}

// environment loads the config and the wallet's file locations once.
func (r *walletRun) environment() (*app.Env, error) {
	if r.env == nil {
		e, err := r.c.env()
		if err != nil {
			return nil, err
		}
		r.env = e
	}
	return r.env, nil
}

// key unlocks the keystore with the verb's passphrase.
func (r *walletRun) key() (*wallet.Key, error) {
	e, err := r.environment()
	if err != nil {
		return nil, err
	}
	return r.c.unlock(e, r.passFile)
}

// chain opens the configured chain, closed when the verb returns.
func (r *walletRun) chain() (wallet.Chain, error) {
	e, err := r.environment()
	if err != nil {
		return nil, err
	}
	ch, closeChain, err := e.Chain()
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, closeChain)
	return ch, nil
}

// wallet opens the wallet, closed when the verb returns: signing (the
// key unlocked first) when sign, else watch-only.
func (r *walletRun) wallet(sign bool) (*wallet.Wallet, error) {
	e, err := r.environment()
	if err != nil {
		return nil, err
	}
	var key *wallet.Key
	if sign {
		if key, err = r.key(); err != nil {
			return nil, err
		}
	}
	w, closeChain, err := e.OpenWallet(key)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, closeChain)
	return w, nil
}

// chequeBook opens the data dir's cheque book.
func (r *walletRun) chequeBook() (*wallet.ChequeBook, error) {
	e, err := r.environment()
	if err != nil {
		return nil, err
	}
	return e.ChequeBook()
}

// address returns the address flag gives, else this wallet's.
func (r *walletRun) address(flag string) (wallet.Address, error) {
	if flag != "" {
		return wallet.ParseAddress(flag)
	}
	e, err := r.environment()
	if err != nil {
		return wallet.Address{}, err
	}
	return e.Keystore.Address()
}

// print writes v as JSON with --json, else calls text.
func (r *walletRun) print(v any, text func(w io.Writer)) error {
	if r.json {
		return printJSON(r.c.stdout, v)
	}
	text(r.c.stdout)
	return nil
}
