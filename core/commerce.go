package core

// This file is the engine side of PROTOCOL.md §16: tips, purchases and
// crowdfunding pledges on the btt_bid cheque rail. The state machine is
// core/market (commerce.go); here are the commands and their wiring.

import (
	"context"
	"errors"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// ToPublisher is the Tip recipient that means the torrent's publisher
// (a connected peer whose HELLO address is the terms' payee).
const ToPublisher = "publisher"

var errNotWired = errors.New("not available yet")

// Tip pays amount to a connected peer of torrent ih (to is its PeerKey,
// host:port) or, with to = ToPublisher, to the torrent's publisher, with
// an optional memo (≤ 140 bytes). It returns once the receiver
// acknowledged the payment (RECEIPT) or refused it, or ctx ends; a tip to
// the publisher waits for a publisher peer to connect.
func (e *Engine) Tip(ctx context.Context, ih InfoHash, to string, amount wallet.Amount, memo string) error {
	return errNotWired
}

// Buy pays the price of the paid torrent ih to a connected publisher
// seeder (waiting for one until ctx ends), stores the licence it grants
// and presents it to every seeder. It refuses a price above maxPrice
// (zero: no maximum). Buying a torrent already licensed does nothing.
func (e *Engine) Buy(ctx context.Context, ih InfoHash, maxPrice wallet.Amount) error {
	return errNotWired
}

// Pledge promises amount (our total for this torrent; a later pledge
// replaces an earlier one) to the crowdfunding campaign of torrent ih,
// sent to a connected publisher peer (waiting for one until ctx ends).
// The pledge is paid automatically once the publisher proves the goal was
// reached by the deadline.
func (e *Engine) Pledge(ctx context.Context, ih InfoHash, amount wallet.Amount) error {
	return errNotWired
}
