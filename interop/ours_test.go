//go:build linux

package interop

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Sizes: a few MiB in 32 KiB pieces keeps each transfer to seconds while
// still spanning many pieces and several 16 KiB requests per piece.
const (
	payloadSize = 3<<20 + 12345 // a short last piece
	pieceLog2   = 15
	transferMax = 60 * time.Second
)

// get runs our get verb to completion and checks the payload's hash.
func (b *bt) get(t *testing.T, source, wantSum string, peers ...string) {
	t.Helper()
	out := filepath.Join(b.dir, "ours-out")
	args := []string{"--listen", b.listen.String(), "--out", out}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	args = append(args, source)
	p, err := b.run(t, transferMax, "ours-get", "get", args...)
	if err != nil {
		t.Fatalf("our get did not finish cleanly: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), wantSum)
	t.Logf("our get: %d bytes verified in %v", int64(payloadSize), p.Elapsed())
}

// waitMagnet waits for our seed verb to print its magnet URI on stdout.
func waitMagnet(t *testing.T, p *Proc, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(p.Stdout()))
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "magnet:?") {
				return line
			}
		}
		if exited, err := p.Exited(); exited {
			t.Fatalf("our seed exited before printing a magnet: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("our seed printed no magnet within %v", timeout)
	return ""
}

// TestGetFromAria2: our get downloads from an aria2 seeder it dials.
func TestGetFromAria2(t *testing.T) {
	t.Parallel()
	need(t, "aria2c", "mktorrent")
	dir := t.TempDir()
	seed, tor, _, sum := seedAria2(t, dir, payloadSize, pieceLog2)
	newBT(t, dir, "ours").get(t, tor, sum, seed.Addr.String())
}

// TestGetURLFromAria2: our get fetches the .torrent from an http URL, then
// the data from an aria2 seeder.
func TestGetURLFromAria2(t *testing.T) {
	t.Parallel()
	need(t, "aria2c", "mktorrent")
	dir := t.TempDir()
	seed, tor, _, sum := seedAria2(t, dir, payloadSize, pieceLog2)
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(NewLoopbackIP(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(filepath.Dir(tor))), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/" + filepath.Base(tor)
	newBT(t, dir, "ours").get(t, url, sum, seed.Addr.String())
}

// TestGetFromTransmission: our get downloads from a transmission-daemon
// seeder. Transmission never dials loopback peers but accepts them, so we
// dial it.
func TestGetFromTransmission(t *testing.T) {
	t.Parallel()
	need(t, "transmission-daemon", "transmission-remote", "mktorrent")
	dir := t.TempDir()
	seed, tor, _, sum := seedTransmission(t, dir, payloadSize, pieceLog2, nil)
	newBT(t, dir, "ours").get(t, tor, sum, seed.Addr.String())
}

// TestGetFromTransmissionEncrypted: the same with Transmission requiring
// protocol encryption (MSE), so our get must encrypt.
func TestGetFromTransmissionEncrypted(t *testing.T) {
	t.Parallel()
	need(t, "transmission-daemon", "transmission-remote", "mktorrent")
	dir := t.TempDir()
	seed, tor, _, sum := seedTransmission(t, dir, payloadSize, pieceLog2, map[string]any{"encryption": 2})
	newBT(t, dir, "ours").get(t, tor, sum, seed.Addr.String())
}

// TestMagnetFromTransmission: our get fetches the info dict over BEP 9
// (ut_metadata) from a Transmission seeder, then the data.
func TestMagnetFromTransmission(t *testing.T) {
	t.Parallel()
	need(t, "transmission-daemon", "transmission-remote", "mktorrent")
	dir := t.TempDir()
	seed, _, ti, sum := seedTransmission(t, dir, payloadSize, pieceLog2, nil)
	newBT(t, dir, "ours").get(t, ti.Magnet(), sum, seed.Addr.String())
}

// TestMagnetFromAria2: the same from an aria2 seeder.
func TestMagnetFromAria2(t *testing.T) {
	t.Parallel()
	need(t, "aria2c", "mktorrent")
	dir := t.TempDir()
	seed, _, ti, sum := seedAria2(t, dir, payloadSize, pieceLog2)
	newBT(t, dir, "ours").get(t, ti.Magnet(), sum, seed.Addr.String())
}

// ourSeed creates a torrent of a fresh payload with our create verb
// (announcing to tracker), checks it with the harness's own reader, and
// seeds it with our seed verb. It returns the torrent's path and info and
// the payload's hash.
func ourSeed(t *testing.T, dir string, tracker *Tracker, private bool) (*bt, string, TorrentInfo, string) {
	t.Helper()
	return ourSeedWith(t, dir, newBT(t, dir, "ours-seed"), tracker, private)
}

// ourSeedWith is ourSeed run by b.
func ourSeedWith(t *testing.T, dir string, b *bt, tracker *Tracker, private bool) (*bt, string, TorrentInfo, string) {
	t.Helper()
	src := filepath.Join(dir, "src", "payload.bin")
	sum := payload(t, src, payloadSize)
	tor := filepath.Join(dir, "ours.torrent")
	args := []string{"--piece-length", fmt.Sprint(1 << pieceLog2), "--tracker", tracker.URL, "-o", tor}
	if private {
		args = append(args, "--private")
	}
	if _, err := b.run(t, 30*time.Second, "ours-create", "create", append(args, src)...); err != nil {
		t.Fatalf("our create: %v", err)
	}
	ti, err := ReadTorrent(tor)
	if err != nil {
		t.Fatal(err)
	}
	if ti.Name != "payload.bin" || ti.Length != payloadSize || ti.PieceLength != 1<<pieceLog2 || ti.Announce != tracker.URL || ti.Private != private {
		t.Fatalf("our create wrote %+v; want payload.bin, %d bytes, %d-byte pieces, announce %s, private=%v",
			ti, payloadSize, 1<<pieceLog2, tracker.URL, private)
	}
	p := b.start(t, "ours-seed", "seed", "--listen", b.listen.String(), "--torrent", tor, src)
	magnet := waitMagnet(t, p, 30*time.Second)
	if !strings.Contains(strings.ToLower(magnet), "xt=urn:btih:"+ti.InfoHash.String()) {
		t.Fatalf("our seed printed %q; want infohash %s", magnet, ti.InfoHash)
	}
	// A plain BitTorrent handshake from a third address must see every
	// piece: the seeder checked its data and speaks the wire protocol.
	if err := WaitHasAll(NewLoopbackIP(), b.listen, ti.InfoHash, ti.Pieces, 30*time.Second); err != nil {
		t.Fatalf("our seeder: %v", err)
	}
	return b, tor, ti, sum
}

// waitAnnounce waits until the tracker has heard from a peer with nothing
// left to download on port.
func waitAnnounce(t *testing.T, tr *Tracker, ih InfoHash, port uint16, timeout time.Duration) Announce {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, a := range tr.Announces() {
			if a.InfoHash == ih && a.Addr.Port() == port && a.Left == 0 {
				return a
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no announce from our seeder (port %d) within %v", port, timeout)
	return Announce{}
}

// TestAria2GetsFromOurSeed: aria2 downloads a torrent made by our create
// verb from our seed verb, having learnt of us from the tracker. aria2 has
// no add-peer command, so our seeder must announce first.
func TestAria2GetsFromOurSeed(t *testing.T) {
	t.Parallel()
	aria2FromOurSeed(t, false)
}

// TestAria2GetsFromOurPrivateSeed: the same with a private torrent
// (BEP 27), whose only peer source is the tracker.
func TestAria2GetsFromOurPrivateSeed(t *testing.T) {
	t.Parallel()
	aria2FromOurSeed(t, true)
}

// TestAria2GetsFromOurSeedEncrypted: the same with aria2 requiring
// protocol encryption (MSE with RC4), which our default policy (prefer)
// must accept.
func TestAria2GetsFromOurSeedEncrypted(t *testing.T) {
	t.Parallel()
	aria2FromOurSeed(t, false, "--bt-require-crypto=true", "--bt-min-crypto-level=arc4")
}

func aria2FromOurSeed(t *testing.T, private bool, aria2Opts ...string) {
	need(t, "aria2c")
	dir := t.TempDir()
	trk := startTracker(t)
	b, tor, ti, sum := ourSeed(t, dir, trk, private)
	a := waitAnnounce(t, trk, ti.InfoHash, b.listen.Port(), 30*time.Second)
	if a.Addr != b.listen {
		// A tracker must learn the address we listen on (the announce
		// comes from dial_addr or carries ip=); register the right one so
		// the transfer is still tested.
		t.Errorf("our announce arrived as %v; we listen on %v", a.Addr, b.listen)
		trk.AddPeer(ti.InfoHash, b.listen)
	}
	out := filepath.Join(dir, "aria2-out")
	leech := startAria2(t, dir, "aria2-get", NewLoopbackIP(), tor, out, false, aria2Opts...)
	if err := leech.Wait(transferMax); err != nil {
		t.Fatalf("aria2 leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
	t.Logf("aria2 got %d bytes from our seed in %v", ti.Length, leech.Elapsed())
}

// TestTransmissionGetsFromOurSeed: Transmission downloads from our seed.
// It never dials loopback peers, so it announces first and our seeder,
// told of it by the tracker, dials it.
func TestTransmissionGetsFromOurSeed(t *testing.T) {
	t.Parallel()
	need(t, "transmission-daemon", "transmission-remote")
	dir := t.TempDir()
	trk := startTracker(t)

	// Make the torrent first: Transmission must be in the swarm before we
	// announce.
	src := filepath.Join(dir, "src", "payload.bin")
	sum := payload(t, src, payloadSize)
	tor := filepath.Join(dir, "ours.torrent")
	b := newBT(t, dir, "ours-seed")
	if _, err := b.run(t, 30*time.Second, "ours-create", "create",
		"--piece-length", fmt.Sprint(1<<pieceLog2), "--tracker", trk.URL, "-o", tor, src); err != nil {
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
	// Transmission's announce may come from 127.0.0.1 rather than its
	// listen address; register the address it really listens on.
	trk.AddPeer(ti.InfoHash, tr.Addr)

	b.start(t, "ours-seed", "seed", "--listen", b.listen.String(), "--torrent", tor, src)
	if err := tr.WaitDone(transferMax); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
}

// TestAria2GetsFromOurWebseed: aria2 downloads a torrent made by our
// create verb with --webseed and no peers at all, from a plain HTTP server
// (BEP 19 url-list): our torrent's url-list must be one a real client
// understands.
func TestAria2GetsFromOurWebseed(t *testing.T) {
	t.Parallel()
	need(t, "aria2c")
	dir := t.TempDir()
	srcDir := filepath.Join(dir, "src")
	src := filepath.Join(srcDir, "payload.bin")
	sum := payload(t, src, payloadSize)
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(NewLoopbackIP(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	files := http.FileServer(http.Dir(srcDir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed
	t.Cleanup(func() { srv.Close() })

	tor := filepath.Join(dir, "ours.torrent")
	b := newBT(t, dir, "ours")
	webseed := "http://" + ln.Addr().String() + "/"
	if _, err := b.run(t, 30*time.Second, "ours-create", "create",
		"--piece-length", fmt.Sprint(1<<pieceLog2), "--webseed", webseed, "-o", tor, src); err != nil {
		t.Fatalf("our create: %v", err)
	}
	out := filepath.Join(dir, "aria2-out")
	leech := startAria2(t, dir, "aria2-get", NewLoopbackIP(), tor, out, false)
	if err := leech.Wait(transferMax); err != nil {
		t.Fatalf("aria2 leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
	if requests.Load() == 0 {
		t.Fatal("aria2 made no request to the web seed")
	}
	t.Logf("aria2 made %d requests to the web seed", requests.Load())
}
