package tui

import (
	"context"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Engine is what the TUI needs from core.Engine. A zero InfoHash in
// SetLimits and SetMarket means the global setting. Every method returns
// quickly (it hands a command to the engine's loop); the TUI still calls
// them from tea.Cmds, never from Update.
type Engine interface {
	// Subscribe returns a channel of snapshots (latest value wins: a slow
	// reader misses intermediate snapshots, never blocks the engine) and a
	// function that ends the subscription.
	Subscribe() (<-chan core.Snapshot, func())
	Add(ctx context.Context, spec core.AddSpec) (core.InfoHash, error)
	Remove(ctx context.Context, ih core.InfoHash, deleteData bool) error
	Pause(ctx context.Context, ih core.InfoHash) error
	Resume(ctx context.Context, ih core.InfoHash) error
	Recheck(ctx context.Context, ih core.InfoHash) error
	SetFilePriority(ctx context.Context, ih core.InfoHash, file int, p core.Priority) error
	SetSequential(ctx context.Context, ih core.InfoHash, on bool) error
	SetLimits(ctx context.Context, ih core.InfoHash, l core.Limits) error
	SetLabels(ctx context.Context, ih core.InfoHash, labels []string) error
	SetMarket(ctx context.Context, ih core.InfoHash, m core.MarketSettings) error
	Settle(ctx context.Context) error
	// Tip pays amount to a connected peer of torrent ih (to is its
	// PeerKey) or, with to = core.ToPublisher, to the torrent's publisher,
	// with an optional memo; it returns once the payment is acknowledged
	// or refused. Buy pays the price of a paid torrent (at most maxPrice)
	// and stores the licence. Pledge promises amount to the torrent's
	// crowdfunding campaign. The three may wait for a peer until ctx ends.
	Tip(ctx context.Context, ih core.InfoHash, to string, amount wallet.Amount, memo string) error
	Buy(ctx context.Context, ih core.InfoHash, maxPrice wallet.Amount) error
	Pledge(ctx context.Context, ih core.InfoHash, amount wallet.Amount) error
}
