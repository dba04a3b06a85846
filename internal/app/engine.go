package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// LogFile is the log's name in the data dir.
const LogFile = "bidtorrent.log"

// Log is an open log file and the logger writing to it.
type Log struct {
	*slog.Logger
	Path string
	f    *os.File
}

// Close closes the log file.
func (l *Log) Close() error { return l.f.Close() }

// OpenLog opens DATA_DIR/bidtorrent.log (appending, 0600; the data dir is
// created) and returns a logger writing to it and, when tee is not nil,
// to tee as well. The terminal UI passes no tee: nothing is logged onto
// its screen.
func (e *Env) OpenLog(tee io.Writer) (*Log, error) {
	if err := e.MkDataDir(); err != nil {
		return nil, err
	}
	path := filepath.Join(e.DataDir, LogFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open log file: %w", err)
	}
	var w io.Writer = f
	if tee != nil {
		w = io.MultiWriter(tee, f)
	}
	return &Log{Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})), Path: path, f: f}, nil
}

// EngineOptions say how to start an engine.
type EngineOptions struct {
	// Dir is the engine's state dir (default: the data dir).
	Dir string
	// Config is the [engine] section after the command's flags (default:
	// the loaded config's).
	Config *core.Config
	// Wallet turns the bandwidth market on; nil is plain BitTorrent.
	// CloseWallet, when set, is called after the engine stopped.
	Wallet      *wallet.Wallet
	CloseWallet func()
	Logger      *slog.Logger
	// LogPath is named in the engine's error when it fails.
	LogPath string
	Version string
	Extra   []core.Option
}

// Engine is a running engine. Stop it with Stop, which returns Run's
// error.
type Engine struct {
	*core.Engine
	cancel      context.CancelFunc
	exited      chan struct{} // closed when Run returned
	err         error         // Run's error, set before exited closes
	closeWallet func()
	logPath     string
}

// StartEngine creates the engine and runs it until Stop. The engine
// outlives ctx's cancellation on purpose: a signal stops the sessions and
// the UI first, then the command calls Stop, and the engine settles and
// persists on the way out. A wallet's market defaults ([market] in the
// config) become the global market settings where none are stored.
func (e *Env) StartEngine(ctx context.Context, o EngineOptions) (*Engine, error) {
	dir := o.Dir
	if dir == "" {
		dir = e.DataDir
	}
	cfg := e.Config.Engine
	if o.Config != nil {
		cfg = *o.Config
	}
	closeWallet := o.CloseWallet
	if closeWallet == nil {
		closeWallet = func() {}
	}
	opts := []core.Option{core.WithClientVersion("bidtorrent " + o.Version)}
	if o.Logger != nil {
		opts = append(opts, core.WithLogger(o.Logger))
	}
	if o.Wallet != nil {
		opts = append(opts, core.WithWallet(o.Wallet))
	}
	opts = append(opts, o.Extra...)
	ce, err := core.New(cfg, dir, opts...)
	if err != nil {
		closeWallet()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Engine{Engine: ce, cancel: cancel, exited: make(chan struct{}), closeWallet: closeWallet, logPath: o.LogPath}
	go func() {
		r.err = ce.Run(runCtx)
		close(r.exited)
	}()
	if o.Wallet != nil {
		if err := e.applyMarketDefaults(ctx, ce); err != nil {
			return nil, errors.Join(err, r.Stop())
		}
	}
	return r, nil
}

// Stop stops the engine, waits for it to persist its state, closes the
// wallet and returns Run's error. It may be called more than once.
func (r *Engine) Stop() error {
	r.cancel()
	<-r.exited
	if r.closeWallet != nil {
		r.closeWallet()
		r.closeWallet = nil
	}
	if r.err != nil && r.logPath != "" {
		return fmt.Errorf("engine: %w (see %s)", r.err, r.logPath)
	}
	return r.err
}

// Exited is closed when the engine stopped, by Stop or by itself (call
// Stop all the same, for its error and to close the wallet).
func (r *Engine) Exited() <-chan struct{} { return r.exited }

// applyMarketDefaults makes the config's [market] values the global
// market settings where the data dir holds none (a global setting made
// from the TUI or `market set` wins, and per-torrent settings win over
// both).
func (e *Env) applyMarketDefaults(ctx context.Context, ce *core.Engine) error {
	ask, bid, budget, err := e.Config.Market.Amounts()
	if err != nil {
		return err
	}
	snaps, unsub := ce.Subscribe()
	defer unsub()
	var g core.MarketPolicy
	select {
	case s, ok := <-snaps:
		if !ok {
			return core.ErrClosed
		}
		g = s.Market
	case <-ctx.Done():
		return ctx.Err()
	}
	var m core.MarketSettings
	set := false
	if ask != nil && g.Ask.IsZero() {
		m.Ask, set = ask, true
	}
	if bid != nil && g.Bid.IsZero() {
		m.Bid, set = bid, true
	}
	if budget != nil && g.Budget.IsZero() {
		m.Budget, set = budget, true
	}
	if s := e.Config.Market.SellerStrategy; s != "" && g.SellerStrategy == "" {
		m.SellerStrategy, set = &s, true
	}
	if s := e.Config.Market.BuyerStrategy; s != "" && g.BuyerStrategy == "" {
		m.BuyerStrategy, set = &s, true
	}
	if !set {
		return nil
	}
	if err := ce.SetMarket(ctx, core.InfoHash{}, m); err != nil {
		return fmt.Errorf("cannot apply the config's [market] defaults: %w", err)
	}
	return nil
}
