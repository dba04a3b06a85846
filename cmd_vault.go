package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// vaultVerbs are `bidtorrent wallet vault` sub-commands: the payer's
// cheque vault on TRON (contracts/ChequeVault.sol, made by the
// vault_factory), README "A cheque vault on TRON".
var vaultVerbs = []walletVerb{
	{name: "vault deploy", usage: "[--delay 24h] [--fee-limit TRX] [--passphrase-file F] [--json]",
		summary: "create this wallet's vault at the configured vault_factory", pass: "read the passphrase from `FILE`", setup: vaultDeploy},
	{name: "vault deposit", usage: "[--passphrase-file F] [--json] AMOUNT", summary: "move AMOUNT BTT into the vault (approve, then deposit)",
		pass: "read the passphrase from `FILE`", amount: true, setup: vaultDeposit},
	{name: "vault withdraw-request", usage: "[--passphrase-file F] [--json] AMOUNT",
		summary: "announce a withdrawal of AMOUNT BTT (0 cancels), possible after the vault's delay", pass: "read the passphrase from `FILE`", amount: true, setup: vaultRequest},
	{name: "vault withdraw", usage: "[--passphrase-file F] [--json]", summary: "make the announced withdrawal once it is due",
		pass: "read the passphrase from `FILE`", setup: vaultWithdraw},
	{name: "vault reserve", usage: "[--passphrase-file F] [--json] PAYEE AMOUNT",
		summary: "reserve AMOUNT BTT of the vault for PAYEE alone (its cover: only its cashes take it)", pass: "read the passphrase from `FILE`",
		payee: true, amount: true, setup: vaultReserve},
	{name: "vault unreserve-request", usage: "[--passphrase-file F] [--json] PAYEE AMOUNT",
		summary: "announce lowering PAYEE's reservation by AMOUNT BTT (0 cancels), possible after the vault's delay", pass: "read the passphrase from `FILE`",
		payee: true, amount: true, setup: vaultUnreserveRequest},
	{name: "vault unreserve", usage: "[--passphrase-file F] [--json] PAYEE", summary: "apply the announced lowering of PAYEE's reservation once it is due",
		pass: "read the passphrase from `FILE`", payee: true, setup: vaultUnreserve},
	{name: "vault show", usage: "[--address ADDR] [--json]", summary: "print a payer's vault: balance, reservations, announced withdrawal, collateral", setup: vaultShow},
	{name: "vault deploy-factory", usage: "[--fee-limit TRX] [--passphrase-file F] [--json]",
		summary: "deploy a VaultFactory (once per network; then set vault_factory)", pass: "read the passphrase from `FILE`", setup: vaultDeployFactory},
}

// walletVault dispatches `bidtorrent wallet vault SUBCOMMAND`.
func walletVault(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		for _, v := range vaultVerbs {
			if v.name == "vault "+args[0] {
				return c.runWalletVerb(ctx, v, args[1:])
			}
		}
	}
	fmt.Fprintf(c.stderr, "Usage: bidtorrent wallet vault COMMAND [flags]\n\nCommands:\n")
	for _, v := range vaultVerbs {
		fmt.Fprintf(c.stderr, "  %-18s %s\n", v.name[len("vault "):], v.summary)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return flag.ErrHelp
	}
	return errUsage
}

// tronChain opens the configured chain, which must be TRON.
func (r *walletRun) tronChain() (*tron.Chain, error) {
	ch, err := r.chain()
	if err != nil {
		return nil, err
	}
	t, ok := ch.(*tron.Chain)
	if !ok {
		return nil, fmt.Errorf("cheque vaults exist on TRON, not on the %s chain: %w", ch.Name(), wallet.ErrNotSupported)
	}
	return t, nil
}

// signer unlocks the key and opens TRON.
func (r *walletRun) signer() (*wallet.Key, *tron.Chain, error) {
	k, err := r.key()
	if err != nil {
		return nil, nil, err
	}
	t, err := r.tronChain()
	return k, t, err
}

// vaultJSON is `wallet vault show`'s output (and deploy's).
type vaultJSON struct {
	Vault          string            `json:"vault"`
	Issuer         string            `json:"issuer"`
	Token          string            `json:"token"`
	DelaySeconds   int64             `json:"withdraw_delay_seconds"`
	Balance        amountJSON        `json:"balance"`
	Reserved       amountJSON        `json:"reserved"`   // all reservations
	Unreserved     amountJSON        `json:"unreserved"` // balance − reserved
	Withdrawal     amountJSON        `json:"withdrawal"`
	WithdrawalTime int64             `json:"withdrawal_time,omitempty"` // unix seconds
	Collateral     amountJSON        `json:"collateral"`                // unreserved − withdrawal: shared by all payees
	Reservations   []reservationJSON `json:"reservations"`
}

// reservationJSON is one payee's reservation in vaultJSON.
type reservationJSON struct {
	Payee        string     `json:"payee"`
	Amount       amountJSON `json:"amount"`
	Decrease     amountJSON `json:"decrease"`                // announced lowering
	DecreaseTime int64      `json:"decrease_time,omitempty"` // unix seconds it may be applied from
	Held         amountJSON `json:"held"`                    // amount − decrease: what the payee counts on
}

func vaultOut(s tron.VaultState) vaultJSON {
	b := func(a wallet.Amount) amountJSON { return amountOut(a, wallet.BTTDecimals) }
	out := vaultJSON{Vault: s.Vault.String(), Issuer: s.Issuer.String(), Token: s.Token.String(), DelaySeconds: int64(s.Delay / time.Second),
		Balance: b(s.Balance), Reserved: b(s.Reserved), Unreserved: b(s.Unreserved), Withdrawal: b(s.Withdrawal),
		Collateral: b(s.Collateral), Reservations: []reservationJSON{}}
	if !s.Withdrawal.IsZero() {
		out.WithdrawalTime = s.WithdrawalTime.Unix()
	}
	for _, r := range s.Reservations {
		rj := reservationJSON{Payee: r.Beneficiary.String(), Amount: b(r.Amount), Decrease: b(r.Decrease), Held: b(r.Held)}
		if !r.Decrease.IsZero() {
			rj.DecreaseTime = r.DecreaseTime.Unix()
		}
		out.Reservations = append(out.Reservations, rj)
	}
	return out
}

func printVault(w io.Writer, s tron.VaultState) {
	f := func(a wallet.Amount) string { return a.Format(wallet.BTTDecimals) }
	fmt.Fprintf(w, "vault       %s (of %s)\nbalance     %s BTT\nreserved    %s BTT for %d payee(s)\n", s.Vault, s.Issuer, f(s.Balance), f(s.Reserved), len(s.Reservations))
	if !s.Withdrawal.IsZero() {
		fmt.Fprintf(w, "withdrawal  %s BTT announced, possible from %s\n", f(s.Withdrawal), s.WithdrawalTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "collateral  %s BTT unreserved (shared by all payees)\ndelay       %s\n", f(s.Collateral), s.Delay)
	for _, r := range s.Reservations {
		fmt.Fprintf(w, "reserved    %s BTT for %s", f(r.Amount), r.Beneficiary)
		if !r.Decrease.IsZero() {
			fmt.Fprintf(w, " (lowering by %s BTT announced, possible from %s; it counts on %s)", f(r.Decrease), r.DecreaseTime.UTC().Format(time.RFC3339), f(r.Held))
		}
		fmt.Fprintln(w)
	}
}

// feeLimit adds --fee-limit (in TRX) with a default for deployments.
func feeLimit(fs *flag.FlagSet) *int64 {
	return fs.Int64("fee-limit", 150, "most `TRX` the deployment may burn for energy")
}

func vaultDeploy(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	delay := fs.Duration("delay", 24*time.Hour, "withdrawal delay (at least 24h)")
	limit := feeLimit(fs)
	return func(ctx context.Context, r *walletRun) error {
		k, t, err := r.signer()
		if err != nil {
			return err
		}
		v, rc, err := t.WithFeeLimit(*limit*1_000_000).CreateVault(ctx, k, *delay)
		if err != nil {
			return err
		}
		s, err := t.Vault(ctx, v)
		if err != nil {
			return err
		}
		return r.print(vaultOut(s), func(w io.Writer) {
			fmt.Fprintf(w, "created vault %s (tx %s)\n", v, rc.TxID)
			printVault(w, s)
		})
	}
}

func vaultDeployFactory(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	limit := feeLimit(fs)
	return func(ctx context.Context, r *walletRun) error {
		k, t, err := r.signer()
		if err != nil {
			return err
		}
		f, rc, err := t.WithFeeLimit(*limit*1_000_000).DeployFactory(ctx, k)
		if err != nil {
			return err
		}
		return r.print(struct {
			Factory string `json:"factory"`
			TxID    string `json:"txid"`
		}{f.String(), rc.TxID}, func(w io.Writer) {
			fmt.Fprintf(w, "deployed VaultFactory %s (tx %s)\nset vault_factory = %q in the [wallet] config section\n", f, rc.TxID, f.String())
		})
	}
}

// vaultAmountVerb runs op with the parsed AMOUNT and prints its receipt.
func vaultAmountVerb(what string, op func(context.Context, *tron.Chain, *wallet.Key, wallet.Amount) (wallet.Receipt, error)) func(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(fs *flag.FlagSet) func(context.Context, *walletRun) error {
		return func(ctx context.Context, r *walletRun) error {
			amt, err := parseBTT(r.amount)
			if err != nil {
				return err
			}
			k, t, err := r.signer()
			if err != nil {
				return err
			}
			rc, err := op(ctx, t, k, amt)
			if err != nil {
				return err
			}
			out := receiptOut(rc, amt)
			return r.print(out, func(w io.Writer) { fmt.Fprintf(w, "%s %s BTT (tx %s)\n", what, out.Amount.Value, rc.TxID) })
		}
	}
}

var (
	vaultDeposit = vaultAmountVerb("deposited", func(ctx context.Context, t *tron.Chain, k *wallet.Key, a wallet.Amount) (wallet.Receipt, error) {
		if a.IsZero() {
			return wallet.Receipt{}, fmt.Errorf("cannot deposit zero")
		}
		return t.Deposit(ctx, k, a)
	})
	vaultRequest = vaultAmountVerb("announced a withdrawal of", func(ctx context.Context, t *tron.Chain, k *wallet.Key, a wallet.Amount) (wallet.Receipt, error) {
		return t.RequestWithdrawal(ctx, k, a)
	})
)

func vaultWithdraw(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(ctx context.Context, r *walletRun) error {
		k, t, err := r.signer()
		if err != nil {
			return err
		}
		rc, err := t.Withdraw(ctx, k)
		if err != nil {
			return err
		}
		out := receiptJSON{TxID: rc.TxID, From: rc.From.String(), To: rc.To.String(), Block: rc.Block}
		return r.print(out, func(w io.Writer) { fmt.Fprintf(w, "withdrew the announced amount (tx %s)\n", rc.TxID) })
	}
}

func vaultShow(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	addr := fs.String("address", "", "the payer `ADDR` (default: this wallet)")
	return func(ctx context.Context, r *walletRun) error {
		t, err := r.tronChain()
		if err != nil {
			return err
		}
		payer, err := r.address(*addr)
		if err != nil {
			return err
		}
		v, err := t.VaultOf(ctx, payer)
		if err != nil {
			return err
		}
		s, err := t.Reservations(ctx, v)
		if err != nil {
			return err
		}
		return r.print(vaultOut(s), func(w io.Writer) { printVault(w, s) })
	}
}

// vaultPayeeVerb runs op with the parsed PAYEE (and AMOUNT, for amount
// verbs) and prints its receipt.
func vaultPayeeVerb(what string, op func(context.Context, *tron.Chain, *wallet.Key, wallet.Address, wallet.Amount) (wallet.Receipt, error)) func(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(fs *flag.FlagSet) func(context.Context, *walletRun) error {
		return func(ctx context.Context, r *walletRun) error {
			payee, err := wallet.ParseAddress(r.payee)
			if err != nil {
				return fmt.Errorf("PAYEE %q: %w", r.payee, err)
			}
			var amt wallet.Amount
			if r.amount != "" {
				if amt, err = parseBTT(r.amount); err != nil {
					return err
				}
			}
			k, t, err := r.signer()
			if err != nil {
				return err
			}
			rc, err := op(ctx, t, k, payee, amt)
			if err != nil {
				return err
			}
			out := receiptOut(rc, amt)
			return r.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "%s %s (tx %s)\n", what, payee, rc.TxID)
			})
		}
	}
}

var (
	vaultReserve = vaultPayeeVerb("reserved for", func(ctx context.Context, t *tron.Chain, k *wallet.Key, p wallet.Address, a wallet.Amount) (wallet.Receipt, error) {
		return t.Reserve(ctx, k, p, a)
	})
	vaultUnreserveRequest = vaultPayeeVerb("announced lowering the reservation of", func(ctx context.Context, t *tron.Chain, k *wallet.Key, p wallet.Address, a wallet.Amount) (wallet.Receipt, error) {
		return t.RequestUnreserve(ctx, k, p, a)
	})
	vaultUnreserve = vaultPayeeVerb("lowered the reservation of", func(ctx context.Context, t *tron.Chain, k *wallet.Key, p wallet.Address, _ wallet.Amount) (wallet.Receipt, error) {
		return t.Unreserve(ctx, k, p)
	})
)
