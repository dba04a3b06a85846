//go:build linux

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// marketSeed is ourSeed with the bandwidth market on: a wallet in the
// seeder's data dir (on a local ledger file), `seed --ask` with the
// uniform seller and a capped upload, so the shaper is in the path.
func marketSeed(t *testing.T, dir string, tracker *Tracker) (*bt, string, TorrentInfo, string) {
	t.Helper()
	src := filepath.Join(dir, "src", "payload.bin")
	sum := payload(t, src, payloadSize)
	tor := filepath.Join(dir, "ours.torrent")
	b := newBT(t, dir, "ours-market-seed")
	if _, err := b.run(t, 30*time.Second, "ours-create", "create", "--piece-length", fmt.Sprint(1<<pieceLog2),
		"--tracker", tracker.URL, "-o", tor, src); err != nil {
		t.Fatalf("our create: %v", err)
	}
	ti, err := ReadTorrent(tor)
	if err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("interop pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.db")
	if _, err := b.run(t, 60*time.Second, "ours-wallet", "--ledger", ledger, "wallet", "new", "--passphrase-file", pass); err != nil {
		t.Fatalf("our wallet new: %v", err)
	}
	t.Setenv("BIDTORRENT_PASSPHRASE", "interop pass")
	p := b.start(t, "ours-market-seed", "--ledger", ledger, "seed", "--listen", b.listen.String(), "--torrent", tor,
		"--ask", "0.001", "--seller-strategy", "uniform", "--upload-limit", "64MiB", src)
	magnet := waitMagnet(t, p, 30*time.Second)
	if !strings.Contains(strings.ToLower(magnet), "xt=urn:btih:"+ti.InfoHash.String()) {
		t.Fatalf("our seed printed %q; want infohash %s", magnet, ti.InfoHash)
	}
	if err := WaitHasAll(NewLoopbackIP(), b.listen, ti.InfoHash, ti.Pieces, 30*time.Second); err != nil {
		t.Fatalf("our market seeder: %v", err)
	}
	return b, tor, ti, sum
}

// TestAria2GetsFromOurMarketSeed: aria2 (no btt_bid) downloads from our
// seeder with the bandwidth market on exactly as from a plain one: it
// sees one extra `m` entry, never a btt_bid message, and gets the whole
// file through the shaper's free share.
func TestAria2GetsFromOurMarketSeed(t *testing.T) {
	need(t, "aria2c")
	dir := t.TempDir()
	trk := startTracker(t)
	b, tor, ti, sum := marketSeed(t, dir, trk)
	if a := waitAnnounce(t, trk, ti.InfoHash, b.listen.Port(), 30*time.Second); a.Addr != b.listen {
		trk.AddPeer(ti.InfoHash, b.listen)
	}
	out := filepath.Join(dir, "aria2-out")
	leech := startAria2(t, dir, "aria2-get", NewLoopbackIP(), tor, out, false)
	if err := leech.Wait(transferMax); err != nil {
		t.Fatalf("aria2 leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
	t.Logf("aria2 got %d bytes from our market seed in %v", ti.Length, leech.Elapsed())
}

// TestTransmissionGetsFromOurMarketSeed: the same with Transmission, which
// never dials loopback peers: it announces first and our seeder dials it.
func TestTransmissionGetsFromOurMarketSeed(t *testing.T) {
	need(t, "transmission-daemon", "transmission-remote")
	dir := t.TempDir()
	trk := startTracker(t)
	src := filepath.Join(dir, "src", "payload.bin")
	sum := payload(t, src, payloadSize)
	tor := filepath.Join(dir, "ours.torrent")
	b := newBT(t, dir, "ours-market-seed")
	if _, err := b.run(t, 30*time.Second, "ours-create", "create", "--piece-length", fmt.Sprint(1<<pieceLog2),
		"--tracker", trk.URL, "-o", tor, src); err != nil {
		t.Fatalf("our create: %v", err)
	}
	ti, err := ReadTorrent(tor)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tr-out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	tr, err := StartTransmission(dir, "transmission", NewLoopbackIP(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, tr.Proc)
	if err := tr.Add(tor, out); err != nil {
		t.Fatal(err)
	}
	trk.AddPeer(ti.InfoHash, tr.Addr)
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("interop pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(dir, "ledger.db")
	if _, err := b.run(t, 60*time.Second, "ours-wallet", "--ledger", ledger, "wallet", "new", "--passphrase-file", pass); err != nil {
		t.Fatalf("our wallet new: %v", err)
	}
	t.Setenv("BIDTORRENT_PASSPHRASE", "interop pass")
	b.start(t, "ours-market-seed", "--ledger", ledger, "seed", "--listen", b.listen.String(), "--torrent", tor,
		"--ask", "0.001", "--upload-limit", "64MiB", src)
	if err := tr.WaitDone(transferMax); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
}
