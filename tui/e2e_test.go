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
)

// TestEndToEndTmux runs the real binary in tmux: it adds a torrent served
// by a local `bidtorrent seed` through the add dialog, waits for 100%,
// opens the peers tab and quits, then checks the downloaded bytes.
func TestEndToEndTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the tmux end-to-end test in -short mode")
	}
	for _, prog := range []string{"tmux", "go"} {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true and %s is not installed", prog)
			}
			t.Skipf("skipping: %s is not installed", prog)
		}
	}
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
	sock := filepath.Join(dir, "tmux.sock")
	exitFile := filepath.Join(dir, "ui.exit")
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	shell := fmt.Sprintf("TERM=xterm-256color %q --config %q --data-dir %q; echo $? > %q; sleep 30",
		bin, uiCfg, uiData, exitFile)
	tmux("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", "120", "-y", "30", shell)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", sock, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", "e2e") }
	waitScreen := func(what string, ok func(string) bool) {
		t.Helper()
		var last string
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if last = screen(); ok(last) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		b, _ := os.ReadFile(filepath.Join(uiData, "bidtorrent.log"))
		t.Fatalf("gave up waiting for %s; screen:\n%s\nui log:\n%s", what, last, b)
	}
	waitScreen("the UI", func(s string) bool { return strings.Contains(s, "0 torrents") })

	// Add through the dialog: Source, Data dir, Labels, Peers.
	tmux("send-keys", "-t", "e2e", "a")
	waitScreen("the add dialog", func(s string) bool { return strings.Contains(s, "Add torrent") })
	tmux("send-keys", "-t", "e2e", "-l", filepath.Join(dir, "payl"))
	tmux("send-keys", "-t", "e2e", "Tab") // completes to payload.torrent
	waitScreen("path completion", func(s string) bool { return strings.Contains(s, "payload.torrent") })
	tmux("send-keys", "-t", "e2e", "Down", "Down", "Down")
	tmux("send-keys", "-t", "e2e", "-l", seedAddr)
	tmux("send-keys", "-t", "e2e", "Enter")
	waitScreen("the download to finish", func(s string) bool {
		return strings.Contains(s, "payload.bin") && strings.Contains(s, "100%")
	})

	// The peers tab opens on the torrent. Once both sides are complete the
	// seeder may have hung up, so the tab shows the seeder or no peers.
	tmux("send-keys", "-t", "e2e", "Enter")
	tmux("send-keys", "-t", "e2e", "3")
	host, _, _ := net.SplitHostPort(seedAddr)
	waitScreen("the peers tab", func(s string) bool {
		return strings.Contains(s, "bidtorrent · payload.bin") && strings.Contains(s, "address") &&
			(strings.Contains(s, host+":") || strings.Contains(s, "no peers connected"))
	})

	tmux("send-keys", "-t", "e2e", "q") // back to the list
	waitScreen("the list", func(s string) bool { return strings.Contains(s, "1 torrents") })
	tmux("send-keys", "-t", "e2e", "q") // quit
	waitFor(t, 30*time.Second, "the UI to exit", func() bool {
		b, err := os.ReadFile(exitFile)
		return err == nil && len(b) > 0
	})
	if b, _ := os.ReadFile(exitFile); strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("the UI exited with status %s", b)
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
