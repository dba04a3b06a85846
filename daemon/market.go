package daemon

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/safetext"
	"github.com/bidtorrent/bidtorrent/internal/walletjson"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// The bandwidth market over SSH: `market [--json] [ID]` shows the global
// settings or a torrent's, `market set ... [ID]` changes them.

// marketJSON is `market --json`: prices are per MiB; amounts are objects
// {base_units, value} as in the wallet's JSON. Empty strategies and zero
// amounts mean "not set here" (a torrent then uses the global setting,
// the global setting the built-in default).
type marketJSON struct {
	InfoHash       string            `json:"infohash,omitempty"`
	Name           string            `json:"name,omitempty"`
	Wallet         string            `json:"wallet"` // unlocked, locked or none
	Ask            walletjson.Amount `json:"ask"`
	Bid            walletjson.Amount `json:"bid"`
	Budget         walletjson.Amount `json:"budget"`
	SellerStrategy string            `json:"seller_strategy"`
	BuyerStrategy  string            `json:"buyer_strategy"`
	Price          walletjson.Amount `json:"price"`
	Earned         walletjson.Amount `json:"earned"`
	Spent          walletjson.Amount `json:"spent"`
	Unsettled      walletjson.Amount `json:"unsettled"`
	Sold           int64             `json:"sold_bytes"`
	Bought         int64             `json:"bought_bytes"`
}

func (s *Server) cmdMarket(ctx context.Context, cio cmdIO, args []string) error {
	if len(args) > 0 && args[0] == "set" {
		return s.cmdMarketSet(ctx, cio, args[1:])
	}
	fs := s.flags("market", cio)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError(cio, "Usage: market %s", commandHelp["market"].args)
	}
	snap, err := s.freshSnapshot(ctx)
	if err != nil {
		return err
	}
	dec := decimals(snap)
	amt := func(a wallet.Amount) walletjson.Amount { return walletjson.AmountOf(a, dec) }
	out := marketJSON{Wallet: s.walletState()}
	if len(pos) == 0 {
		g := snap.Market
		out.Ask, out.Bid, out.Budget = amt(g.Ask), amt(g.Bid), amt(g.Budget)
		out.SellerStrategy, out.BuyerStrategy = g.SellerStrategy, g.BuyerStrategy
		out.Earned, out.Spent, out.Unsettled = amt(snap.Totals.Earned), amt(snap.Totals.Spent), amt(snap.Totals.Unsettled)
		out.Price = amt(wallet.Amount{})
	} else {
		ih, err := resolveID(snap.Torrents, pos[0])
		if err != nil {
			return fmt.Errorf("cannot show the market of %s: %w", pos[0], err)
		}
		t, _ := snap.Torrent(ih)
		m := t.Market
		out.InfoHash, out.Name = ih.String(), t.Name
		out.Ask, out.Bid, out.Budget = amt(m.Ask), amt(m.Bid), amt(m.Budget)
		out.SellerStrategy, out.BuyerStrategy = m.SellerStrategy, m.BuyerStrategy
		out.Price, out.Earned, out.Spent, out.Unsettled = amt(m.Price), amt(m.Earned), amt(m.Spent), amt(m.Unsettled)
		out.Sold, out.Bought = m.Sold, m.Bought
	}
	if *asJSON {
		return writeJSON(cio.stdout, out)
	}
	return printMarket(cio.stdout, out)
}

func printMarket(w io.Writer, m marketJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if m.InfoHash != "" {
		fmt.Fprintf(tw, "torrent\t%s %s\n", m.InfoHash, safetext.String(m.Name))
	} else {
		fmt.Fprintf(tw, "global\tdefaults for every torrent\n")
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	fmt.Fprintf(tw, "wallet\t%s\n", m.Wallet)
	fmt.Fprintf(tw, "ask\t%s BTT/MiB\n", m.Ask.Value)
	fmt.Fprintf(tw, "bid\t%s BTT/MiB\n", m.Bid.Value)
	fmt.Fprintf(tw, "budget\t%s BTT\n", m.Budget.Value)
	fmt.Fprintf(tw, "seller strategy\t%s\n", or(m.SellerStrategy, "(default)"))
	fmt.Fprintf(tw, "buyer strategy\t%s\n", or(m.BuyerStrategy, "(default)"))
	if m.InfoHash != "" {
		fmt.Fprintf(tw, "price\t%s BTT/MiB\n", m.Price.Value)
	}
	fmt.Fprintf(tw, "earned\t%s BTT\n", m.Earned.Value)
	fmt.Fprintf(tw, "spent\t%s BTT\n", m.Spent.Value)
	return tw.Flush()
}

func (s *Server) cmdMarketSet(ctx context.Context, cio cmdIO, args []string) error {
	fs := s.flags("market set", cio)
	ask := fs.String("ask", "", "reserve `PRICE` in BTT per MiB for our upload")
	bid := fs.String("bid", "", "most we pay, `PRICE` in BTT per MiB")
	budget := fs.String("budget", "", "most we spend per torrent, `AMOUNT` BTT")
	seller := fs.String("seller-strategy", "", "seller strategy `NAME`: "+strings.Join(strategy.SellerNames(), ", "))
	buyer := fs.String("buyer-strategy", "", "buyer strategy `NAME`: "+strings.Join(strategy.BuyerNames(), ", "))
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError(cio, "Usage: market set %s", commandHelp["market set"].args)
	}
	var m core.MarketSettings
	set := false
	for _, f := range []struct {
		name, v string
		dst     **wallet.Amount
	}{{"--ask", *ask, &m.Ask}, {"--bid", *bid, &m.Bid}, {"--budget", *budget, &m.Budget}} {
		if f.v == "" {
			continue
		}
		a, err := wallet.ParseAmount(strings.TrimSuffix(strings.TrimSpace(f.v), " BTT"), wallet.BTTDecimals)
		if err != nil {
			return usageError(cio, "bad %s %q: want an amount in BTT, e.g. 0.001: %v", f.name, f.v, err)
		}
		*f.dst, set = &a, true
	}
	if *seller != "" {
		if !slices.Contains(strategy.SellerNames(), *seller) {
			return usageError(cio, "bad --seller-strategy %q: want one of %s", *seller, strings.Join(strategy.SellerNames(), ", "))
		}
		m.SellerStrategy, set = seller, true
	}
	if *buyer != "" {
		if !slices.Contains(strategy.BuyerNames(), *buyer) {
			return usageError(cio, "bad --buyer-strategy %q: want one of %s", *buyer, strings.Join(strategy.BuyerNames(), ", "))
		}
		m.BuyerStrategy, set = buyer, true
	}
	if !set {
		return usageError(cio, "market set needs at least one of --ask, --bid, --budget, --seller-strategy, --buyer-strategy")
	}
	if s.wallet == nil {
		return errNoWalletHere
	}
	if _, err := s.wallet.Wallet(); err != nil {
		return err
	}
	var ih core.InfoHash
	if len(pos) == 1 {
		snap, err := s.snapshotFor(ctx, pos[0])
		if err != nil {
			return err
		}
		if ih, err = resolveID(snap.Torrents, pos[0]); err != nil {
			return fmt.Errorf("cannot set the market of %s: %w", pos[0], err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if err := s.eng.SetMarket(cctx, ih, m); err != nil {
		return fmt.Errorf("cannot set the market: %w", err)
	}
	if ih == (core.InfoHash{}) {
		fmt.Fprintln(cio.stdout, "global market set")
	} else {
		fmt.Fprintln(cio.stdout, ih.String())
	}
	return nil
}

// freshWait bounds the wait for a fresh snapshot where a stale one would
// do (an engine publishes a few per second).
var freshWait = 3 * time.Second

// freshSnapshot waits for a snapshot taken after the call, so that what a
// script just set shows.
func (s *Server) freshSnapshot(ctx context.Context) (core.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	start := time.Now()
	ch, unsub := s.eng.Subscribe()
	defer unsub()
	for {
		select {
		case snap, ok := <-ch:
			if !ok {
				return core.Snapshot{}, core.ErrClosed
			}
			if snap.Time.After(start) {
				return snap, nil
			}
		case <-ctx.Done():
			return core.Snapshot{}, fmt.Errorf("no status from the engine: %w", ctx.Err())
		}
	}
}
