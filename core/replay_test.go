package core

import (
	"testing"

	"github.com/anacrolix/torrent"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
)

// connNonce is the nonce e's HELLO carries on its connection to the peer
// whose peer ID is id.
func connNonce(t *testing.T, e *Engine, id [20]byte) bttbid.Nonce {
	t.Helper()
	var n *bttbid.Nonce
	e.auths.Range(func(k, v any) bool {
		if [20]byte(k.(*torrent.PeerConn).PeerID) == id {
			n = v.(*connAuth).nonce.Load()
		}
		return n == nil
	})
	if n == nil {
		t.Fatalf("no connection to %x", id)
	}
	return *n
}
