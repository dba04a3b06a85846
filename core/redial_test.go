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
