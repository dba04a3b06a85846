package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// runCLI runs one command line in-process and returns its exit status,
// stdout and stderr.
func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// isolate points the default config and data dirs into a temp dir.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	// Loopback only: no DHT, PEX or LSD.
	cfg := filepath.Join(dir, "config", "bidtorrent", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("[engine]\ndht = false\npex = false\nlsd = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeRandom(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// busyPort holds a TCP port on ip for the test's lifetime.
func busyPort(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// oneLineError checks a failed run: the exit status, one line on stderr,
// and that it contains every wanted fragment.
func oneLineError(t *testing.T, name string, code int, stderr string, wantCode int, want ...string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: exit %d, want %d (stderr %q)", name, code, wantCode, stderr)
	}
	if wantCode == 1 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("%s: stderr is not one line: %q", name, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr %q lacks %q", name, stderr, w)
		}
	}
}

func TestCreateBadInput(t *testing.T) {
	dir := isolate(t)
	ctx := context.Background()
	writeRandom(t, filepath.Join(dir, "f.bin"), 1000, 1)
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "o.torrent")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no path", []string{"create", "-o", out}, 2, []string{"exactly one PATH"}},
		{"no -o", []string{"create", filepath.Join(dir, "f.bin")}, 2, []string{"-o OUT.torrent"}},
		{"missing path", []string{"create", "-o", out, filepath.Join(dir, "nope")}, 1, []string{"cannot read", "nope", "no such file"}},
		{"bad piece length", []string{"create", "--piece-length", "1000", "-o", out, filepath.Join(dir, "f.bin")}, 1, []string{"piece length", "power of two"}},
		{"empty dir", []string{"create", "-o", out, filepath.Join(dir, "empty")}, 1, []string{"no data"}},
		{"bad tracker", []string{"create", "--tracker", "ftp://x/a", "-o", out, filepath.Join(dir, "f.bin")}, 1, []string{"tracker URL", "ftp"}},
		{"unwritable output", []string{"create", "-o", filepath.Join(dir, "f.bin", "o.torrent"), filepath.Join(dir, "f.bin")}, 1, []string{"cannot write", "not a directory"}},
	} {
		code, _, stderr := runCLI(t, ctx, tc.args...)
		oneLineError(t, tc.name, code, stderr, tc.code, tc.want...)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed create wrote %s", out)
	}
}

func TestCreateWritesTorrent(t *testing.T) {
	dir := isolate(t)
	writeRandom(t, filepath.Join(dir, "payload", "a.bin"), 100_000, 1)
	writeRandom(t, filepath.Join(dir, "payload", "sub", "b.bin"), 50_000, 2)
	out := filepath.Join(dir, "p.torrent")
	code, stdout, stderr := runCLI(t, context.Background(), "create", "--piece-length", "16384",
		"--tracker", "http://127.0.0.1:6969/announce", "--webseed", "http://127.0.0.1:8080/", "--private", "-o", out, filepath.Join(dir, "payload"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tf, err := core.LoadTorrentFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if tf.Name != "payload" || tf.Size != 150_000 || tf.PieceLength != 16384 || len(tf.Files) != 2 || tf.Files[1] != "sub/b.bin" {
		t.Errorf("torrent = %+v", tf)
	}
	if got := strings.TrimSpace(stdout); got != tf.Magnet() || !strings.Contains(got, tf.InfoHash.String()) {
		t.Errorf("stdout %q, want the magnet %q", got, tf.Magnet())
	}
	raw, _ := os.ReadFile(out)
	for _, w := range []string{"7:privatei1e", "http://127.0.0.1:6969/announce", "8:url-list"} {
		if !bytes.Contains(raw, []byte(w)) {
			t.Errorf("torrent lacks %q", w)
		}
	}
}

func TestGetBadInput(t *testing.T) {
	dir := isolate(t)
	ctx := context.Background()
	writeRandom(t, filepath.Join(dir, "payload.bin"), 70_000, 3)
	good := filepath.Join(dir, "good.torrent")
	if code, _, stderr := runCLI(t, ctx, "create", "-o", good, filepath.Join(dir, "payload.bin")); code != 0 {
		t.Fatal(stderr)
	}
	raw, _ := os.ReadFile(good)
	corrupt := filepath.Join(dir, "corrupt.torrent")
	os.WriteFile(corrupt, raw[:len(raw)/2], 0o644)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello, not a torrent\n"), 0o644)
	noInfo := filepath.Join(dir, "noinfo.torrent")
	os.WriteFile(noInfo, []byte("d8:announce3:fooe"), 0o644)
	out := filepath.Join(dir, "out")
	// Something already downloaded: no failure may delete it.
	kept := filepath.Join(out, "payload.bin")
	writeRandom(t, kept, 123, 9)
	keptSum := sha(t, kept)
	busy := busyPort(t, "127.0.0.1")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no source", []string{"get"}, 2, []string{"exactly one"}},
		{"not a torrent", []string{"get", "--out", out, text}, 1, []string{"not a torrent", "notes.txt"}},
		{"no info dict", []string{"get", "--out", out, noInfo}, 1, []string{"not a torrent", "no info"}},
		{"corrupt bencode", []string{"get", "--out", out, corrupt}, 1, []string{"corrupt bencode"}},
		{"missing file", []string{"get", "--out", out, filepath.Join(dir, "nope.torrent")}, 1, []string{"cannot read torrent file", "no such file"}},
		{"bad magnet", []string{"get", "--out", out, "magnet:?xt=urn:btih:zzzz"}, 1, []string{"bad magnet"}},
		{"magnet without infohash", []string{"get", "--out", out, "magnet:?dn=x"}, 1, []string{"bad magnet"}},
		{"unreachable URL", []string{"get", "--out", out, "http://127.0.0.1:1/x.torrent"}, 1, []string{"cannot fetch http://127.0.0.1:1/x.torrent", "connection refused"}},
		{"output is a file", []string{"get", "--out", kept, good}, 1, []string{"output dir", "not a directory"}},
		{"output under a file", []string{"get", "--out", filepath.Join(kept, "sub"), good}, 1, []string{"cannot create output dir", "not a directory"}},
		{"port in use", []string{"get", "--listen", busy, "--out", out, good}, 1, []string{"cannot listen on " + busy, "address already in use"}},
		{"bad listen", []string{"get", "--listen", "nonsense", "--out", out, good}, 1, []string{"listen", "nonsense"}},
		{"bad peer", []string{"get", "--peer", "nonsense", "--out", out, good}, 1, []string{"bad peer address", "nonsense"}},
		{"bad upload limit", []string{"get", "--upload-limit", "fast", good}, 2, []string{"upload-limit"}},
		{"bad bid", []string{"get", "--bid", "cheap", "--out", out, good}, 1, []string{"--bid", "cheap"}},
		{"bid without wallet", []string{"get", "--bid", "0.002", "--out", out, good}, 1, []string{"needs a wallet", "wallet new"}},
	} {
		code, _, stderr := runCLI(t, ctx, tc.args...)
		oneLineError(t, tc.name, code, stderr, tc.code, tc.want...)
	}
	if got := sha(t, kept); got != keptSum {
		t.Errorf("a failed get changed %s", kept)
	}
}

func TestSeedBadInput(t *testing.T) {
	dir := isolate(t)
	ctx := context.Background()
	writeRandom(t, filepath.Join(dir, "a.bin"), 40_000, 4)
	writeRandom(t, filepath.Join(dir, "b.bin"), 40_000, 5)
	aTorrent := filepath.Join(dir, "a.torrent")
	if code, _, stderr := runCLI(t, ctx, "create", "-o", aTorrent, filepath.Join(dir, "a.bin")); code != 0 {
		t.Fatal(stderr)
	}
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("plain text"), 0o644)
	busy := busyPort(t, "127.0.0.1")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no path", []string{"seed"}, 2, []string{"exactly one PATH"}},
		{"missing path", []string{"seed", filepath.Join(dir, "nope")}, 1, []string{"cannot seed", "nope", "no such file"}},
		{"wrong torrent", []string{"seed", "--torrent", aTorrent, filepath.Join(dir, "b.bin")}, 1, []string{"a.torrent", "is for \"a.bin\""}},
		{"not a torrent", []string{"seed", "--torrent", text, filepath.Join(dir, "a.bin")}, 1, []string{"not a torrent"}},
		{"port in use", []string{"seed", "--listen", busy, "--torrent", aTorrent, filepath.Join(dir, "a.bin")}, 1, []string{"cannot listen on " + busy, "address already in use"}},
		{"bad ask", []string{"seed", "--ask", "-1", filepath.Join(dir, "a.bin")}, 1, []string{"--ask"}},
		{"bad format", []string{"seed", "--format", "v3", filepath.Join(dir, "a.bin")}, 1, []string{"format", "v3", "want v1, hybrid or v2"}},
		{"format of another torrent", []string{"seed", "--format", "v2", "--torrent", aTorrent, filepath.Join(dir, "a.bin")}, 1, []string{"as v2", "a.torrent is a v1 torrent"}},
		// The market pays and earns with the data dir's wallet; without one
		// --ask is refused up front, not ignored.
		{"ask without wallet", []string{"seed", "--ask", "0.001", filepath.Join(dir, "a.bin")}, 1, []string{"needs a wallet", "wallet new"}},
	} {
		code, _, stderr := runCLI(t, ctx, tc.args...)
		oneLineError(t, tc.name, code, stderr, tc.code, tc.want...)
	}
}

// TestSeedGetCLI runs the verbs end to end: create, seed (magnet on
// stdout), get by magnet with --peer, hashes compared, and a second get
// that finds everything verified and exits at once.
func TestSeedGetCLI(t *testing.T) {
	for _, format := range []core.Format{"", core.FormatHybrid, core.FormatV2} {
		name := string(format)
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) { testSeedGet(t, format) })
	}
}

// testSeedGet seeds a directory with `seed` (creating its torrent in
// format, "" for the default v1) and fetches it with `get` from the magnet
// seed prints, comparing every file by sha256.
func testSeedGet(t *testing.T, format core.Format) {
	dir := isolate(t)
	payload := filepath.Join(dir, "src", "payload")
	writeRandom(t, filepath.Join(payload, "one.bin"), 600_000, 11)
	writeRandom(t, filepath.Join(payload, "two", "three.bin"), 250_000, 12)
	torrentPath := filepath.Join(dir, "payload.torrent")
	seedAddr := freePort(t, "127.0.0.2")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var seedErr bytes.Buffer
	seedDone := make(chan int, 1)
	go func() {
		args := []string{"--data-dir", filepath.Join(dir, "seedstate"), "seed", "--listen", seedAddr,
			"--torrent", torrentPath, "--upload-limit", "50MiB"}
		if format != "" {
			args = append(args, "--format", string(format))
		}
		seedDone <- run(ctx, append(args, payload), strings.NewReader(""), pw, &seedErr)
		pw.Close()
	}()
	magnet, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the magnet: %v (stderr %q)", err, seedErr.String())
	}
	go io.Copy(io.Discard, pr)
	magnet = strings.TrimSpace(magnet)
	tf, err := core.LoadTorrentFile(torrentPath)
	if err != nil {
		t.Fatalf("seed did not create --torrent: %v", err)
	}
	if magnet != tf.Magnet() {
		t.Fatalf("magnet %q, want %q", magnet, tf.Magnet())
	}
	if want := cmp.Or(format, core.FormatV1); tf.Format != want {
		t.Fatalf("seed created a %s torrent, want %s", tf.Format, want)
	}

	out := filepath.Join(dir, "out")
	code, _, stderr := runCLI(t, context.Background(), "get", "--listen", "127.0.0.3:0", "--peer", seedAddr,
		"--out", out, magnet)
	if code != 0 {
		t.Fatalf("get exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "complete: payload") {
		t.Errorf("get stderr %q lacks the completion line", stderr)
	}
	for _, f := range []string{"one.bin", "two/three.bin"} {
		if sha(t, filepath.Join(payload, f)) != sha(t, filepath.Join(out, "payload", f)) {
			t.Errorf("%s differs", f)
		}
	}
	// Re-running resumes from the saved state: nothing to fetch.
	code, _, stderr = runCLI(t, context.Background(), "get", "--listen", "127.0.0.3:0", "--out", out, magnet)
	if code != 0 || !strings.Contains(stderr, "complete: payload") {
		t.Errorf("second get: exit %d, stderr %q", code, stderr)
	}

	cancel()
	select {
	case code := <-seedDone:
		if code != 0 {
			t.Errorf("seed exit %d: %s", code, seedErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("seed did not stop on cancel")
	}
}

// TestCreatePaid makes a paid crowdfunded torrent and reads its terms
// back from the info dict; bad publisher flags fail with one line.
func TestCreatePaid(t *testing.T) {
	dir := isolate(t)
	ctx := context.Background()
	src := filepath.Join(dir, "film.bin")
	writeRandom(t, src, 60_000, 6)
	out := filepath.Join(dir, "film.torrent")
	const payee = "TLsV52sRDL79HXGGm9yzwKibb6BeruhUzy"
	code, _, stderr := runCLI(t, ctx, "create", "--payee", payee, "--price", "2.5", "--goal", "1000",
		"--deadline", "2099-01-31T23:59:59+01:00", "-o", out, src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tf, err := core.LoadTorrentFile(out)
	if err != nil {
		t.Fatal(err)
	}
	terms, err := tf.Terms()
	if err != nil || terms == nil {
		t.Fatalf("terms %+v, %v", terms, err)
	}
	price, _ := wallet.ParseAmount("2.5", 18)
	goal, _ := wallet.ParseAmount("1000", 18)
	if terms.Payee != wallet.MustParseAddress(payee) || terms.ChainID != wallet.ChainIDLocal ||
		terms.Token != wallet.MustParseAddress(wallet.DefaultBTTContract) || terms.Price.Cmp(price) != 0 ||
		terms.Goal.Cmp(goal) != 0 || terms.Deadline.Unix() != time.Date(2099, 1, 31, 22, 59, 59, 0, time.UTC).Unix() {
		t.Fatalf("terms = %+v", *terms)
	}
	// A payee alone (tips) is a free torrent; no flags, no terms.
	tipOnly := filepath.Join(dir, "tips.torrent")
	if code, _, stderr := runCLI(t, ctx, "create", "--payee", payee, "-o", tipOnly, src); code != 0 {
		t.Fatal(stderr)
	}
	if tf2, err := core.LoadTorrentFile(tipOnly); err != nil {
		t.Fatal(err)
	} else if tt, err := tf2.Terms(); err != nil || tt == nil || tt.Paid() || tt.Payee != terms.Payee {
		t.Fatalf("payee-only terms %+v, %v", tt, err)
	} else if tf2.InfoHash == tf.InfoHash {
		t.Fatal("different terms, same infohash")
	}

	bad := filepath.Join(dir, "bad.torrent")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"price without payee", []string{"--price", "1"}, []string{"need --payee"}},
		{"bad payee", []string{"--payee", "TNotAnAddress", "--price", "1"}, []string{"bad --payee", "TNotAnAddress"}},
		{"bad price", []string{"--payee", payee, "--price", "cheap"}, []string{"bad --price", "cheap"}},
		{"negative price", []string{"--payee", payee, "--price", "-1"}, []string{"bad --price"}},
		{"zero price", []string{"--payee", payee, "--price", "0"}, []string{"bad --price", "more than 0"}},
		{"goal without deadline", []string{"--payee", payee, "--goal", "10"}, []string{"--goal needs --deadline"}},
		{"deadline without goal", []string{"--payee", payee, "--deadline", "2099-01-01T00:00:00Z"}, []string{"--deadline needs --goal"}},
		{"bad deadline", []string{"--payee", payee, "--goal", "10", "--deadline", "tomorrow"}, []string{"bad --deadline", "RFC3339"}},
		{"past deadline", []string{"--payee", payee, "--goal", "10", "--deadline", "2001-01-01T00:00:00Z"}, []string{"bad --deadline", "passed"}},
		{"goal without payee", []string{"--goal", "10", "--deadline", "2099-01-01T00:00:00Z"}, []string{"need --payee"}},
	} {
		args := append(append([]string{"create"}, tc.args...), "-o", bad, src)
		code, _, stderr := runCLI(t, ctx, args...)
		oneLineError(t, tc.name, code, stderr, 1, tc.want...)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("a failed create wrote %s", bad)
	}
	// Nobody could be served a paid torrent without a wallet.
	code, _, stderr = runCLI(t, ctx, "seed", "--torrent", out, src)
	oneLineError(t, "seed paid without wallet", code, stderr, 1, "paid torrent: seeding needs a wallet")
}
