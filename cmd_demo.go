package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/demo"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/tui"
)

// errNotConserved is the headless demo's failure when the money does not
// add up.
var errNotConserved = errors.New("money is not conserved")

func runDemo(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("demo", "")
	headless := fs.Bool("headless", false, "run without a terminal for --duration and print a table per node")
	duration := fs.Duration("duration", 60*time.Second, "how long --headless runs")
	asJSON := fs.Bool("json", false, "with --headless: print the report as JSON")
	bench := fs.Bool("bench", false, "run the market benchmark (market on vs off, several strategies) and print a table")
	size := fs.String("size", "64MiB", "the generated torrent's payload")
	rate := fs.String("rate", "4MiB", "each seeder's upload capacity per second")
	round := fs.Duration("round", 2*time.Second, "the sellers' market round")
	freeShare := fs.Float64("free-share", 0, "with --bench: the seeder's share of upload for peers without an award (default: the engine's)")
	keep := fs.String("keep", "", "work in `DIR` and keep it (default: a temp dir removed on exit)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	sz, err := bytesize.Parse(*size)
	if err != nil || sz < 1<<20 {
		return fmt.Errorf("--size %q: want at least 1MiB, e.g. 64MiB", *size)
	}
	rt, err := core.ParseRate(*rate)
	if err != nil || rt <= 0 {
		return fmt.Errorf("--rate %q: want bytes per second, e.g. 4MiB", *rate)
	}
	dir := *keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "bidtorrent-demo-"); err != nil {
			return fmt.Errorf("cannot create the demo's temp dir: %w", err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create the demo's dir: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "demo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open the demo's log: %w", err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	prev := slog.Default()
	slog.SetDefault(log)
	defer slog.SetDefault(prev)

	if *bench {
		return demo.Bench(ctx, demo.BenchOptions{Dir: dir, Size: int64(sz), Rate: int64(rt), Round: *round, FreeShare: *freeShare, Logger: log}, c.stdout)
	}
	opts := demo.DefaultOptions()
	opts.Dir, opts.Size, opts.Rate, opts.Round, opts.Logger = dir, int64(sz), int64(rt), *round, log
	if *headless {
		return demoHeadless(ctx, c, opts, *duration, *asJSON)
	}
	fmt.Fprintf(c.stderr, "bidtorrent demo: generating a %s torrent and starting the swarm in %s ...\n", bytesize.Format(int64(sz)), dir)
	sw, err := demo.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer sw.Close()
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, err := demo.NewModel(uctx, demo.NewSwitcher(sw, len(opts.Seeders)), tui.DefaultConfig())
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = tea.NewProgram(m, tea.WithContext(uctx), tea.WithInput(c.stdin), tea.WithOutput(c.stdout), tea.WithFPS(tui.FPS)).Run()
	switch {
	case err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled):
	case errors.Is(err, tea.ErrInterrupted):
	case err != nil:
		return fmt.Errorf("terminal UI failed: %w", err)
	}
	if err := sw.Close(); err != nil {
		log.Warn("demo swarm stopped with an error", "err", err)
	}
	return nil
}

func demoHeadless(ctx context.Context, c *cli, opts demo.Options, d time.Duration, asJSON bool) error {
	sw, err := demo.Start(ctx, opts)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	if err := sw.Close(); err != nil {
		fmt.Fprintf(c.stderr, "bidtorrent demo: %v\n", err)
	}
	rep, err := sw.Settle(context.Background())
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteTable(c.stdout); err != nil {
		return err
	}
	if !rep.Money.Conserved() {
		return errNotConserved
	}
	return nil
}
