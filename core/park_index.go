package core

import "sync"

// hashIndex maps every 20-byte key a peer may name a torrent by (its v1
// infohash, or the truncated v2 infohash, BEP 52) to the engine's
// InfoHash of that torrent: the torrents the engine serves, in the client
// or parked (park.go). The handshake sniffer (sniff.go) reads it from
// its own goroutines, for a plaintext handshake's infohash and an MSE
// handshake's secret keys; the loop adds and removes keys.
type hashIndex struct {
	mu sync.RWMutex
	m  map[[20]byte]InfoHash
}

func newHashIndex() *hashIndex { return &hashIndex{m: make(map[[20]byte]InfoHash)} }

// add records key as a name of torrent ih.
func (x *hashIndex) add(key [20]byte, ih InfoHash) {
	x.mu.Lock()
	x.m[key] = ih
	x.mu.Unlock()
}

// remove forgets key.
func (x *hashIndex) remove(key [20]byte) {
	x.mu.Lock()
	delete(x.m, key)
	x.mu.Unlock()
}

// lookup returns the torrent key names.
func (x *hashIndex) lookup(key [20]byte) (InfoHash, bool) {
	x.mu.RLock()
	ih, ok := x.m[key]
	x.mu.RUnlock()
	return ih, ok
}

// each calls fn with every key until fn returns false. fn must not call
// add or remove.
func (x *hashIndex) each(fn func(key [20]byte) bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for k := range x.m {
		if !fn(k) {
			return
		}
	}
}

// len returns the number of keys.
func (x *hashIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.m)
}
