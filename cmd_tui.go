package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/tui"
)

// runTUI starts the engine on the data dir and runs the terminal UI on it
// until the user quits, then shuts the engine down. When the data dir has
// a wallet keystore it is unlocked first (before the screen is taken) and
// the bandwidth market is on. Logs go to DATA_DIR/bidtorrent.log, never
// onto the screen.
func runTUI(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("tui", "")
	passFile := fs.String("passphrase-file", "", "read the wallet passphrase from `FILE` (default: $"+passphraseEnv+" or a prompt)")
	noWallet := fs.Bool("no-wallet", false, "do not open the wallet: no bandwidth market")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return argsError(c, usager{fs.Usage}, "tui takes no arguments")
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	dataDir, err := c.defaultDataDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create data dir: %w", err)
	}
	logPath := filepath.Join(dataDir, "bidtorrent.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open log file: %w", err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	prev := slog.Default()
	slog.SetDefault(log)
	defer slog.SetDefault(prev)

	opts := []core.Option{core.WithLogger(log), core.WithClientVersion("bidtorrent " + version)}
	if !*noWallet {
		we, err := c.env()
		if err != nil {
			return err
		}
		if we.Keystore.Exists() {
			key, err := c.unlock(we, *passFile)
			if err != nil {
				return fmt.Errorf("cannot open the wallet (or run with --no-wallet): %w", err)
			}
			w, closeChain, err := we.OpenWallet(key)
			if err != nil {
				return fmt.Errorf("cannot open the wallet (or run with --no-wallet): %w", err)
			}
			defer closeChain()
			opts = append(opts, core.WithWallet(w))
		} else {
			log.Info("no wallet in the data dir: the bandwidth market is off (create one with: bidtorrent wallet new)")
		}
	}
	e, err := core.New(cfg.Engine, dataDir, opts...)
	if err != nil {
		return err
	}
	// The engine outlives the UI's context so that quitting on a signal
	// still shuts it down in order.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()

	uiErr := tui.Run(ctx, e, cfg.TUI, c.stdin, c.stdout)
	cancel()
	engErr := <-done
	if engErr != nil {
		engErr = fmt.Errorf("engine: %w (see %s)", engErr, logPath)
	}
	return errors.Join(uiErr, engErr)
}
