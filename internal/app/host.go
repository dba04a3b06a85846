package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// WalletState is whether a long-running engine trades.
type WalletState string

const (
	// WalletNone: no wallet (--no-wallet, or no keystore): no market.
	WalletNone WalletState = "none"
	// WalletLocked: a keystore but no passphrase yet: no market until
	// Unlock.
	WalletLocked WalletState = "locked"
	// WalletUnlocked: the key is in memory and the market is on.
	WalletUnlocked WalletState = "unlocked"
)

// ErrWalletLocked is returned for what needs the wallet while it is
// locked.
var ErrWalletLocked = errors.New("wallet locked: unlock it first (ssh HOST unlock < PASSFILE, or the TUI's unlock dialog)")

// ErrNoWallet is returned for what needs a wallet on a daemon without
// one.
var ErrNoWallet = errors.New("this daemon has no wallet (started with --no-wallet, or no keystore: bidtorrent wallet new)")

// Host is the daemon's engine with its own wallet. It starts unlocked (a
// key given at start), locked (a keystore but no passphrase: plain
// BitTorrent until Unlock) or without a wallet. Unlock decrypts the key,
// which then lives only in this process's memory, and restarts the
// engine with the market on: the engine's state is persisted on the way
// down and resumed on the way up. Host serves the engine's methods to
// the SSH server, its TUIs and automation across that restart;
// subscriptions carry on with the new engine.
type Host struct {
	core.Current // the engine's commands, on whichever engine is current
	env          *Env
	opts         EngineOptions

	mu      sync.Mutex // guards everything below
	cur     *Engine
	state   WalletState
	w       *wallet.Wallet
	swapped chan struct{} // closed (and replaced) when cur changes
	stopped bool
	died    chan struct{} // closed when the current engine stops by itself
	dieOnce sync.Once
}

// StartHost starts the daemon's engine: with key (unlocked), locked when
// key is nil and locked is set, else without a wallet.
func (e *Env) StartHost(ctx context.Context, o EngineOptions, key *wallet.Key, locked bool) (*Host, error) {
	h := &Host{env: e, opts: o, state: WalletNone, swapped: make(chan struct{}), died: make(chan struct{})}
	h.Current = h.Engine
	if key != nil {
		w, closeW, err := e.OpenWallet(key)
		if err != nil {
			return nil, err
		}
		o.Wallet, o.CloseWallet = w, closeW
		h.state, h.w = WalletUnlocked, w
	} else if locked {
		h.state = WalletLocked
	}
	cur, err := e.StartEngine(ctx, o)
	if err != nil {
		return nil, err
	}
	h.cur = cur
	go h.watch(cur)
	return h, nil
}

// watch closes died if e stops while it is current and not being
// stopped or replaced (Unlock and Stop hold h.mu while they do).
func (h *Host) watch(e *Engine) {
	<-e.Exited()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == e && !h.stopped {
		h.dieOnce.Do(func() { close(h.died) })
	}
}

// State returns the wallet's state.
func (h *Host) State() WalletState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

// WalletState is State as a string, for the daemon and the TUI.
func (h *Host) WalletState() string { return string(h.State()) }

// Wallet returns the open wallet, or ErrWalletLocked or ErrNoWallet.
func (h *Host) Wallet() (*wallet.Wallet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case WalletUnlocked:
		return h.w, nil
	case WalletLocked:
		return nil, ErrWalletLocked
	}
	return nil, ErrNoWallet
}

// Address returns the wallet's address, readable while locked.
func (h *Host) Address() (wallet.Address, error) {
	if w, err := h.Wallet(); err == nil {
		return w.Address(), nil
	} else if errors.Is(err, ErrNoWallet) {
		return wallet.Address{}, err
	}
	return h.env.Keystore.Address()
}

// Unlock decrypts the keystore with passphrase and restarts the engine
// with the wallet. A wrong passphrase changes nothing.
func (h *Host) Unlock(ctx context.Context, passphrase string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.stopped:
		return core.ErrClosed
	case h.state == WalletUnlocked:
		return errors.New("the wallet is already unlocked")
	case h.state == WalletNone:
		return ErrNoWallet
	}
	key, err := h.env.Keystore.Unlock(passphrase)
	if err != nil {
		return fmt.Errorf("cannot unlock the wallet: %w", err)
	}
	w, closeW, err := h.env.OpenWallet(key)
	if err != nil {
		return fmt.Errorf("cannot open the wallet: %w", err)
	}
	if err := h.cur.Stop(); err != nil && h.opts.Logger != nil {
		h.opts.Logger.Warn("engine stopped with an error before the unlock restart", "err", err)
	}
	o := h.opts
	o.Wallet, o.CloseWallet = w, closeW
	next, err := h.env.StartEngine(ctx, o)
	if err != nil {
		// Back to plain BitTorrent rather than no engine at all.
		prev, perr := h.env.StartEngine(ctx, h.opts)
		if perr != nil {
			h.stopped = true
			close(h.swapped)
			return fmt.Errorf("cannot restart the engine with the wallet: %w; nor without: %w", err, perr)
		}
		h.swap(prev)
		return fmt.Errorf("cannot restart the engine with the wallet: %w", err)
	}
	h.state, h.w = WalletUnlocked, w
	h.swap(next)
	if h.opts.Logger != nil {
		h.opts.Logger.Info("wallet unlocked: the bandwidth market is on", "address", w.Address().String())
	}
	return nil
}

// swap makes next the current engine (h.mu held).
func (h *Host) swap(next *Engine) {
	h.cur = next
	go h.watch(next)
	close(h.swapped)
	h.swapped = make(chan struct{})
}

// Stop stops the engine for good and returns its Run error.
func (h *Host) Stop() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return nil
	}
	h.stopped = true
	err := h.cur.Stop()
	close(h.swapped)
	return err
}

// Died is closed when the engine stops by itself (call Stop all the
// same, for its error).
func (h *Host) Died() <-chan struct{} { return h.died }

// Engine returns the current engine.
func (h *Host) Engine() *core.Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur.Engine
}

// current returns the engine and the channel closed when it is replaced.
func (h *Host) current() (*core.Engine, chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur.Engine, h.swapped, h.stopped
}

// Subscribe returns a latest-value-wins channel of snapshots that follows
// the engine across restarts, and a function that ends it.
func (h *Host) Subscribe() (<-chan core.Snapshot, func()) {
	return core.Follow(func() (*core.Engine, <-chan struct{}, <-chan struct{}, bool) {
		e, swapped, stopped := h.current()
		return e, swapped, nil, !stopped
	})
}

// SetMarket, Settle and the payments need the wallet.

func (h *Host) SetMarket(ctx context.Context, ih core.InfoHash, m core.MarketSettings) error {
	if _, err := h.Wallet(); err != nil {
		return err
	}
	return h.Engine().SetMarket(ctx, ih, m)
}
func (h *Host) Settle(ctx context.Context) error {
	if _, err := h.Wallet(); err != nil {
		return err
	}
	return h.Engine().Settle(ctx)
}
func (h *Host) Tip(ctx context.Context, ih core.InfoHash, to string, amount wallet.Amount, memo string) error {
	if _, err := h.Wallet(); err != nil {
		return err
	}
	return h.Engine().Tip(ctx, ih, to, amount, memo)
}
func (h *Host) Buy(ctx context.Context, ih core.InfoHash, maxPrice wallet.Amount) error {
	if _, err := h.Wallet(); err != nil {
		return err
	}
	return h.Engine().Buy(ctx, ih, maxPrice)
}
func (h *Host) Pledge(ctx context.Context, ih core.InfoHash, amount wallet.Amount) error {
	if _, err := h.Wallet(); err != nil {
		return err
	}
	return h.Engine().Pledge(ctx, ih, amount)
}
