package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Market is the [market] section: the bandwidth market's defaults for
// every torrent, used where neither the torrent nor the global settings
// (changed from the TUI or `market set` over SSH, and kept in the data
// dir) say otherwise. Empty values leave the built-in defaults.
type Market struct {
	// Ask is the seller's reserve price in BTT per MiB ("0.001").
	Ask string `toml:"ask"`
	// Bid is the most the buyer pays, in BTT per MiB.
	Bid string `toml:"bid"`
	// Budget caps what the buyer spends per torrent, in BTT.
	Budget string `toml:"budget"`
	// SellerStrategy is uniform, propshare or free.
	SellerStrategy string `toml:"seller_strategy"`
	// BuyerStrategy is none, fixed, budget or adaptive.
	BuyerStrategy string `toml:"buyer_strategy"`
}

// Amounts returns Ask, Bid and Budget parsed (nil where empty).
func (m Market) Amounts() (ask, bid, budget *wallet.Amount, err error) {
	parse := func(key, v string) (*wallet.Amount, error) {
		if strings.TrimSpace(v) == "" {
			return nil, nil
		}
		a, err := wallet.ParseAmount(strings.TrimSpace(v), wallet.BTTDecimals)
		if err != nil {
			return nil, fmt.Errorf("%s = %q: want an amount in BTT, e.g. 0.001: %w", key, v, err)
		}
		return &a, nil
	}
	if ask, err = parse("ask", m.Ask); err != nil {
		return
	}
	if bid, err = parse("bid", m.Bid); err != nil {
		return
	}
	budget, err = parse("budget", m.Budget)
	return
}

// Validate reports the first invalid value, naming its key.
func (m Market) Validate() error {
	if _, _, _, err := m.Amounts(); err != nil {
		return err
	}
	if m.SellerStrategy != "" && !slices.Contains(strategy.SellerNames(), m.SellerStrategy) {
		return fmt.Errorf("seller_strategy = %q: want one of %s", m.SellerStrategy, strings.Join(strategy.SellerNames(), ", "))
	}
	if m.BuyerStrategy != "" && !slices.Contains(strategy.BuyerNames(), m.BuyerStrategy) {
		return fmt.Errorf("buyer_strategy = %q: want one of %s", m.BuyerStrategy, strings.Join(strategy.BuyerNames(), ", "))
	}
	return nil
}
