package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/cliargs"
	"github.com/bidtorrent/bidtorrent/internal/safetext"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// payTimeout is how long tip, buy and pledge wait by default for the
// receiver to connect and acknowledge (a payment to the publisher waits
// for a publisher peer).
const payTimeout = 2 * time.Minute

func (s *Server) cmdTip(ctx context.Context, io cmdIO, args []string) error {
	fs := s.flags("tip", io)
	to := fs.String("to", core.ToPublisher, "who is paid: a connected peer's `HOST:PORT`, or publisher (the torrent's payee)")
	memo := fs.String("memo", "", fmt.Sprintf("a `TEXT` for the receiver (at most %d bytes)", wallet.MaxMemo))
	timeout := fs.Duration("timeout", payTimeout, "give up after `DURATION` without an acknowledgement")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	recipient, err := cliargs.Recipient(*to)
	if err != nil {
		return usageError(io, "%v", err)
	}
	if err := cliargs.CheckMemo(*memo); err != nil {
		return usageError(io, "bad --memo: %v", err)
	}
	pay, err := s.payArgs(ctx, io, "tip", pos, *timeout)
	if err != nil {
		return err
	}
	who := recipient
	if recipient == core.ToPublisher {
		who = "the publisher"
		if pay.t.Terms != nil {
			who += " " + pay.t.Terms.Payee.String()
		}
	}
	what := "tip " + who + " for " + pay.t.Name
	err = pay.do(ctx, func(ctx context.Context) error {
		return s.eng.Tip(ctx, pay.t.InfoHash, recipient, pay.amount, *memo)
	})
	if err != nil {
		return pay.failed(what, err)
	}
	line := "tipped " + pay.sum() + " to " + who + " for " + pay.t.Name
	if *memo != "" {
		line += ": " + strconv.Quote(*memo)
	}
	fmt.Fprintln(io.stdout, line)
	return nil
}

func (s *Server) cmdBuy(ctx context.Context, io cmdIO, args []string) error {
	fs := s.flags("buy", io)
	maxPrice := fs.String("max-price", "", "refuse a price above `AMOUNT` BTT")
	timeout := fs.Duration("timeout", payTimeout, "give up after `DURATION` without a licence")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var limit wallet.Amount
	if *maxPrice != "" {
		if limit, err = parseBTT(*maxPrice); err != nil {
			return usageError(io, "bad --max-price: %v", err)
		}
	}
	if len(pos) != 1 {
		return usageError(io, "Usage: buy %s", commandHelp["buy"].args)
	}
	pay, err := s.payTorrent(ctx, io, "buy", pos[0], *timeout)
	if err != nil {
		return err
	}
	if pay.t.Licensed {
		fmt.Fprintln(io.stdout, safetext.String(pay.t.Name)+": already licensed, nothing paid")
		return nil
	}
	if limit.IsZero() {
		// A remote command has no terminal to confirm a price on: the
		// price must be accepted explicitly.
		price := "whatever price the publisher set"
		if pay.t.Terms != nil && !pay.t.Terms.Price.IsZero() {
			pay.amount = pay.t.Terms.Price
			price = pay.sum()
		}
		return fmt.Errorf("cannot buy %s without --max-price: it would pay %s; pass --max-price AMOUNT to accept a price", pay.t.Name, price)
	}
	err = pay.do(ctx, func(ctx context.Context) error {
		return s.eng.Buy(ctx, pay.t.InfoHash, limit)
	})
	if err != nil {
		return pay.failed("buy "+pay.t.Name, err)
	}
	line := "bought " + pay.t.Name
	if pay.t.Terms != nil {
		pay.amount = pay.t.Terms.Price
		line += " for " + pay.sum() + " from " + pay.t.Terms.Payee.String()
	}
	fmt.Fprintln(io.stdout, line+": licensed")
	return nil
}

func (s *Server) cmdPledge(ctx context.Context, io cmdIO, args []string) error {
	fs := s.flags("pledge", io)
	timeout := fs.Duration("timeout", payTimeout, "give up after `DURATION` without an acknowledgement")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	pay, err := s.payArgs(ctx, io, "pledge", pos, *timeout)
	if err != nil {
		return err
	}
	err = pay.do(ctx, func(ctx context.Context) error {
		return s.eng.Pledge(ctx, pay.t.InfoHash, pay.amount)
	})
	if err != nil {
		return pay.failed("pledge to "+pay.t.Name, err)
	}
	line := "pledged " + pay.sum() + " to " + pay.t.Name
	if snap, ok := s.latest(); ok {
		if t, ok := snap.Torrent(pay.t.InfoHash); ok && t.Campaign != nil {
			c := t.Campaign
			line += fmt.Sprintf(" (campaign: %s / %s %s, %d pledges, deadline %s)", c.Pledged.Format(pay.dec),
				c.Goal.Format(pay.dec), pay.token, c.Count, c.Deadline.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintln(io.stdout, line)
	return nil
}

// payment is one tip, purchase or pledge being made by a remote command.
type payment struct {
	t       core.Torrent
	amount  wallet.Amount
	timeout time.Duration
	dec     int
	token   string
}

// payArgs reads AMOUNT ID (the amount may be two words: 0.5 BTT).
func (s *Server) payArgs(ctx context.Context, io cmdIO, name string, pos []string, timeout time.Duration) (*payment, error) {
	pos = cliargs.AmountFirst(pos)
	if len(pos) != 2 {
		return nil, usageError(io, "Usage: %s %s", name, commandHelp[name].args)
	}
	amount, err := parseBTT(pos[0])
	if err != nil {
		return nil, usageError(io, "bad amount: %v", err)
	}
	pay, err := s.payTorrent(ctx, io, name, pos[1], timeout)
	if err != nil {
		return nil, err
	}
	pay.amount = amount
	return pay, nil
}

// payTorrent finds the torrent ID a payment (name: tip, buy, pledge) is
// about and checks the timeout.
func (s *Server) payTorrent(ctx context.Context, io cmdIO, name, id string, timeout time.Duration) (*payment, error) {
	if timeout <= 0 {
		return nil, usageError(io, "bad --timeout %s: must be more than 0", timeout)
	}
	snap, err := s.snapshotFor(ctx, id)
	if err != nil {
		return nil, err
	}
	ih, err := resolveID(snap.Torrents, id)
	if err != nil {
		return nil, fmt.Errorf("cannot %s %s: %w", name, id, err)
	}
	tok := snap.Wallet.Token
	if tok == "" {
		tok = "BTT"
	}
	t, _ := snap.Torrent(ih) // resolveID found it
	return &payment{t: t, timeout: timeout, dec: decimals(snap), token: tok}, nil
}

// do calls the engine within the payment's timeout.
func (p *payment) do(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return fn(ctx)
}

// failed is the one line a payment that did not go through prints.
func (p *payment) failed(what string, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot %s: no acknowledgement within %s (is the receiver connected? try --timeout)", what, p.timeout)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("cannot %s: interrupted", what)
	}
	return fmt.Errorf("cannot %s: %w", what, err)
}

func (p *payment) sum() string { return p.amount.Format(p.dec) + " " + p.token }

// parseBTT parses a positive amount in BTT ("12.5", "0.5 BTT").
func parseBTT(s string) (wallet.Amount, error) {
	a, err := cliargs.ParseBTT(s)
	if err != nil {
		return wallet.Amount{}, err
	}
	if a.IsZero() {
		return wallet.Amount{}, fmt.Errorf("amount %q must be more than 0", s)
	}
	return a, nil
}

// parseInterspersed parses flags before, between or after the positional
// arguments (`tip 1 ab12 --memo thanks`) and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	return cliargs.Interspersed(fs, args, parse)
}

// usageError prints one line about a bad argument and makes the command
// exit with the usage status.
func usageError(io cmdIO, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if !strings.HasPrefix(msg, "Usage:") {
		msg = "bidtorrent: " + msg
	}
	fmt.Fprintln(io.stderr, msg)
	return errBadUsage
}
