package tui

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/internal/tmuxtest"
)

// TestEndToEndTmux runs the real binary in tmux: it adds a torrent served
// by a local `bidtorrent seed` through the add dialog, waits for 100%,
// opens the peers tab and quits, then checks the downloaded bytes.
func TestEndToEndTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the tmux end-to-end test in -short mode")
	}
	tmuxtest.Require(t, "tmux", "go")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bidtorrent")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/bidtorrent/bidtorrent").CombinedOutput(); err != nil {
		t.Fatalf("cannot build bidtorrent: %v\n%s", err, out)
	}

	// The payload and the seeder, on its own loopback address.
	payloadDir := filepath.Join(dir, "seed")
	if err := os.MkdirAll(payloadDir, 0o755); err != nil {
		t.Fatal(err)
	}
	payload := filepath.Join(payloadDir, "payload.bin")
	want := writeRandom(t, payload, 3<<20+12345)
	torrentFile := filepath.Join(dir, "payload.torrent")
	seedAddr := freeAddr(t)
	seedCfg := writeConfig(t, dir, "seeder", seedAddr)
	seedLog := filepath.Join(dir, "seed.out")
	logf, err := os.Create(seedLog)
	if err != nil {
		t.Fatal(err)
	}
	seed := exec.Command(bin, "--config", seedCfg, "--data-dir", filepath.Join(dir, "seeder.data"),
		"seed", "--torrent", torrentFile, payload)
	seed.Stdout, seed.Stderr = logf, logf
	if err := seed.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = seed.Process.Signal(syscall.SIGTERM)
		_, _ = seed.Process.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(seedLog)
			t.Logf("seeder output:\n%s", b)
		}
	})
	waitFor(t, 60*time.Second, "the seeder to start", func() bool {
		b, _ := os.ReadFile(seedLog)
		return strings.Contains(string(b), "seeding ")
	})

	// The UI in a private tmux server.
	uiAddr := freeAddr(t)
	uiCfg := writeConfig(t, dir, "ui", uiAddr)
	uiData := filepath.Join(dir, "ui.data")
	ui := tmuxtest.Start(t, dir, "e2e", 120, 30, fmt.Sprintf("TERM=xterm-256color %q --config %q --data-dir %q", bin, uiCfg, uiData))
	ui.Diag = func() string {
		b, _ := os.ReadFile(filepath.Join(uiData, "bidtorrent.log"))
		return "ui log:\n" + string(b)
	}
	const wait = 90 * time.Second
	ui.WaitScreen("the UI", wait, tmuxtest.Has("0 torrents"))

	// Add through the dialog: Source, Data dir, Labels, Peers.
	ui.Keys("a")
	ui.WaitScreen("the add dialog", wait, tmuxtest.Has("Add torrent"))
	ui.Type(filepath.Join(dir, "payl"))
	ui.Keys("Tab") // completes to payload.torrent
	ui.WaitScreen("path completion", wait, tmuxtest.Has("payload.torrent"))
	ui.Keys("Down", "Down", "Down")
	ui.Type(seedAddr)
	ui.Keys("Enter")
	ui.WaitScreen("the download to finish", wait, tmuxtest.Has("payload.bin", "100%"))

	// The peers tab opens on the torrent. Once both sides are complete the
	// seeder may have hung up, so the tab shows the seeder or no peers.
	ui.Keys("Enter")
	ui.Keys("3")
	host, _, _ := net.SplitHostPort(seedAddr)
	ui.WaitScreen("the peers tab", wait, func(s string) bool {
		return strings.Contains(s, "bidtorrent · payload.bin") && strings.Contains(s, "address") &&
			(strings.Contains(s, host+":") || strings.Contains(s, "no peers connected"))
	})

	ui.Keys("q") // back to the list
	ui.WaitScreen("the list", wait, tmuxtest.Has("1 torrents"))
	ui.Keys("q") // quit
	if got := ui.Exit(30 * time.Second); got != "0" {
		t.Fatalf("the UI exited with status %s", got)
	}
	got := sha256File(t, filepath.Join(uiData, "downloads", "payload.bin"))
	if got != want {
		t.Fatalf("downloaded payload has sha256 %s, want %s", got, want)
	}
}

func writeConfig(t *testing.T, dir, name, listen string) string {
	t.Helper()
	host, _, _ := net.SplitHostPort(listen)
	p := filepath.Join(dir, name+".toml")
	text := fmt.Sprintf("[engine]\nlisten_addr = %q\ndial_addr = %q\ndht = false\npex = false\nlsd = false\nutp = false\nport_forwarding = false\n", listen, host)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// freeAddr returns a free TCP address on a random 127.x.y.z.
func freeAddr(t *testing.T) string {
	t.Helper()
	n, _ := rand.Int(rand.Reader, big.NewInt(250*250))
	ip := fmt.Sprintf("127.0.%d.%d", n.Int64()/250+1, n.Int64()%250+2)
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeRandom(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("downloaded payload: %v", err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
