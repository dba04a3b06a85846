package tui

import (
	"fmt"
	"strings"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Config is the [tui] section of the config file.
type Config struct {
	// Theme is "default", "high-contrast" or "none" (no colour). NO_COLOR in
	// the environment forces "none".
	Theme string `toml:"theme"`
	// Mouse enables mouse reporting at start (toggle with M).
	Mouse bool `toml:"mouse"`
	// Sort is the initial sort column of the torrent list (see the column
	// names in the help screen); a leading "-" reverses it.
	Sort string `toml:"sort"`
	// Filter is the initial filter expression, e.g. "state:seeding".
	Filter string `toml:"filter"`
	// BidStep is how much the bid keys (+/-) change a bid, in tokens per MiB
	// (e.g. "0.0001").
	BidStep string `toml:"bid_step"`
	// Keys rebinds actions: action name → key or list of keys, e.g.
	// remove = "D" or up = ["k", "up", "ctrl+p"]. Names are in the help
	// screen (?).
	Keys map[string]KeyList `toml:"keys"`
}

// KeyList is one key or a list of keys in the config file.
type KeyList []string

// UnmarshalTOML accepts a string or an array of strings.
func (k *KeyList) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*k = KeyList{v}
	case []any:
		out := make(KeyList, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want a key name string, got %v", e)
			}
			out = append(out, s)
		}
		*k = out
	default:
		return fmt.Errorf("want a key name or a list of key names, got %v", v)
	}
	return nil
}

// Theme names.
const (
	ThemeDefault      = "default"
	ThemeHighContrast = "high-contrast"
	ThemeNone         = "none"
)

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		Theme:   ThemeDefault,
		Sort:    "added",
		BidStep: "0.0001",
	}
}

// Validate reports the first invalid value, naming its key.
func (c Config) Validate() error {
	switch c.Theme {
	case ThemeDefault, ThemeHighContrast, ThemeNone:
	default:
		return fmt.Errorf("theme: unknown theme %q (want %s, %s or %s)", c.Theme, ThemeDefault, ThemeHighContrast, ThemeNone)
	}
	if c.Sort != "" && columnByName(strings.TrimPrefix(c.Sort, "-")) < 0 {
		return fmt.Errorf("sort: unknown column %q (want one of %s)", c.Sort, strings.Join(columnNames(), ", "))
	}
	if _, err := ParseFilter(c.Filter, wallet.BTTDecimals); err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	if _, err := c.bidStep(wallet.BTTDecimals); err != nil {
		return fmt.Errorf("bid_step: %w", err)
	}
	km := DefaultKeyMap()
	if err := km.Rebind(c.Keys); err != nil {
		return err
	}
	return nil
}

// bidStep parses BidStep for a token with the given decimals.
func (c Config) bidStep(decimals int) (wallet.Amount, error) {
	s := c.BidStep
	if s == "" {
		s = DefaultConfig().BidStep
	}
	a, err := wallet.ParseAmount(s, decimals)
	if err != nil {
		return a, err
	}
	if a.IsZero() {
		return a, fmt.Errorf("step must be more than zero")
	}
	return a, nil
}
