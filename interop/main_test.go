//go:build linux

package interop

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// btBin is the bidtorrent binary TestMain builds.
var btBin string

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait on other programs' timers (Transmission sends
	// a new peer nothing until its next rechoke, ~10 s), not on the CPU:
	// run them all at once unless -parallel was given.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "16") //nolint:errcheck // the flag exists
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bidtorrent-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: cannot make temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	btBin = filepath.Join(dir, "bidtorrent")
	cmd := exec.Command("go", "build", "-o", btBin, "github.com/bidtorrent/bidtorrent")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: cannot build bidtorrent: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	// Every child must have been stopped by its test's cleanup.
	if left := Running(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "interop: processes left running after the tests: %v\n", left)
		StopAll()
		code = 1
	}
	return code
}

// need skips the test when a program is missing, or fails it under CI=true.
func need(t *testing.T, programs ...string) {
	t.Helper()
	if err := Need(programs...); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// watch stops p when the test ends and prints its logs if the test failed.
func watch(t *testing.T, p *Proc) {
	t.Cleanup(func() {
		p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", p.Name, p.Logs(6000))
			for _, extra := range []string{p.Name + ".log"} {
				f := filepath.Join(filepath.Dir(p.OutPath), extra)
				if b, err := os.ReadFile(f); err == nil {
					if len(b) > 6000 {
						b = b[len(b)-6000:]
					}
					t.Logf("--- %s (last %d bytes)\n%s", extra, len(b), b)
				}
			}
		}
	})
}

// bt runs our binary with its own data dir and config, on its own
// loopback address.
type bt struct {
	ip      netip.Addr
	listen  netip.AddrPort
	dataDir string
	config  string
	dir     string // logs
}

// newBT prepares one of our peers on a fresh 127.x.y.z. Its config turns
// off everything that could leave loopback or bring peers we did not ask
// for (DHT, LSD, PEX, UPnP/NAT-PMP, uTP) and dials from its own address.
func newBT(t *testing.T, dir, label string) *bt {
	t.Helper()
	ip := NewLoopbackIP()
	listen, err := FreeAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	b := &bt{ip: ip, listen: listen, dataDir: filepath.Join(dir, label+".data"),
		config: filepath.Join(dir, label+".toml"), dir: dir}
	if err := os.MkdirAll(b.dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.config, []byte(OurConfig(listen)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Registered before any of b's processes, so it runs after they stop.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		log := filepath.Join(b.dataDir, "bidtorrent.log")
		if data, err := os.ReadFile(log); err == nil {
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			t.Logf("--- %s (last %d bytes)\n%s", log, len(data), data)
		}
	})
	return b
}

func (b *bt) argv(verb string, args ...string) []string {
	return append([]string{"--data-dir", b.dataDir, "--config", b.config, verb}, args...)
}

// start runs a long-lived verb (seed, or get in the background).
func (b *bt) start(t *testing.T, label, verb string, args ...string) *Proc {
	t.Helper()
	p, err := StartProc(b.dir, label, btBin, b.argv(verb, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, p)
	return p
}

// run runs a verb to completion within timeout.
func (b *bt) run(t *testing.T, timeout time.Duration, label, verb string, args ...string) (*Proc, error) {
	t.Helper()
	p := b.start(t, label, verb, args...)
	err := p.Wait(timeout)
	return p, err
}

// payload writes a payload of size bytes to dir/NAME and returns its sha256.
func payload(t *testing.T, path string, size int64) string {
	t.Helper()
	sum, err := WritePayload(path, size, uint64(len(path)))
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// checkFile fails the test unless path has the SHA-256 want.
func checkFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := SHA256File(path)
	if err != nil {
		t.Fatalf("downloaded payload: %v", err)
	}
	if got != want {
		t.Fatalf("%s: sha256 %s, want %s", path, got, want)
	}
}

// startAria2 runs aria2c and stops it at the end of the test.
func startAria2(t *testing.T, dir, label string, ip netip.Addr, torrent, saveDir string, seed bool, extra ...string) *Aria2 {
	t.Helper()
	a, err := StartAria2(dir, label, ip, torrent, saveDir, seed, extra...)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, a.Proc)
	return a
}

// startTracker runs an in-process tracker on its own address.
func startTracker(t *testing.T) *Tracker {
	t.Helper()
	tr, err := StartTracker(netip.AddrPortFrom(NewLoopbackIP(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tr.Close()
		if t.Failed() {
			var b strings.Builder
			for _, a := range tr.Announces() {
				fmt.Fprintf(&b, "  %s %q event=%q left=%d peer_id=%q\n", a.InfoHash, a.Addr, a.Event, a.Left, a.PeerID)
			}
			t.Logf("tracker announces:\n%s", b.String())
		}
	})
	return tr
}

// seedAria2 makes a mktorrent torrent of a size-byte payload and seeds it
// with aria2. It returns the torrent's path and info, and the payload hash.
func seedAria2(t *testing.T, dir string, size int64, pieceLog2 int, trackers ...string) (*Aria2, string, TorrentInfo, string) {
	t.Helper()
	seedDir := filepath.Join(dir, "seed")
	sum := payload(t, filepath.Join(seedDir, "payload.bin"), size)
	tor := filepath.Join(dir, "payload.torrent")
	ti, err := Mktorrent(filepath.Join(seedDir, "payload.bin"), tor, pieceLog2, trackers...)
	if err != nil {
		t.Fatal(err)
	}
	a := startAria2(t, dir, "aria2-seed", NewLoopbackIP(), tor, seedDir, true)
	if err := a.WaitSeeding(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return a, tor, ti, sum
}

// TestHarnessAria2ToAria2 checks the harness alone (tracker, aria2 seeder
// and leecher) so that a failure of the tests below is not blamed on it.
func TestHarnessAria2ToAria2(t *testing.T) {
	t.Parallel()
	need(t, "aria2c", "mktorrent")
	dir := t.TempDir()
	tr := startTracker(t)
	seed, tor, ti, sum := seedAria2(t, dir, 3<<20, 15, tr.URL)
	if err := WaitHasAll(NewLoopbackIP(), seed.Addr, ti.InfoHash, ti.Pieces, 10*time.Second); err != nil {
		t.Fatalf("readiness probe: %v", err)
	}
	tr.AddPeer(ti.InfoHash, seed.Addr)

	out := filepath.Join(dir, "get")
	leech := startAria2(t, dir, "aria2-get", NewLoopbackIP(), tor, out, false)
	if err := leech.Wait(60 * time.Second); err != nil {
		t.Fatalf("aria2 leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
	t.Logf("aria2 -> aria2: %d bytes in %v", ti.Length, leech.Elapsed())
}

// seedTransmission makes a mktorrent torrent of a size-byte payload and
// seeds it with transmission-daemon.
func seedTransmission(t *testing.T, dir string, size int64, pieceLog2 int, settings map[string]any, trackers ...string) (*Transmission, string, TorrentInfo, string) {
	t.Helper()
	seedDir := filepath.Join(dir, "seed")
	sum := payload(t, filepath.Join(seedDir, "payload.bin"), size)
	tor := filepath.Join(dir, "payload.torrent")
	ti, err := Mktorrent(filepath.Join(seedDir, "payload.bin"), tor, pieceLog2, trackers...)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := StartTransmission(dir, "transmission", NewLoopbackIP(), seedDir, settings)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, tr.Proc)
	if err := tr.Add(tor, seedDir); err != nil {
		t.Fatal(err)
	}
	if err := tr.WaitDone(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return tr, tor, ti, sum
}

func TestHarnessTransmissionToAria2(t *testing.T) {
	t.Parallel()
	need(t, "aria2c", "mktorrent", "transmission-daemon", "transmission-remote")
	dir := t.TempDir()
	trk := startTracker(t)
	seed, tor, ti, sum := seedTransmission(t, dir, 3<<20, 15, nil, trk.URL)
	if err := WaitHasAll(NewLoopbackIP(), seed.Addr, ti.InfoHash, ti.Pieces, 10*time.Second); err != nil {
		t.Fatalf("readiness probe: %v", err)
	}
	trk.AddPeer(ti.InfoHash, seed.Addr)
	out := filepath.Join(dir, "get")
	leech := startAria2(t, dir, "aria2-get", NewLoopbackIP(), tor, out, false)
	if err := leech.Wait(60 * time.Second); err != nil {
		t.Fatalf("aria2 leecher: %v", err)
	}
	checkFile(t, filepath.Join(out, "payload.bin"), sum)
	t.Logf("transmission -> aria2: %d bytes in %v", ti.Length, leech.Elapsed())
}
