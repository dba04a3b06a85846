// Package config composes every package's Config into the one TOML file a
// user edits. Each package owns its section, its DefaultConfig and its
// Validate; this package only decodes, rejects unknown keys, and validates.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/bidtorrent/bidtorrent/automation"
	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/daemon"
	"github.com/bidtorrent/bidtorrent/tui"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Config is the whole configuration file.
type Config struct {
	Engine core.Config   `toml:"engine"`
	Wallet wallet.Config `toml:"wallet"`
	TUI    tui.Config    `toml:"tui"`
	Daemon daemon.Config `toml:"daemon"`
	// Automation is the daemon's policy: watch dir, queueing, limits, hooks.
	Automation automation.Config `toml:"automation"`
	// Market is the bandwidth market's defaults for every torrent.
	Market Market `toml:"market"`
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		Engine: core.DefaultConfig(),
		Wallet: wallet.DefaultConfig(),
		TUI:    tui.DefaultConfig(),
		Daemon: daemon.DefaultConfig(),

		Automation: automation.DefaultConfig(),
	}
}

// DefaultPath is $XDG_CONFIG_HOME/bidtorrent/config.toml (or the OS
// equivalent).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the user config dir: %w", err)
	}
	return filepath.Join(dir, "bidtorrent", "config.toml"), nil
}

// Load reads path over the defaults. A missing file at the default path
// (explicit == false) yields the defaults; a missing explicit file is an
// error. Unknown keys and invalid values are errors that name the key.
func Load(path string, explicit bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return c, c.Validate()
		}
		return c, fmt.Errorf("cannot read config: %w", err)
	}
	if err := Decode(string(b), &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Decode decodes TOML text into c, rejecting keys c does not have.
func Decode(text string, c *Config) error {
	md, err := toml.Decode(text, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			if perr.LastKey != "" {
				return fmt.Errorf("line %d: key %s: %s", perr.Position.Line, perr.LastKey, perr.Message)
			}
			return fmt.Errorf("line %d: %s", perr.Position.Line, perr.Message)
		}
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	return nil
}

// Validate checks every section.
func (c Config) Validate() error {
	for _, sec := range []struct {
		name string
		v    interface{ Validate() error }
	}{
		{"engine", c.Engine}, {"wallet", c.Wallet}, {"tui", c.TUI},
		{"daemon", c.Daemon}, {"automation", c.Automation}, {"market", c.Market},
	} {
		if err := sec.v.Validate(); err != nil {
			return fmt.Errorf("[%s] %w", sec.name, err)
		}
	}
	return nil
}
