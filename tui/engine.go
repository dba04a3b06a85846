package tui

import (
	"context"

	"github.com/bidtorrent/bidtorrent/core"
)

// Engine is what the TUI needs from core.Engine. A zero InfoHash in
// SetLimits and SetMarket means the global setting. Every method but the
// payments returns quickly (it hands a command to the engine's loop); the
// TUI calls them all from tea.Cmds, never from Update.
type Engine interface {
	core.Subscriber
	core.Runner
	core.Payer
	Remove(ctx context.Context, ih core.InfoHash, deleteData bool) error
	Recheck(ctx context.Context, ih core.InfoHash) error
	SetFilePriority(ctx context.Context, ih core.InfoHash, file int, p core.Priority) error
	SetSequential(ctx context.Context, ih core.InfoHash, on bool) error
	SetLimits(ctx context.Context, ih core.InfoHash, l core.Limits) error
	SetLabels(ctx context.Context, ih core.InfoHash, labels []string) error
	SetMarket(ctx context.Context, ih core.InfoHash, m core.MarketSettings) error
	Settle(ctx context.Context) error
}
