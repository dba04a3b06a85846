package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/bidtorrent/bidtorrent/internal/cliargs"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// Scrypt cost of keystores the CLI writes (tests lower it).
var keystoreScryptN, keystoreScryptP = wallet.StandardScryptN, wallet.StandardScryptP

// passphraseEnv is the environment variable that can hold the keystore
// passphrase (for scripts; a prompt or --passphrase-file is preferred).
const passphraseEnv = "BIDTORRENT_PASSPHRASE"

// walletSubs are the wallet sub-commands, in help order.
var walletSubs = []struct {
	name, summary string
	run           func(ctx context.Context, c *cli, args []string) error
}{
	{"new", "create a key in the data dir's encrypted keystore", walletNew},
	{"import", "import a key (BIP-39 mnemonic on m/44'/195'/0'/0/N, hex, or v3 keystore JSON)", walletImport},
	{"show", "print the address (base58 and hex)", walletShow},
	{"balance", "print balances on the configured chain", walletBalance},
	{"send", "send AMOUNT BTT (e.g. 12.5 or \"0.5 BTT\")", walletSend},
	{"cheques", "list cheques issued and received, settled and unsettled", walletCheques},
	{"settle", "settle unsettled cheques on the configured chain", walletSettle},
	{"faucet", "credit AMOUNT BTT to this wallet (local ledger only)", walletFaucet},
	{"cheque", "sign or verify one TIP-712 cheque", walletCheque},
}

// runWallet dispatches `bidtorrent wallet SUBCOMMAND`.
//
// With --json every sub-command prints one JSON value on stdout (the
// *JSON types below): new/import/show an addressJSON; balance a
// balanceJSON; send a receiptJSON; cheques an array of recordJSON;
// settle an array of settlementJSON; faucet {address, credited,
// balance}; cheque sign/verify a chequeJSON (verify adds valid and
// error). Amounts are objects {base_units, value}: an integer string in
// base units and the same with the token's decimals. Errors go to stderr
// as one line, with exit status 1 (2 for usage errors).
func runWallet(ctx context.Context, c *cli, args []string) error {
	usage := func() {
		fmt.Fprintf(c.stderr, "Usage: bidtorrent wallet COMMAND [flags]\n\nCommands:\n")
		for _, s := range walletSubs {
			fmt.Fprintf(c.stderr, "  %-8s %s\n", s.name, s.summary)
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
	for _, s := range walletSubs {
		if s.name == args[0] {
			return s.run(ctx, c, args[1:])
		}
	}
	fmt.Fprintf(c.stderr, "bidtorrent wallet: unknown command %q\n", args[0])
	usage()
	return errUsage
}

// walletUsage holds each sub-command's argument synopsis.
var walletUsage = map[string]string{
	"new":     "[--passphrase-file F] [--json]",
	"import":  "(--mnemonic-file F [--index N] | --hex-file F | --keystore-file F) [--passphrase-file F] [--json]",
	"show":    "[--json]",
	"balance": "[--address ADDR] [--json]",
	"send":    "--to ADDR [--passphrase-file F] [--json] AMOUNT",
	"cheques": "[--json]",
	"settle":  "[--passphrase-file F] [--json]",
	"faucet":  "[--json] AMOUNT",
}

func (c *cli) walletFlags(name string) *flag.FlagSet {
	return c.newFlagSet("wallet "+name, walletUsage[name])
}

// walletEnv is what the wallet verbs share: config and file locations.
type walletEnv struct {
	cfg        wallet.Config
	dataDir    string
	ks         wallet.Keystore
	ledgerPath string
	bookPath   string
}

func (c *cli) walletEnv() (*walletEnv, error) {
	conf, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	dir, err := c.defaultDataDir()
	if err != nil {
		return nil, err
	}
	e := &walletEnv{
		cfg:        conf.Wallet,
		dataDir:    dir,
		ks:         wallet.Keystore{Dir: filepath.Join(dir, "keystore"), ScryptN: keystoreScryptN, ScryptP: keystoreScryptP},
		ledgerPath: filepath.Join(dir, "ledger.db"),
		bookPath:   filepath.Join(dir, "chequebook.db"),
	}
	if conf.Wallet.Ledger != "" {
		e.ledgerPath = conf.Wallet.Ledger
	}
	if c.ledger != "" {
		e.ledgerPath = c.ledger
	}
	if conf.Wallet.ChequeBook != "" {
		e.bookPath = conf.Wallet.ChequeBook
	}
	return e, nil
}

// chain opens the configured backend; close releases it.
func (e *walletEnv) chain() (ch wallet.Chain, close func(), err error) {
	if e.cfg.Chain == "local" {
		l, err := local.Open(e.ledgerPath, e.cfg.TokenAddress(), e.cfg.LockTimeout.Duration)
		if err != nil {
			return nil, nil, err
		}
		return l, func() {}, nil
	}
	t, err := tron.Dial(tron.FromWallet(e.cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot connect to %s: %w", e.cfg.Chain, err)
	}
	return t, t.Close, nil
}

// open returns the wallet: signing if key is set, else watch-only on the
// keystore's address.
func (e *walletEnv) open(key *wallet.Key) (*wallet.Wallet, func(), error) {
	ch, closeChain, err := e.chain()
	if err != nil {
		return nil, nil, err
	}
	book, err := wallet.OpenChequeBook(e.bookPath, e.cfg.LockTimeout.Duration)
	if err != nil {
		closeChain()
		return nil, nil, err
	}
	if key != nil {
		return wallet.New(key, book, ch), closeChain, nil
	}
	addr, err := e.ks.Address()
	if err != nil {
		closeChain()
		return nil, nil, err
	}
	return wallet.NewWatchOnly(addr, book, ch), closeChain, nil
}

// unlock reads the passphrase and decrypts the keystore.
func (c *cli) unlock(e *walletEnv, passFile string) (*wallet.Key, error) {
	if !e.ks.Exists() {
		_, err := e.ks.Address() // the ErrNoKeystore error with its hint
		return nil, err
	}
	pass, err := c.passphrase(passFile, false)
	if err != nil {
		return nil, err
	}
	return e.ks.Unlock(pass)
}

// passphrase comes from --passphrase-file, $BIDTORRENT_PASSPHRASE, or a
// no-echo prompt on the terminal (asked twice when confirm is set).
func (c *cli) passphrase(file string, confirm bool) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("cannot read the passphrase file: %w", err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", fmt.Errorf("passphrase file %s is empty", file)
		}
		return p, nil
	}
	if p := os.Getenv(passphraseEnv); p != "" {
		return p, nil
	}
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("no passphrase: use --passphrase-file F, set %s, or run in a terminal", passphraseEnv)
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(c.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("cannot read the passphrase: %w", err)
		}
		return string(b), nil
	}
	p, err := read("Passphrase: ")
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", fmt.Errorf("empty passphrase")
	}
	if confirm {
		q, err := read("Repeat passphrase: ")
		if err != nil {
			return "", err
		}
		if p != q {
			return "", fmt.Errorf("the passphrases differ")
		}
	}
	return p, nil
}

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

type addressJSON struct {
	Address  string `json:"address"`
	Hex      string `json:"hex"`
	Keystore string `json:"keystore,omitempty"`
}

func (c *cli) printAddress(a wallet.Address, ks string, asJSON bool) error {
	if asJSON {
		return printJSON(c.stdout, addressJSON{a.String(), a.Hex(), ks})
	}
	fmt.Fprintf(c.stdout, "address  %s\nhex      %s\n", a, a.Hex())
	if ks != "" {
		fmt.Fprintf(c.stdout, "keystore %s\n", ks)
	}
	return nil
}

func walletNew(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("new")
	passFile := fs.String("passphrase-file", "", "read the passphrase from `FILE`")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	if e.ks.Exists() {
		return fmt.Errorf("a key already exists at %s", e.ks.Path())
	}
	pass, err := c.passphrase(*passFile, true)
	if err != nil {
		return err
	}
	k, err := wallet.GenerateKey()
	if err != nil {
		return err
	}
	if err := e.ks.Save(k, pass); err != nil {
		return err
	}
	return c.printAddress(k.Address(), e.ks.Path(), *asJSON)
}

func walletImport(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("import")
	mnFile := fs.String("mnemonic-file", "", "import the BIP-39 mnemonic in `FILE`")
	index := fs.Int("index", 0, "mnemonic account `N` on m/44'/195'/0'/0/N")
	hexFile := fs.String("hex-file", "", "import the hex private key in `FILE`")
	ksFile := fs.String("keystore-file", "", "import the v3 keystore JSON `FILE` (its passphrase becomes this wallet's)")
	passFile := fs.String("passphrase-file", "", "read the passphrase from `FILE`")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	n := 0
	for _, f := range []string{*mnFile, *hexFile, *ksFile} {
		if f != "" {
			n++
		}
	}
	if n != 1 {
		fs.Usage()
		return fmt.Errorf("give exactly one of --mnemonic-file, --hex-file, --keystore-file: %w", errUsage)
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	if e.ks.Exists() {
		return fmt.Errorf("a key already exists at %s", e.ks.Path())
	}
	var k *wallet.Key
	var pass string
	switch {
	case *mnFile != "":
		b, err := os.ReadFile(*mnFile)
		if err != nil {
			return fmt.Errorf("cannot read the mnemonic file: %w", err)
		}
		if k, err = wallet.KeyFromMnemonic(string(b), *index); err != nil {
			return err
		}
	case *hexFile != "":
		b, err := os.ReadFile(*hexFile)
		if err != nil {
			return fmt.Errorf("cannot read the key file: %w", err)
		}
		if k, err = wallet.KeyFromHex(string(b)); err != nil {
			return err
		}
	default:
		b, err := os.ReadFile(*ksFile)
		if err != nil {
			return fmt.Errorf("cannot read the keystore file: %w", err)
		}
		if pass, err = c.passphrase(*passFile, false); err != nil {
			return err
		}
		if k, err = wallet.DecryptKeyJSON(b, pass); err != nil {
			return fmt.Errorf("cannot import %s: %w", *ksFile, err)
		}
	}
	if pass == "" {
		if pass, err = c.passphrase(*passFile, true); err != nil {
			return err
		}
	}
	if err := e.ks.Save(k, pass); err != nil {
		return err
	}
	return c.printAddress(k.Address(), e.ks.Path(), *asJSON)
}

func walletShow(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("show")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	a, err := e.ks.Address()
	if err != nil {
		return err
	}
	return c.printAddress(a, e.ks.Path(), *asJSON)
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

func walletBalance(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("balance")
	addrFlag := fs.String("address", "", "show `ADDR` instead of this wallet")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	ch, closeChain, err := e.chain()
	if err != nil {
		return err
	}
	defer closeChain()
	var a wallet.Address
	if *addrFlag != "" {
		a, err = wallet.ParseAddress(*addrFlag)
	} else {
		a, err = e.ks.Address()
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
	if *asJSON {
		return printJSON(c.stdout, out)
	}
	fmt.Fprintf(c.stdout, "address %s on %s\nBTT     %s\n", a, ch.Name(), out.BTT.Value)
	if ch.Name() != "local" {
		fmt.Fprintf(c.stdout, "TRX     %s\nBTT-10  %s\n", out.TRX.Value, out.BTT10.Value)
	}
	return nil
}

type receiptJSON struct {
	TxID   string     `json:"txid"`
	From   string     `json:"from"`
	To     string     `json:"to"`
	Amount amountJSON `json:"amount"`
	Block  int64      `json:"block,omitempty"`
}

func walletSend(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("send")
	to := fs.String("to", "", "recipient `ADDR` (T… or 41…)")
	passFile := fs.String("passphrase-file", "", "read the passphrase from `FILE`")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	arg, err := oneArg(fs, pos, "AMOUNT")
	if err != nil {
		return err
	}
	if *to == "" {
		fs.Usage()
		return fmt.Errorf("--to is required: %w", errUsage)
	}
	toAddr, err := wallet.ParseAddress(*to)
	if err != nil {
		return err
	}
	amt, err := parseBTT(arg)
	if err != nil {
		return err
	}
	if amt.IsZero() {
		return fmt.Errorf("cannot send zero")
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	k, err := c.unlock(e, *passFile)
	if err != nil {
		return err
	}
	w, closeChain, err := e.open(k)
	if err != nil {
		return err
	}
	defer closeChain()
	r, err := w.Send(ctx, toAddr, amt)
	if err != nil {
		return err
	}
	out := receiptJSON{r.TxID, r.From.String(), r.To.String(), amountOut(r.Amount, wallet.BTTDecimals), r.Block}
	if *asJSON {
		return printJSON(c.stdout, out)
	}
	fmt.Fprintf(c.stdout, "sent %s BTT to %s (tx %s)\n", out.Amount.Value, r.To, r.TxID)
	return nil
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

func walletCheques(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("cheques")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	book, err := wallet.OpenChequeBook(e.bookPath, e.cfg.LockTimeout.Duration)
	if err != nil {
		return err
	}
	rs, err := book.Records()
	if err != nil {
		return err
	}
	out := make([]recordJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, recordOut(r))
	}
	if *asJSON {
		return printJSON(c.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(c.stdout, "no cheques")
		return nil
	}
	fmt.Fprintf(c.stdout, "%-9s %-34s %-11s %22s %22s %22s\n", "DIRECTION", "COUNTERPARTY", "CHAIN", "CUMULATIVE BTT", "SETTLED", "UNSETTLED")
	for _, r := range out {
		fmt.Fprintf(c.stdout, "%-9s %-34s %-11d %22s %22s %22s\n", r.Direction, r.Counterparty, r.ChainID, r.Cumulative.Value, r.Settled.Value, r.Unsettled.Value)
	}
	return nil
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

func walletSettle(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("settle")
	passFile := fs.String("passphrase-file", "", "read the passphrase from `FILE` (TRON: to pay issued cheques)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	var k *wallet.Key
	if e.cfg.Chain != "local" { // on TRON we pay our cheques by transfer
		if k, err = c.unlock(e, *passFile); err != nil {
			return err
		}
	}
	w, closeChain, err := e.open(k)
	if err != nil {
		return err
	}
	defer closeChain()
	ss, err := w.Settle(ctx)
	if err != nil {
		return fmt.Errorf("cannot settle: %w", err)
	}
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
	if *asJSON {
		if err := printJSON(c.stdout, out); err != nil {
			return err
		}
	} else if len(out) == 0 {
		fmt.Fprintln(c.stdout, "nothing to settle")
	} else {
		for _, j := range out {
			fmt.Fprintf(c.stdout, "%-8s %s paid %s BTT, settled %s of %s", j.Direction, j.Counterparty, j.Paid.Value, j.Settled.Value, j.Cumulative.Value)
			if j.Shortfall.BaseUnits != "0" {
				fmt.Fprintf(c.stdout, ", short %s", j.Shortfall.Value)
			}
			if j.Error != "" {
				fmt.Fprintf(c.stdout, " (%s)", j.Error)
			}
			fmt.Fprintln(c.stdout)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d settlements failed", failed, len(out))
	}
	return nil
}

func walletFaucet(ctx context.Context, c *cli, args []string) error {
	fs := c.walletFlags("faucet")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	arg, err := oneArg(fs, pos, "AMOUNT")
	if err != nil {
		return err
	}
	amt, err := parseBTT(arg)
	if err != nil {
		return err
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	if e.cfg.Chain != "local" {
		return fmt.Errorf("there is no faucet on %s (the faucet is for the local ledger)", e.cfg.Chain)
	}
	w, closeChain, err := e.open(nil)
	if err != nil {
		return err
	}
	defer closeChain()
	if err := w.Faucet(ctx, amt); err != nil {
		return err
	}
	b, err := w.Balance(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, struct {
			Address  string     `json:"address"`
			Credited amountJSON `json:"credited"`
			Balance  amountJSON `json:"balance"`
		}{w.Address().String(), amountOut(amt, wallet.BTTDecimals), amountOut(b.Token, wallet.BTTDecimals)})
	}
	fmt.Fprintf(c.stdout, "credited %s BTT to %s; balance %s BTT\n", amt.Format(wallet.BTTDecimals), w.Address(), b.Token.Format(wallet.BTTDecimals))
	return nil
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

func walletCheque(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 || (args[0] != "sign" && args[0] != "verify") {
		fmt.Fprintf(c.stderr, "Usage: bidtorrent wallet cheque sign --token ADDR --beneficiary ADDR --cumulative BASE_UNITS --chain-id N [--passphrase-file F] [--json]\n"+
			"       bidtorrent wallet cheque verify --token ADDR --payer ADDR --beneficiary ADDR --cumulative BASE_UNITS --chain-id N --signature HEX [--record] [--json]\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errUsage
	}
	if args[0] == "sign" {
		return chequeSign(ctx, c, args[1:])
	}
	return chequeVerify(ctx, c, args[1:])
}

func chequeSign(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("wallet cheque sign", "")
	var cf chequeFlags
	cf.register(fs)
	passFile := fs.String("passphrase-file", "", "read the passphrase from `FILE`")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ch, err := cf.cheque()
	if err != nil {
		if errors.Is(err, errUsage) {
			fs.Usage()
		}
		return err
	}
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	k, err := c.unlock(e, *passFile)
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
	book, err := wallet.OpenChequeBook(e.bookPath, e.cfg.LockTimeout.Duration)
	if err != nil {
		return err
	}
	if _, err := book.RecordIssued(signed); errors.Is(err, wallet.ErrStale) {
		fmt.Fprintf(c.stderr, "bidtorrent: warning: not recorded: %v\n", err)
	} else if err != nil {
		return err
	}
	out := chequeOut(signed)
	if *asJSON {
		return printJSON(c.stdout, out)
	}
	fmt.Fprintf(c.stdout, "digest    %s\nsignature %s\n", out.Digest, out.Signature)
	return nil
}

// errInvalidCheque makes `cheque verify` exit non-zero.
var errInvalidCheque = errors.New("invalid cheque")

func chequeVerify(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("wallet cheque verify", "")
	var cf chequeFlags
	cf.register(fs)
	payer := fs.String("payer", "", "payer `ADDR` (the expected signer)")
	sigHex := fs.String("signature", "", "65-byte signature r‖s‖v in `HEX`")
	record := fs.Bool("record", false, "if valid and addressed to this wallet, record it in the cheque book as received")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ch, err := cf.cheque()
	if err == nil && (*payer == "" || *sigHex == "") {
		err = fmt.Errorf("--payer and --signature are required: %w", errUsage)
	}
	if err != nil {
		if errors.Is(err, errUsage) {
			fs.Usage()
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
		verr = c.recordReceived(ch)
	}
	out := chequeOut(ch)
	valid := verr == nil
	out.Valid = &valid
	if verr != nil {
		out.Error = verr.Error()
	}
	if *asJSON {
		if err := printJSON(c.stdout, out); err != nil {
			return err
		}
	} else if valid {
		fmt.Fprintf(c.stdout, "valid cheque: %s pays %s a cumulative %s base units (digest %s)\n", ch.Payer, ch.Beneficiary, ch.Cumulative, out.Digest)
	}
	if !valid {
		return fmt.Errorf("%w: %v", errInvalidCheque, verr)
	}
	return nil
}

// recordReceived stores a verified cheque addressed to this wallet.
func (c *cli) recordReceived(ch wallet.Cheque) error {
	e, err := c.walletEnv()
	if err != nil {
		return err
	}
	w, closeChain, err := e.open(nil)
	if err != nil {
		return err
	}
	defer closeChain()
	_, err = w.AcceptCheque(ch)
	return err
}
