package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bidtorrent/bidtorrent/automation"
	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/daemon"
)

// runDaemon runs the engine without a terminal, with the SSH server (a TUI
// per session with a terminal, remote commands otherwise), the automation
// policy and, when configured, the /metrics endpoint. A signal stops the
// SSH server and automation first, then the engine (which persists its
// state on the way out). Logs go to stderr and DATA_DIR/bidtorrent.log.
func runDaemon(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("daemon", "")
	sshListen := fs.String("ssh-listen", "", "SSH server `HOST:PORT` (default: [daemon] ssh_listen, 127.0.0.1:2222)")
	keys := fs.String("authorized-keys", "", "OpenSSH authorized_keys `FILE` listing who may attach (default: [daemon] authorized_keys, or DATA_DIR/authorized_keys)")
	metrics := fs.String("metrics-listen", "", "serve Prometheus /metrics on `HOST:PORT` (default: [daemon] metrics_listen, off); token amounts there are floats in whole tokens, for graphs only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return argsError(c, usager{fs.Usage}, "daemon takes no arguments")
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	dcfg, acfg := cfg.Daemon, cfg.Automation
	if *sshListen != "" {
		dcfg.SSHListen = *sshListen
	}
	if *keys != "" {
		dcfg.AuthorizedKeys = *keys
	}
	if *metrics != "" {
		dcfg.MetricsListen = *metrics
	}
	if err := dcfg.Validate(); err != nil {
		return fmt.Errorf("[daemon] %w", err)
	}
	dataDir, err := c.defaultDataDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create data dir: %w", err)
	}
	keysPath := dcfg.AuthorizedKeys
	if keysPath == "" {
		keysPath = filepath.Join(dataDir, "authorized_keys")
	}
	if _, err := os.Stat(keysPath); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no authorized keys at %s: put the public keys allowed to attach there "+
			"(e.g. cat ~/.ssh/id_ed25519.pub >> %s) or pass --authorized-keys FILE", keysPath, keysPath)
	}

	logPath := filepath.Join(dataDir, "bidtorrent.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open log file: %w", err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(c.stderr, logf), &slog.HandlerOptions{Level: slog.LevelInfo}))

	e, err := core.New(cfg.Engine, dataDir, core.WithLogger(log), core.WithClientVersion("bidtorrent "+version))
	if err != nil {
		return err
	}
	// The engine outlives the signal: it stops last, after the sessions
	// and automation, and persists its state on the way out.
	engCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	engDone := make(chan error, 1)
	go func() { engDone <- e.Run(engCtx) }()
	stopAll := func(first error) error {
		stopEngine()
		engErr := <-engDone
		if engErr != nil {
			engErr = fmt.Errorf("engine: %w (see %s)", engErr, logPath)
		}
		return errors.Join(first, engErr)
	}

	srv, err := daemon.New(dcfg, e, daemon.Options{
		DataDir: dataDir,
		UI:      daemon.TUI(e, cfg.TUI),
		Logger:  log,
		Version: version,
	})
	if err != nil {
		return stopAll(err)
	}
	auto, err := automation.New(acfg, e, automation.Options{
		StateFile: filepath.Join(dataDir, "automation.json"),
		Logger:    log,
	})
	if err != nil {
		return stopAll(err)
	}

	svcCtx, stopSvcs := context.WithCancel(ctx)
	defer stopSvcs()
	srvDone := make(chan error, 1)
	autoDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(svcCtx) }()
	go func() { autoDone <- auto.Run(svcCtx) }()

	var srvErr, autoErr error
	srvOpen, autoOpen := true, true
	select {
	case <-ctx.Done():
		log.Info("stopping on signal")
	case srvErr = <-srvDone:
		srvOpen = false
	case autoErr = <-autoDone:
		autoOpen = false
	case err := <-engDone:
		engDone <- err // stopAll reads it
		log.Error("engine stopped by itself", "err", err)
	}
	stopSvcs()
	if srvOpen {
		srvErr = <-srvDone
	}
	if autoOpen {
		autoErr = <-autoDone
	}
	return stopAll(errors.Join(srvErr, autoErr))
}
