package core

import "github.com/bidtorrent/bidtorrent/wallet"

// AddSpec describes a torrent to add.
type AddSpec struct {
	// Source is a path to a .torrent file, a magnet URI, or an http(s) URL
	// of a .torrent file.
	Source string
	// DataDir is where the torrent's files live; empty means the engine's
	// default download dir.
	DataDir string
	Paused  bool
	Labels  []string
	// Peers are host:port addresses dialled directly (tracker-less).
	Peers []string
}

// MarketSettings changes a torrent's (or, for the zero InfoHash, the
// global) market settings. Nil fields are left as they are.
type MarketSettings struct {
	BuyerStrategy  *string
	SellerStrategy *string
	Bid            *wallet.Amount // max price per MiB
	Ask            *wallet.Amount // reserve price per MiB
	Budget         *wallet.Amount
}
