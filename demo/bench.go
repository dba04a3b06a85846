package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// BenchOptions configure Bench. Zero fields take the demo's defaults.
type BenchOptions struct {
	Dir   string // work dir, created and removed by the caller
	Size  int64
	Rate  int64
	Round time.Duration
	// FreeShare is the seeder's free share (0: the engine's default).
	FreeShare float64
	// Timeout bounds each scenario.
	Timeout time.Duration
	Logger  *slog.Logger
}

// BenchScenario is one run of the contended swarm.
type BenchScenario struct {
	Seller, Buyer string // strategies; Seller "free" is the market off
}

// BenchResult is what one scenario measured.
type BenchResult struct {
	BenchScenario
	Report Report
	// Bidder and Legacy are the mean completion times of the two kinds.
	Bidder, Legacy time.Duration
	// SellerSold is the seeder's upload in bytes; SellerEarned what it
	// earned.
	SellerSold   int64
	SellerEarned wallet.Amount
}

// BenchScenarios are the runs of Bench: the market off, then uniform and
// propshare sellers with fixed and adaptive buyers.
func BenchScenarios() []BenchScenario {
	out := []BenchScenario{{Seller: strategy.SellerFree, Buyer: strategy.BuyerFixed}}
	for _, s := range []string{strategy.SellerUniform, strategy.SellerPropShare} {
		for _, b := range []string{strategy.BuyerFixed, strategy.BuyerAdaptive} {
			out = append(out, BenchScenario{Seller: s, Buyer: b})
		}
	}
	return out
}

// benchSwarm is the contended swarm: one seeder, two bidders (5 and 3
// BTT/MiB), two legacy leechers, one paid slot, no replacement.
func benchSwarm(o BenchOptions, sc BenchScenario, dir string, firstIP int) Options {
	opts := DefaultOptions()
	opts.Dir, opts.Logger, opts.Replace, opts.FirstIP, opts.Slots = dir, o.Logger, false, firstIP, 1
	if o.Size > 0 {
		opts.Size = o.Size
	}
	if o.Rate > 0 {
		opts.Rate = o.Rate
	}
	if o.Round > 0 {
		opts.Round = o.Round
	}
	opts.FreeShare = o.FreeShare
	opts.Tip = wallet.Amount{} // the benchmark prices bandwidth alone
	opts.Seeders = []Spec{{Name: "seeder", Role: RoleSeeder, Strategy: sc.Seller}}
	opts.Leechers = []Spec{
		{Name: "bidder-1 (5)", Role: RoleBidder, Strategy: sc.Buyer, Bid: BTT("5")},
		{Name: "bidder-2 (3)", Role: RoleBidder, Strategy: sc.Buyer, Bid: BTT("3")},
		{Name: "legacy-1", Role: RoleLegacy},
		{Name: "legacy-2", Role: RoleLegacy},
	}
	return opts
}

// RunScenario runs one scenario until every leecher completes.
func RunScenario(ctx context.Context, o BenchOptions, sc BenchScenario, dir string, firstIP int) (BenchResult, error) {
	res := BenchResult{BenchScenario: sc}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Minute
	}
	sw, err := Start(ctx, benchSwarm(o, sc, dir, firstIP))
	if err != nil {
		return res, err
	}
	defer sw.Close()
	deadline := time.Now().Add(o.Timeout)
	for {
		done := 0
		for _, n := range sw.Live() {
			if n.Role == RoleSeeder || !n.Finished().IsZero() {
				done++
			}
		}
		if done == len(sw.Live()) {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("scenario %s/%s: not every leecher completed within %s", sc.Seller, sc.Buyer, o.Timeout)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := sw.Close(); err != nil {
		return res, err
	}
	if res.Report, err = sw.Settle(ctx); err != nil {
		return res, err
	}
	var nb, nl int
	for _, n := range res.Report.Nodes {
		switch n.Role {
		case RoleBidder:
			res.Bidder += n.Completion
			nb++
		case RoleLegacy:
			res.Legacy += n.Completion
			nl++
		case RoleSeeder:
			res.SellerSold, res.SellerEarned = n.Uploaded, n.Earned
		}
	}
	res.Bidder /= time.Duration(max(nb, 1))
	res.Legacy /= time.Duration(max(nl, 1))
	return res, nil
}

// Bench runs every scenario of BenchScenarios and prints one table to w.
// It fails when a scenario fails or money is not conserved in one.
func Bench(ctx context.Context, o BenchOptions, w io.Writer) error {
	d := DefaultOptions()
	positiveOr(&o.Size, d.Size)
	positiveOr(&o.Rate, d.Rate)
	positiveOr(&o.Round, d.Round)
	free := o.FreeShare
	positiveOr(&free, core.DefaultMarketConfig().FreeShare)
	fmt.Fprintf(w, "contended swarm: %s torrent, one seeder at %s/s, 2 bidders (5 and 3 BTT/MiB), 2 legacy, 1 paid slot, free share %.2f, %s rounds, ask 1 BTT/MiB\n\n",
		bytesize.Format(o.Size), bytesize.Format(o.Rate), free, o.Round)
	var off time.Duration
	var results []BenchResult
	conserved := true
	for i, sc := range BenchScenarios() {
		dir := filepath.Join(o.Dir, fmt.Sprintf("bench-%d-%s-%s", i, sc.Seller, sc.Buyer))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		res, err := RunScenario(ctx, o, sc, dir, 10+i*10)
		if err != nil {
			return fmt.Errorf("benchmark scenario %s/%s: %w", sc.Seller, sc.Buyer, err)
		}
		_ = os.RemoveAll(dir)
		if sc.Seller == strategy.SellerFree {
			off = res.Legacy
		}
		conserved = conserved && res.Report.Money.Conserved()
		results = append(results, res)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SELLER\tBUYER\tBIDDER-1\tBIDDER-2\tLEGACY-1\tLEGACY-2\tSPEED-UP\tLEGACY SLOWDOWN\tSELLER EARNED/MiB UP\tCONSERVED\t")
	for _, r := range results {
		times := []string{}
		for _, n := range r.Report.Nodes {
			if n.Role != RoleSeeder {
				times = append(times, fmt.Sprintf("%.1fs", n.Completion.Seconds()))
			}
		}
		seller := r.Seller
		if seller == strategy.SellerFree {
			seller += " (off)"
		}
		perMiB := "-"
		if r.SellerSold > 0 && !r.SellerEarned.IsZero() {
			// base units per MiB, exact division rounded down
			a, err := r.SellerEarned.MulDiv(1<<20, uint64(r.SellerSold))
			if err == nil {
				perMiB = a.Format(wallet.BTTDecimals) + " BTT"
			}
		}
		slow := "-"
		if off > 0 {
			slow = fmt.Sprintf("%.2fx", r.Legacy.Seconds()/off.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2fx\t%s\t%s\t%v\t\n", seller, r.Buyer, strings.Join(times, "\t"),
			r.Legacy.Seconds()/max(r.Bidder.Seconds(), 1e-9), slow, perMiB, r.Report.Money.Conserved())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nSPEED-UP is the legacy peers' mean completion time over the bidders'; LEGACY SLOWDOWN their mean time over the market-off run's; SELLER EARNED/MiB UP is the seeder's earnings over every MiB it uploaded (paid and free).")
	if !conserved {
		for _, r := range results {
			for _, p := range r.Report.Money.Problems {
				fmt.Fprintf(w, "%s/%s: %s\n", r.Seller, r.Buyer, p)
			}
		}
		return errNotConserved
	}
	return nil
}
