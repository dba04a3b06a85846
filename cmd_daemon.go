package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/bidtorrent/bidtorrent/automation"
	"github.com/bidtorrent/bidtorrent/daemon"
	"github.com/bidtorrent/bidtorrent/internal/app"
	"github.com/bidtorrent/bidtorrent/internal/passphrase"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// daemonGCPercent is the daemon's GOGC unless $GOGC is set: the heap
// grows by a quarter of what is live between collections, not by all of
// it (Go's 100). A daemon seeding thousands of idle torrents holds a large
// live heap (about 10 KiB a torrent) and allocates little, so collections
// stay rare while the memory kept between them, and returned to the
// system only slowly, shrinks: 5,000 torrents, RSS 214 -> 125 MiB (issue
// 19). Unlike a memory limit it scales with the number of torrents and
// cannot make the collector run back to back.
const daemonGCPercent = 25

// setDaemonGC sets daemonGCPercent unless gogc ($GOGC) says otherwise.
func setDaemonGC(gogc string) {
	if gogc == "" {
		debug.SetGCPercent(daemonGCPercent)
	}
}

// runDaemon runs the engine without a terminal, with the SSH server (a TUI
// per session with a terminal, remote commands otherwise), the automation
// policy and, when configured, the /metrics endpoint. The daemon has its
// own wallet: unlocked at start from --passphrase-file,
// $BIDTORRENT_PASSPHRASE or systemd's $CREDENTIALS_DIRECTORY/passphrase,
// or locked until `ssh HOST unlock < PASSFILE` (or the TUI's dialog);
// --no-wallet runs it without a market. A signal stops the SSH server
// and automation first, then the engine (which settles and persists its
// state on the way out). Logs go to stderr and DATA_DIR/bidtorrent.log.
func runDaemon(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("daemon", "")
	sshListen := fs.String("ssh-listen", "", "SSH server `HOST:PORT` (default: [daemon] ssh_listen, 127.0.0.1:2222)")
	keys := fs.String("authorized-keys", "", "OpenSSH authorized_keys `FILE` listing who may attach (default: [daemon] authorized_keys, or DATA_DIR/authorized_keys)")
	metrics := fs.String("metrics-listen", "", "serve Prometheus /metrics on `HOST:PORT` (default: [daemon] metrics_listen, off); token amounts there are floats in whole tokens, for graphs only")
	pprofListen := fs.String("pprof-listen", "", "serve Go's profiler under /debug/pprof/ on the loopback `HOST:PORT` (default: [daemon] pprof_listen, off)")
	passFile := fs.String("passphrase-file", "", "unlock the wallet at start with the passphrase in `FILE` (default: $"+passphraseEnv+
		", then $CREDENTIALS_DIRECTORY/"+passphrase.CredentialName+"; without any the daemon starts locked)")
	noWallet := fs.Bool("no-wallet", false, "run without a wallet: no bandwidth market, no payments")
	if err := c.parseArgs(fs, args, 0, "daemon takes no arguments"); err != nil {
		return err
	}
	if *noWallet && *passFile != "" {
		return argsError(c, usager{fs.Usage}, "--no-wallet and --passphrase-file exclude each other")
	}
	env, err := c.env()
	if err != nil {
		return err
	}
	cfg := env.Config
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
	if *pprofListen != "" {
		dcfg.PprofListen = *pprofListen
	}
	if err := dcfg.Validate(); err != nil {
		return fmt.Errorf("[daemon] %w", err)
	}
	if limit, _ := dcfg.MemoryLimitBytes(); limit > 0 {
		debug.SetMemoryLimit(limit) // checked by Validate
	}
	setDaemonGC(os.Getenv("GOGC"))
	if err := env.MkDataDir(); err != nil {
		return err
	}
	keysPath := dcfg.AuthorizedKeys
	if keysPath == "" {
		keysPath = filepath.Join(env.DataDir, "authorized_keys")
	}
	if _, err := os.Stat(keysPath); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no authorized keys at %s: put the public keys allowed to attach there "+
			"(e.g. cat ~/.ssh/id_ed25519.pub >> %s) or pass --authorized-keys FILE", keysPath, keysPath)
	}

	log, err := env.OpenLog(c.stderr)
	if err != nil {
		return err
	}
	defer log.Close()

	key, locked, err := daemonKey(env, *passFile, *noWallet)
	// Automation hooks must never inherit the passphrase or the API key.
	env.ScrubEnvironment()
	if err != nil {
		return err
	}
	switch {
	case key != nil:
		log.Info("wallet unlocked", "address", key.Address().String())
	case locked:
		a, _ := env.Keystore.Address()
		log.Info("wallet locked: no market until it is unlocked (ssh HOST unlock < PASSFILE)", "address", a.String())
	case !*noWallet:
		log.Info("no wallet in the data dir: the bandwidth market is off (create one with: bidtorrent wallet new)")
	}

	dl := cfg.Engine.DownloadDir
	if dl == "" {
		dl = filepath.Join(env.DataDir, "downloads")
	}
	roots := dcfg.DownloadRoots
	if len(roots) == 0 {
		roots = []string{dl}
	}
	confine, err := daemon.NewConfinement(roots, dcfg.AllowPrivateURLs)
	if err != nil {
		return fmt.Errorf("[daemon] download_roots: %w", err)
	}

	host, err := env.StartHost(ctx, app.EngineOptions{Logger: log.Logger, LogPath: log.Path, Version: version}, key, locked)
	if err != nil {
		return err
	}
	srv, err := daemon.New(dcfg, host, daemon.Options{
		DataDir:     env.DataDir,
		UI:          daemon.TUI(daemon.Confined(host, confine), cfg.TUI),
		Logger:      log.Logger,
		Version:     version,
		Wallet:      host,
		Confinement: confine,
		DownloadDir: dl,
	})
	if err != nil {
		return errors.Join(err, host.Stop())
	}
	auto, err := automation.New(acfg, host, automation.Options{
		StateFile: filepath.Join(env.DataDir, "automation.json"),
		Logger:    log.Logger,
	})
	if err != nil {
		return errors.Join(err, host.Stop())
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
	case <-host.Died():
		log.Error("engine stopped by itself")
	}
	stopSvcs()
	if srvOpen {
		srvErr = <-srvDone
	}
	if autoOpen {
		autoErr = <-autoDone
	}
	return errors.Join(srvErr, autoErr, host.Stop())
}

// daemonKey unlocks the daemon's wallet at start when a passphrase was
// given; with a keystore but no passphrase the daemon starts locked.
func daemonKey(env *app.Env, passFile string, noWallet bool) (key *wallet.Key, locked bool, err error) {
	if noWallet || !env.Keystore.Exists() {
		if passFile != "" {
			_, err := env.Keystore.Address() // no keystore: its hint
			return nil, false, err
		}
		return nil, false, nil
	}
	pass, err := passphrase.Given(passFile, true)
	if err != nil {
		return nil, false, err
	}
	if pass == "" {
		return nil, true, nil
	}
	if key, err = env.Keystore.Unlock(pass); err != nil {
		return nil, false, fmt.Errorf("cannot unlock the wallet (or start locked without a passphrase, or --no-wallet): %w", err)
	}
	return key, false, nil
}
