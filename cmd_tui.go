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
// until the user quits, then shuts the engine down. Logs go to
// DATA_DIR/bidtorrent.log, never onto the screen.
func runTUI(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("tui", "")
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

	e, err := core.New(cfg.Engine, dataDir, core.WithLogger(log), core.WithClientVersion("bidtorrent "+version))
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
