// Package app is how every bidtorrent command starts: it finds the config
// and the data dir, opens the log file, opens the wallet (unlocked, watch
// only or not at all) and starts the engine. The CLI verbs, the TUI, the
// daemon and the demo keep only their own flags and call it.
package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bidtorrent/bidtorrent/config"
	"github.com/bidtorrent/bidtorrent/internal/passphrase"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// Options are the global flags: each empty value means the default.
type Options struct {
	ConfigPath string // --config; default $XDG_CONFIG_HOME/bidtorrent/config.toml
	DataDir    string // --data-dir; default $XDG_DATA_HOME/bidtorrent
	Ledger     string // --ledger; default the config's, or DATA_DIR/ledger.db
	// ScryptN and ScryptP are the cost of keystores written (0: standard).
	ScryptN, ScryptP int
}

// Env is a loaded configuration and the files it names.
type Env struct {
	Config config.Config
	// DataDir holds the keystore, the cheque book, the ledger by default,
	// the log and the daemon's state. It is not created by Load.
	DataDir    string
	Keystore   wallet.Keystore
	LedgerPath string
	BookPath   string
	// DataDirSet reports whether --data-dir was given (some commands
	// keep their engine state elsewhere by default).
	DataDirSet bool

	// apiKey is the TRON API key read before ScrubEnvironment removed it.
	apiKey    string
	apiKeySet bool
}

// ScrubEnvironment removes the secrets a long-running process must not
// pass on to the programs it starts (automation hooks): the passphrase
// ($BIDTORRENT_PASSPHRASE) and the TRON API key (kept in memory for the
// chain connection).
func (e *Env) ScrubEnvironment() {
	if name := e.Config.Wallet.APIKeyEnv; name != "" {
		e.apiKey, e.apiKeySet = os.Getenv(name), true
		os.Unsetenv(name)
	}
	os.Unsetenv(passphrase.Env)
}

// Load reads the config and resolves the data dir and the wallet's files.
func Load(o Options) (*Env, error) {
	cfg, err := LoadConfig(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	dir, err := DataDir(o.DataDir)
	if err != nil {
		return nil, err
	}
	e := &Env{
		Config:     cfg,
		DataDir:    dir,
		DataDirSet: o.DataDir != "",
		Keystore:   wallet.Keystore{Dir: filepath.Join(dir, "keystore"), ScryptN: o.ScryptN, ScryptP: o.ScryptP},
		LedgerPath: filepath.Join(dir, "ledger.db"),
		BookPath:   filepath.Join(dir, "chequebook.db"),
	}
	if cfg.Wallet.Ledger != "" {
		e.LedgerPath = cfg.Wallet.Ledger
	}
	if o.Ledger != "" {
		e.LedgerPath = o.Ledger
	}
	if cfg.Wallet.ChequeBook != "" {
		e.BookPath = cfg.Wallet.ChequeBook
	}
	return e, nil
}

// LoadConfig reads path, or the default path when it is empty (a missing
// default file yields the defaults; a missing explicit one is an error).
func LoadConfig(path string) (config.Config, error) {
	explicit := path != ""
	if !explicit {
		p, err := config.DefaultPath()
		if err != nil {
			return config.Default(), nil
		}
		path = p
	}
	return config.Load(path, explicit)
}

// DataDir is dir, or $XDG_DATA_HOME/bidtorrent, or
// ~/.local/share/bidtorrent.
func DataDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "bidtorrent"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a data dir (set --data-dir): %w", err)
	}
	return filepath.Join(home, ".local", "share", "bidtorrent"), nil
}

// MkDataDir creates the data dir (0700) if it does not exist.
func (e *Env) MkDataDir() error {
	if err := os.MkdirAll(e.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create data dir: %w", err)
	}
	return nil
}

// Chain opens the configured backend; close releases it.
func (e *Env) Chain() (ch wallet.Chain, close func(), err error) {
	wc := e.Config.Wallet
	if wc.Chain == "local" {
		l, err := local.Open(e.LedgerPath, wc.TokenAddress(), wc.LockTimeout.Duration)
		if err != nil {
			return nil, nil, err
		}
		return l, func() {}, nil
	}
	tc := tron.FromWallet(wc)
	if e.apiKeySet {
		tc.APIKey = e.apiKey
	}
	t, err := tron.Dial(tc)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot connect to %s: %w", wc.Chain, err)
	}
	return t, t.Close, nil
}

// ChequeBook opens the cheque book alone (no chain).
func (e *Env) ChequeBook() (*wallet.ChequeBook, error) {
	return wallet.OpenChequeBook(e.BookPath, e.Config.Wallet.LockTimeout.Duration)
}

// OpenWallet returns the wallet on the configured chain: signing with key,
// or watch-only on the keystore's address when key is nil. close releases
// the chain.
func (e *Env) OpenWallet(key *wallet.Key) (w *wallet.Wallet, close func(), err error) {
	ch, closeChain, err := e.Chain()
	if err != nil {
		return nil, nil, err
	}
	book, err := e.ChequeBook()
	if err != nil {
		closeChain()
		return nil, nil, err
	}
	if key != nil {
		return wallet.New(key, book, ch), closeChain, nil
	}
	addr, err := e.Keystore.Address()
	if err != nil {
		closeChain()
		return nil, nil, err
	}
	return wallet.NewWatchOnly(addr, book, ch), closeChain, nil
}
