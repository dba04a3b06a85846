package tui

import (
	"context"

	"github.com/bidtorrent/bidtorrent/core"
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
}
