package core

import (
	"context"
	"crypto/sha256"

	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("BIDTORRENT_TEST_HELPER") != "" {
		os.Exit(helperMain())
	}
	goleak.VerifyTestMain(m,
		// Package-level workers anacrolix starts once and never stops.
		goleak.IgnoreAnyFunction("github.com/anacrolix/torrent.(*dialPool).startDrainer.func1"),
		goleak.IgnoreTopFunction("github.com/anacrolix/torrent/internal/nestedmaps.init"),
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
		// The watcher tree go-ethereum's dependencies start at init
		// (the fake TRON node runs its EVM, transfer_test.go).
		goleak.IgnoreTopFunction("github.com/rjeczalik/notify.(*nonrecursiveTree).dispatch"),
		goleak.IgnoreTopFunction("github.com/rjeczalik/notify.(*nonrecursiveTree).internal"),
	)
}

// testConfig is a loopback config: no DHT/LSD/PEX, TCP only, listening on
// ip (one 127.0.0.x per engine) at a free port and dialling from it.
func testConfig(ip string) Config {
	c := DefaultConfig()
	c.ListenAddr = ip + ":0"
	c.DialAddr = ip
	c.DHT, c.PEX, c.LSD, c.UTP = false, false, false, false
	return c
}

// testLogger logs to the test output with -v and BIDTORRENT_TEST_LOG=1,
// and nowhere otherwise.
func testLogger(t testing.TB, name string) *slog.Logger {
	if os.Getenv("BIDTORRENT_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("engine", name)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// runningEngine is an engine whose Run goroutine the test stops.
type runningEngine struct {
	*Engine
	stop func() error
}

func startEngine(t testing.TB, name string, cfg Config, dataDir string, opts ...Option) *runningEngine {
	t.Helper()
	opts = append([]Option{WithLogger(testLogger(t, name)), WithSnapshotInterval(100 * time.Millisecond)}, opts...)
	e, err := New(cfg, dataDir, opts...)
	if err != nil {
		t.Fatalf("New %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var stopped bool
	var runErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &runningEngine{Engine: e, stop: stop}
}

// seedEngine starts engine name with cfg (state in dataDir), adds the
// .torrent at torrentPath with its data under data, and waits until
// until holds for it (what names that, for the failure); it returns the
// torrent as it was then.
func seedEngine(t testing.TB, name string, cfg Config, dataDir, torrentPath, data, what string, until func(Torrent) bool, opts ...Option) (*runningEngine, Torrent) {
	t.Helper()
	e := startEngine(t, name, cfg, dataDir, opts...)
	ih, err := e.Add(context.Background(), AddSpec{Source: torrentPath, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	return e, waitFor(t, e.Engine, ih, 30*time.Second, what, until)
}

// makePayload writes a multi-file tree of pseudo-random data under dir/name.
func makePayload(t testing.TB, dir, name string, seed uint64, sizes map[string]int) string {
	t.Helper()
	root := filepath.Join(dir, name)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for rel, n := range sizes {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// hashTree returns sha256 of every file under root, by relative path.
func hashTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t testing.TB, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("got %d files %v, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("file %s: sha256 %s, want %s", k, got[k], v)
		}
	}
}

var testSizes = map[string]int{
	"a.bin":       1<<20 + 12345,
	"dir/b.bin":   700_000,
	"dir/c/d.bin": 300_001,
	"empty":       0,
	"tiny.txt":    17,
}

// waitFor waits until cond holds for a snapshot's torrent ih.
func waitFor(t testing.TB, e *Engine, ih InfoHash, timeout time.Duration, what string, cond func(Torrent) bool) Torrent {
	t.Helper()
	snaps, unsub := e.Subscribe()
	defer unsub()
	deadline := time.After(timeout)
	var last Torrent
	for {
		select {
		case s, ok := <-snaps:
			if !ok {
				t.Fatalf("engine stopped while waiting for %s", what)
			}
			for _, tr := range s.Torrents {
				if tr.InfoHash == ih {
					last = tr
					if cond(tr) {
						return tr
					}
				}
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s; last: state=%s done=%d/%d peers=%d err=%q", what, last.State, last.Done, last.Size, last.PeerCount, last.Err)
		}
	}
}

func isComplete(tr Torrent) bool {
	if tr.NumPieces == 0 || tr.Done < tr.Size || tr.Size == 0 {
		return false
	}
	for _, p := range tr.Pieces {
		if p != 2 {
			return false
		}
	}
	return true
}

// seedTorrent creates a payload and its .torrent in dir.
func seedTorrent(t testing.TB, dir string, pieceLength int64) (root, torrentPath string, tf *TorrentFile) {
	t.Helper()
	return payloadTorrent(t, dir, 1, testSizes, CreateOptions{PieceLength: pieceLength})
}

// payloadTorrent creates dir/src/payload (makePayload with seed and
// sizes) and its dir/payload.torrent made with opts.
func payloadTorrent(t testing.TB, dir string, seed uint64, sizes map[string]int, opts CreateOptions) (root, torrentPath string, tf *TorrentFile) {
	t.Helper()
	root = makePayload(t, filepath.Join(dir, "src"), "payload", seed, sizes)
	opts.Path = root
	tf, err := CreateTorrent(opts)
	if err != nil {
		t.Fatal(err)
	}
	torrentPath = filepath.Join(dir, "payload.torrent")
	if err := os.WriteFile(torrentPath, tf.Bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return root, torrentPath, tf
}

// dataTorrent creates dir/src/payload holding one file, data.bin of size
// bytes (makePayload with seed), and its dir/payload.torrent with 64 KiB
// pieces.
func dataTorrent(t testing.TB, dir string, seed uint64, size int) (root, torrentPath string, tf *TorrentFile) {
	t.Helper()
	return payloadTorrent(t, dir, seed, map[string]int{"data.bin": size}, CreateOptions{PieceLength: 64 << 10})
}

func TestTwoEnginesTransfer(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, tf := seedTorrent(t, dir, 32<<10)
	ctx := context.Background()

	seeder := startEngine(t, "seeder", testConfig("127.0.0.2"), filepath.Join(dir, "seeder"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	if ih != tf.InfoHash {
		t.Fatalf("Add returned %s, want %s", ih, tf.InfoHash)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)

	out := filepath.Join(dir, "out")
	leecher := startEngine(t, "leecher", testConfig("127.0.0.3"), filepath.Join(dir, "leecher"))
	_, err = leecher.Add(ctx, AddSpec{Source: torrentPath, DataDir: out, Peers: []string{seeder.ListenAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, leecher.Engine, ih, 60*time.Second, "download complete", isComplete)
	if got.State != StateSeeding {
		t.Errorf("complete torrent in state %s, want seeding", got.State)
	}
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))

	if s := seeder.Snapshot(); s.Torrents[0].Uploaded < tf.Size {
		t.Errorf("seeder uploaded %d < size %d", s.Torrents[0].Uploaded, tf.Size)
	}
	for _, e := range []*runningEngine{leecher, seeder} {
		if err := e.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func contains2(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// helperMain runs a subprocess role for the kill -9 test (see
// resume_test.go); it returns the exit status.
func helperMain() int { return runHelper() }

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
