package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/bidtorrent/bidtorrent/internal/app"
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
	if err := c.parseArgs(fs, args, 0, "tui takes no arguments"); err != nil {
		return err
	}
	env, err := c.env()
	if err != nil {
		return err
	}
	log, err := env.OpenLog(nil)
	if err != nil {
		return err
	}
	defer log.Close()
	prev := slog.Default()
	slog.SetDefault(log.Logger)
	defer slog.SetDefault(prev)

	o := app.EngineOptions{Logger: log.Logger, LogPath: log.Path, Version: version}
	if !*noWallet {
		if env.Keystore.Exists() {
			key, err := c.unlock(env, *passFile)
			if err != nil {
				return fmt.Errorf("cannot open the wallet (or run with --no-wallet): %w", err)
			}
			if o.Wallet, o.CloseWallet, err = env.OpenWallet(key); err != nil {
				return fmt.Errorf("cannot open the wallet (or run with --no-wallet): %w", err)
			}
		} else {
			log.Info("no wallet in the data dir: the bandwidth market is off (create one with: bidtorrent wallet new)")
		}
	}
	e, err := env.StartEngine(ctx, o)
	if err != nil {
		return err
	}
	uiErr := tui.Run(ctx, e.Engine, env.Config.TUI, c.stdin, c.stdout)
	return errors.Join(uiErr, e.Stop())
}
