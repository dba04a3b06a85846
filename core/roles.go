package core

import (
	"context"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// The engine's methods in the groups its users need; each user (the TUI,
// the daemon, automation) composes its own interface from them, so that a
// fake or a wrapper (Current) can stand in for *Engine.

// Subscriber publishes snapshots.
type Subscriber interface {
	// Subscribe returns a channel of snapshots (latest value wins: a slow
	// reader misses intermediate snapshots, never blocks the engine) and
	// a function that ends the subscription.
	Subscribe() (<-chan Snapshot, func())
}

// Runner adds torrents and starts and stops them. Each returns quickly.
type Runner interface {
	Add(ctx context.Context, spec AddSpec) (InfoHash, error)
	Pause(ctx context.Context, ih InfoHash) error
	Resume(ctx context.Context, ih InfoHash) error
}

// Payer makes payments. Tip pays amount to a connected peer of torrent
// ih (to is its PeerKey) or, with to = ToPublisher, to the torrent's
// publisher, with an optional memo; Buy pays the price of a paid torrent
// (at most maxPrice) and stores the licence; Pledge promises amount to
// the torrent's crowdfunding campaign. Each returns once the receiver
// acknowledged or refused, and may wait for a peer until ctx ends.
type Payer interface {
	Tip(ctx context.Context, ih InfoHash, to string, amount wallet.Amount, memo string) error
	Buy(ctx context.Context, ih InfoHash, maxPrice wallet.Amount) error
	Pledge(ctx context.Context, ih InfoHash, amount wallet.Amount) error
}

var (
	_ interface {
		Subscriber
		Runner
		Payer
	} = (*Engine)(nil)
	_ interface {
		Subscriber
		Runner
		Payer
	} = Current(nil)
)
