//go:build linux

package interop

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Peers driven through Debian's python3-libtorrent (libtorrent-rasterbar
// 2.0, the engine of qBittorrent and Deluge) by testdata/ltpeer.py. Unlike
// aria2 and Transmission it can dial a given peer, so no tracker is needed.

const systemPython = "/usr/bin/python3" // the one Debian's module is built for

// needLibtorrent skips the test (or fails it under CI=true) unless
// /usr/bin/python3 can import libtorrent.
func needLibtorrent(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import libtorrent").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s cannot import libtorrent (apt-get install python3-libtorrent): %v %s",
		systemPython, err, strings.TrimSpace(string(out)))
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", msg)
	}
	t.Skip("skipping: " + msg)
}

// startLT runs testdata/ltpeer.py in mode seed or get on a fresh address.
// torrent is a .torrent path or a magnet URI.
func startLT(t *testing.T, dir, label, mode, torrent, save string, peers ...string) (*Proc, netip.AddrPort) {
	t.Helper()
	return startLTWith(t, dir, label, mode, torrent, save, nil, peers...)
}

// startLTWith is startLT with extra ltpeer.py flags (--utp).
func startLTWith(t *testing.T, dir, label, mode, torrent, save string, flags []string, peers ...string) (*Proc, netip.AddrPort) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "ltpeer.py"))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := FreeAddr(NewLoopbackIP())
	if err != nil {
		t.Fatal(err)
	}
	src := "--torrent"
	if strings.HasPrefix(torrent, "magnet:") {
		src = "--magnet"
	}
	args := []string{script, mode, "--listen", addr.String(), src, torrent, "--save", save}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	args = append(args, flags...)
	p, err := StartProc(dir, label, systemPython, args...)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, p)
	return p, addr
}

// waitLine waits until p prints line on stdout.
func waitLine(t *testing.T, p *Proc, line string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Stdout(), "\n"+line+"\n") || strings.HasPrefix(p.Stdout(), line+"\n") {
			return
		}
		if exited, err := p.Exited(); exited {
			t.Fatalf("%s exited before printing %s: %v", p.Name, line, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not print %s within %v", p.Name, line, timeout)
}

// seedLT seeds a fresh mktorrent torrent with libtorrent.
func seedLT(t *testing.T, dir string) (netip.AddrPort, string, TorrentInfo, string) {
	t.Helper()
	need(t, "mktorrent")
	needLibtorrent(t)
	seedDir := filepath.Join(dir, "seed")
	sum := payload(t, filepath.Join(seedDir, "payload.bin"), payloadSize)
	tor := filepath.Join(dir, "payload.torrent")
	ti, err := Mktorrent(filepath.Join(seedDir, "payload.bin"), tor, pieceLog2)
	if err != nil {
		t.Fatal(err)
	}
	p, addr := startLT(t, dir, "lt-seed", "seed", tor, seedDir)
	waitLine(t, p, "READY", 30*time.Second)
	return addr, tor, ti, sum
}

// TestGetFromLibtorrent: our get downloads from a libtorrent seeder.
func TestGetFromLibtorrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, tor, _, sum := seedLT(t, dir)
	newBT(t, dir, "ours").get(t, tor, sum, addr.String())
}

// TestMagnetFromLibtorrent: our get fetches the info dict over BEP 9 from
// a libtorrent seeder, then the data.
func TestMagnetFromLibtorrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, _, ti, sum := seedLT(t, dir)
	newBT(t, dir, "ours").get(t, ti.Magnet(), sum, addr.String())
}

// TestLibtorrentGetsFromOurSeed: libtorrent, told to dial our seeder,
// downloads a torrent made by our create verb.
func TestLibtorrentGetsFromOurSeed(t *testing.T) {
	t.Parallel()
	needLibtorrent(t)
	dir := t.TempDir()
	trk := startTracker(t) // our create wants one; libtorrent is told our address directly
	b, tor, _, sum := ourSeed(t, dir, trk, false)
	out := filepath.Join(dir, "lt-out")
	p, _ := startLT(t, dir, "lt-get", "get", tor, out, b.listen.String())
	if err := p.Wait(transferMax); err != nil {
		t.Fatalf("libtorrent leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
	t.Logf("libtorrent got %d bytes from our seed in %v", int64(payloadSize), p.Elapsed())
}

// TestLibtorrentUTPFirstFallsBackAtOnce: libtorrent with its default
// settings dials a new peer over uTP first. Our seeder has uTP off (the
// default), so its UDP port answers the uTP SYN with a reset (BEP 29
// ST_RESET): libtorrent's uTP attempt fails at once instead of after its
// 3 s uTP connect timeout, it dials TCP, and the first payload byte
// arrives within a second of that; the download completes intact.
// libtorrent redials over TCP either at once or on its next one-second
// tick, so from the uTP attempt to the first byte takes under 2 s (over
// 4 s without the reset).
func TestLibtorrentUTPFirstFallsBackAtOnce(t *testing.T) {
	t.Parallel()
	needLibtorrent(t)
	dir := t.TempDir()
	trk := startTracker(t) // our create wants one; libtorrent is told our address directly
	b, tor, _, sum := ourSeed(t, dir, trk, false)
	out := filepath.Join(dir, "lt-out")
	p, _ := startLTWith(t, dir, "lt-get-utp", "get", tor, out, []string{"--utp"}, b.listen.String())
	if err := p.Wait(transferMax); err != nil {
		t.Fatalf("libtorrent leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
	stdout := p.Stdout()
	// Times in s since libtorrent's first connect_peer call, from its output.
	utpTry, utpFail, tcpTry, first := -1.0, -1.0, -1.0, -1.0
	var transport string
	for _, line := range strings.Split(stdout, "\n") {
		var at float64
		switch {
		case strings.HasPrefix(line, "FIRST_BYTES"):
			var sinceUTP float64
			if _, err := fmt.Sscanf(line, "FIRST_BYTES t=%g since_utp=%g transport=%s", &first, &sinceUTP, &transport); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		case strings.HasPrefix(line, "ALERT"):
			if _, err := fmt.Sscanf(line, "ALERT t=%g", &at); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			switch {
			case strings.Contains(line, "outgoing connection to peer (uTP)") && utpTry < 0:
				utpTry = at
			case strings.Contains(line, "disconnecting (uTP)") && utpFail < 0:
				utpFail = at
			case strings.Contains(line, "outgoing connection to peer (TCP)") && tcpTry < 0:
				tcpTry = at
			}
		}
	}
	if utpTry < 0 || utpFail < 0 || tcpTry < 0 || first < 0 {
		t.Fatalf("libtorrent's output lacks a uTP attempt, its failure, a TCP attempt or the first byte:\n%s", stdout)
	}
	t.Logf("libtorrent (uTP first): uTP attempt at %.3f s, failed %.3f s later, TCP dialled %.3f s after the failure, "+
		"first byte over %s %.3f s after the TCP dial (%.3f s after the uTP attempt)",
		utpTry, utpFail-utpTry, tcpTry-utpFail, transport, first-tcpTry, first-utpTry)
	if utpFail-utpTry >= 1 || strings.Contains(stdout, "(uTP) [connect] [system]: Connection timed out") {
		t.Errorf("the uTP attempt failed %.3f s after it began; want a reset within 1 s, not the 3 s timeout", utpFail-utpTry)
	}
	if transport != "tcp" || first-tcpTry >= 1 {
		t.Errorf("first byte over %s %.3f s after the TCP dial; want TCP within 1 s", transport, first-tcpTry)
	}
	if first-utpTry >= 2 {
		t.Errorf("first byte %.3f s after the uTP attempt; want under 2 s", first-utpTry)
	}
	if t.Failed() {
		t.Logf("libtorrent's output:\n%s", stdout)
	}
}
