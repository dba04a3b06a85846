package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Parked seeds (core/park.go): a complete torrent with no peer for
// park_after leaves the BitTorrent client of our seeder; a real peer
// that connects for it must still get every byte, its handshake read by
// our listener first (core/sniff.go), in plaintext and under MSE.

// parkedSeed is ourSeed parking after one second, once parked.
func parkedSeed(t *testing.T, dir string, trk *Tracker, private bool) (*bt, string, TorrentInfo, string) {
	t.Helper()
	b := newBT(t, dir, "ours-seed")
	conf, err := os.ReadFile(b.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.config, append(conf, "park_after = \"1s\"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	b2, tor, ti, sum := ourSeedWith(t, dir, b, trk, private)
	waitLog(t, b2, "parked", 30*time.Second)
	return b2, tor, ti, sum
}

// waitLog waits until b's log holds a line with msg="what".
func waitLog(t *testing.T, b *bt, what string, timeout time.Duration) {
	t.Helper()
	log := filepath.Join(b.dataDir, "bidtorrent.log")
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(log); err == nil && strings.Contains(string(data), "msg="+what+" ") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never logged %q within %v", log, what, timeout)
}

// TestLibtorrentGetsFromOurParkedSeed: libtorrent, told our address,
// downloads from a parked torrent, in plaintext and with MSE forced.
func TestLibtorrentGetsFromOurParkedSeed(t *testing.T) {
	t.Parallel()
	needLibtorrent(t)
	for _, c := range []struct {
		name  string
		flags []string
	}{{"plaintext", nil}, {"mse", []string{"--encrypt"}}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			trk := startTracker(t)
			b, tor, _, sum := parkedSeed(t, dir, trk, false)
			out := filepath.Join(dir, "lt-out")
			p, _ := startLTWith(t, dir, "lt-get", "get", tor, out, c.flags, b.listen.String())
			if err := p.Wait(transferMax); err != nil {
				t.Fatalf("libtorrent leecher: %v", err)
			}
			checkFile(t, filepath.Join(out, "payload.bin"), sum)
			waitLog(t, b, "woken", 5*time.Second)
		})
	}
}

// TestAria2GetsFromOurParkedPrivateSeed: aria2 learns of a parked private
// torrent only from the tracker, which hears of it from the announcer of
// parked torrents (it announces complete torrents, in the client or
// not), and downloads it with MSE required.
func TestAria2GetsFromOurParkedPrivateSeed(t *testing.T) {
	t.Parallel()
	need(t, "aria2c")
	dir := t.TempDir()
	trk := startTracker(t)
	b, tor, ti, sum := parkedSeed(t, dir, trk, true)
	// The tracker heard of the torrent from the announcer of parked
	// torrents (it announces complete torrents, in the client or not),
	// and the park did not make it forget us: the last announce from our
	// port is not "stopped".
	as := trk.Announces()
	if a, i := lastAnnounce(as, ti.InfoHash, b.listen.Port()); i < 0 || a.Left != 0 || a.Event == "stopped" {
		t.Fatalf("the tracker does not list the parked seeder: %+v", as)
	}
	out := filepath.Join(dir, "aria2-out")
	leech := startAria2(t, dir, "aria2-get", NewLoopbackIP(), tor, out, false, "--bt-require-crypto=true", "--bt-min-crypto-level=arc4")
	if err := leech.Wait(transferMax); err != nil {
		t.Fatalf("aria2 leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
}

// lastAnnounce returns the last of as for ih from port and its index
// (-1: none).
func lastAnnounce(as []Announce, ih InfoHash, port uint16) (Announce, int) {
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].InfoHash == ih && as[i].Addr.Port() == port {
			return as[i], i
		}
	}
	return Announce{}, -1
}
