package core

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestExplicitPeerRedialled (issue 18 item 8): a peer named with
// AddSpec.Peers (get --peer) that is not listening yet when the torrent
// starts is dialled again with backoff: the seeder starts listening ~2 s
// later and the download completes, every file checked by sha256.
// Before, the refused first dial was the only one: 0 peers until the
// timeout.
func TestExplicitPeerRedialled(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, tf := seedTorrent(t, dir, 32<<10)
	ctx := context.Background()

	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there yet: the first dial is refused

	out := filepath.Join(dir, "out")
	leecher := startEngine(t, "leecher", testConfig("127.0.0.3"), filepath.Join(dir, "leecher"))
	ih, err := leecher.Add(ctx, AddSpec{Source: torrentPath, DataDir: out, Peers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	cfg := testConfig("127.0.0.2")
	cfg.ListenAddr = addr
	seeder := startEngine(t, "seeder", cfg, filepath.Join(dir, "seeder"))
	if _, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, leecher.Engine, ih, 30*time.Second, "download from a seeder that started late", isComplete)
	t.Logf("complete %s after the seeder started", time.Since(start).Round(100*time.Millisecond))
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))
	if ih != tf.InfoHash {
		t.Fatalf("infohash %s, want %s", ih, tf.InfoHash)
	}
}

// TestRedialBackoff: redials of an unconnected explicit peer come 1 s,
// then 2, 4 … 60 s apart; a peer that accepts and drops keeps its step
// (not dialled every second); one connected for a minute starts again at
// 1 s.
func TestRedialBackoff(t *testing.T) {
	var r redial
	now := time.Unix(1000, 0)
	var dials []time.Duration
	last := now
	run := func(until time.Time, connected bool) {
		for ; now.Before(until); now = now.Add(100 * time.Millisecond) {
			if r.due(connected, now) {
				dials = append(dials, now.Sub(last).Round(time.Second))
				last = now
			}
		}
	}
	run(now.Add(200*time.Second), false)
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	if len(dials) < len(want) {
		t.Fatalf("dial gaps %v", dials)
	}
	for i, w := range want {
		if dials[i] != w*time.Second {
			t.Fatalf("dial gaps %v, want %v…", dials, want)
		}
	}
	// Connected for 2 s, then dropped: the next dial is a minute later.
	run(now.Add(2*time.Second), true)
	dials, last = nil, now
	run(now.Add(70*time.Second), false)
	if len(dials) != 1 || dials[0] != 60*time.Second {
		t.Fatalf("after a 2 s connection: dial gaps %v, want [1m0s]", dials)
	}
	// Connected for a minute, then dropped: 1 s again.
	run(now.Add(61*time.Second), true)
	dials, last = nil, now
	run(now.Add(4*time.Second), false)
	if len(dials) != 2 || dials[0] != time.Second || dials[1] != 2*time.Second {
		t.Fatalf("after a minute's connection: dial gaps %v, want [1s 2s]", dials)
	}
}
