package core

import "context"

// indexKeys records the keys peers may name ts by: its infohash and, for
// a v2 or hybrid torrent, the truncated v2 infohash (park_index.go).
func (e *Engine) indexKeys(ts *tstate) {
	e.keys.add(ts.ih, ts.ih)
	if ts.tf != nil && ts.tf.InfoHashV2 != (InfoHashV2{}) {
		e.keys.add(ts.tf.InfoHashV2.Short(), ts.ih)
	}
}

// unindexKeys forgets ts's keys (it is removed).
func (e *Engine) unindexKeys(ts *tstate) {
	e.keys.remove(ts.ih)
	if ts.tf != nil && ts.tf.InfoHashV2 != (InfoHashV2{}) {
		e.keys.remove(ts.tf.InfoHashV2.Short())
	}
}

// wakeFor returns once torrent ih is in the anacrolix client, so that an
// incoming connection naming it can be handed to the client; it returns
// at once for a torrent that is not parked or not ours. The handshake
// sniffer (sniff.go) calls it from its own goroutine.
func (e *Engine) wakeFor(ctx context.Context, ih InfoHash) error {
	return nil // parking lands next (park.go); until then no torrent is parked
}
