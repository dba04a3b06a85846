package core

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Three engines: the seeder serves only A; B knows only A and gets every
// piece through it. B adds a magnet (metadata over BEP 9), A an http URL.
func TestThreeEnginesRelay(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, tf := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, torrentPath)
	}))
	defer srv.Close()

	seeder := startEngine(t, "seeder", testConfig("127.0.0.11"), filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)

	a := startEngine(t, "a", testConfig("127.0.0.12"), filepath.Join(dir, "a"))
	if _, err := a.Add(ctx, AddSpec{Source: srv.URL + "/p.torrent", DataDir: filepath.Join(dir, "outA"), Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	b := startEngine(t, "b", testConfig("127.0.0.13"), filepath.Join(dir, "b"))
	if _, err := b.Add(ctx, AddSpec{Source: tf.Magnet(), DataDir: filepath.Join(dir, "outB"), Peers: []string{a.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.Engine, ih, 60*time.Second, "A complete", isComplete)
	got := waitFor(t, b.Engine, ih, 60*time.Second, "B complete", isComplete)
	if got.Name != "payload" {
		t.Errorf("B's name %q", got.Name)
	}
	want := hashTree(t, root)
	sameTree(t, want, hashTree(t, filepath.Join(dir, "outA", "payload")))
	sameTree(t, want, hashTree(t, filepath.Join(dir, "outB", "payload")))
	// B never talked to the seeder.
	for _, p := range got.Peers {
		if p.Key.String() == seeder.ListenAddr().String() {
			t.Errorf("B is connected to the seeder")
		}
	}
}

// A skipped file is not downloaded while the rest is; while the leecher
// stays incomplete both sides show each other as peers.
func TestSkipFileAndPeerRows(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, tf := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.14"), filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)

	out := filepath.Join(dir, "out")
	l := startEngine(t, "leecher", testConfig("127.0.0.15"), filepath.Join(dir, "l"))
	if _, err := l.Add(ctx, AddSpec{Source: torrentPath, DataDir: out, Paused: true, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	// tf.Files is sorted: a.bin, dir/b.bin, dir/c/d.bin, empty, tiny.txt.
	if tf.Files[0] != "a.bin" {
		t.Fatalf("files %v", tf.Files)
	}
	if err := l.SetFilePriority(ctx, ih, 0, PrioritySkip); err != nil {
		t.Fatal(err)
	}
	if err := l.Resume(ctx, ih); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, l.Engine, ih, 60*time.Second, "wanted files complete", func(tr Torrent) bool {
		return tr.Size > 0 && tr.Done == tr.Size && tr.State == StateSeeding && len(tr.Peers) > 0
	})
	if got.Size != tf.Size-int64(testSizes["a.bin"]) {
		t.Errorf("wanted size %d, want %d", got.Size, tf.Size-int64(testSizes["a.bin"]))
	}
	want := hashTree(t, root)
	gotTree := hashTree(t, filepath.Join(out, "payload"))
	for _, f := range []string{"dir/b.bin", "dir/c/d.bin", "tiny.txt"} {
		if gotTree[f] != want[f] {
			t.Errorf("%s: sha256 %s, want %s", f, gotTree[f], want[f])
		}
	}
	// Part files are off, so a.bin may exist holding the piece it shares
	// with dir/b.bin, but it must not be the complete file.
	if h, ok := gotTree["a.bin"]; ok && h == want["a.bin"] {
		t.Errorf("skipped a.bin was completed")
	}
	if got.Files[0].Done > 2*tf.PieceLength {
		t.Errorf("skipped file has %d bytes (more than the pieces it shares)", got.Files[0].Done)
	}

	p := got.Peers[0]
	if p.Key.String() != seeder.ListenAddr().String() || p.Incoming || p.Client != "bidtorrent dev" ||
		p.Transport != "tcp" || len(p.PeerID) != 40 || p.Progress != 1 || p.Downloaded == 0 || !contains2(p.Extensions, "ut_metadata") {
		t.Errorf("leecher's peer row = %+v", p)
	}
	if got.SeedCount != 1 {
		t.Errorf("seed count %d", got.SeedCount)
	}
	ss := waitFor(t, seeder.Engine, ih, 10*time.Second, "seeder sees the leecher", func(tr Torrent) bool { return len(tr.Peers) > 0 })
	sp := ss.Peers[0]
	if !sp.Incoming || sp.Uploaded == 0 || sp.Progress >= 1 || sp.Client != "bidtorrent dev" {
		t.Errorf("seeder's peer row = %+v", sp)
	}
	// The wrapped conns are matched to the torrent, and carry its limits,
	// changed at run time.
	if err := seeder.SetLimits(ctx, ih, Limits{Down: 54321, Up: 12345}); err != nil {
		t.Fatal(err)
	}
	matched := 0
	for _, c := range seeder.Conns().Conns() {
		if h, ok := c.InfoHash(); ok && h == ih {
			matched++
			if c.BytesWritten() == 0 {
				t.Errorf("conn %s wrote nothing", c.Key())
			}
			if up, down := limiterRate(c.torrentUp.Load()), limiterRate(c.torrentDown.Load()); up != 12345 || down != 54321 {
				t.Errorf("conn %s limits up %d down %d", c.Key(), up, down)
			}
			if lc, ok := seeder.Conns().Lookup(c.Key()); !ok || lc != c {
				t.Errorf("Lookup(%s) failed", c.Key())
			}
		}
	}
	if matched == 0 {
		t.Errorf("no registered conn matched the torrent (%d conns)", seeder.Conns().Len())
	}
}

// Pause closes connections and stops transfer; Remove with deleteData
// deletes only the torrent's files.
func TestPauseRemoveDelete(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, _ := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.16"), filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
	out := filepath.Join(dir, "out")
	other := filepath.Join(out, "other.txt")
	os.MkdirAll(out, 0o755)
	os.WriteFile(other, []byte("keep me"), 0o644)
	l := startEngine(t, "leecher", testConfig("127.0.0.17"), filepath.Join(dir, "l"))
	if _, err := l.Add(ctx, AddSpec{Source: torrentPath, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, l.Engine, ih, 60*time.Second, "complete", isComplete)
	if err := l.Pause(ctx, ih); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, l.Engine, ih, 10*time.Second, "paused", func(tr Torrent) bool { return tr.State == StatePaused })
	if got.PeerCount != 0 || got.Done != got.Size {
		t.Errorf("paused torrent = peers %d, done %d/%d", got.PeerCount, got.Done, got.Size)
	}
	if err := l.Recheck(ctx, ih); err == nil {
		t.Errorf("recheck of a paused torrent: no error")
	}
	if err := l.Resume(ctx, ih); err != nil {
		t.Fatal(err)
	}
	if err := l.Recheck(ctx, ih); err != nil {
		t.Fatal(err)
	}
	waitFor(t, l.Engine, ih, 30*time.Second, "verified after recheck", isComplete)
	if err := l.Remove(ctx, ih, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "payload")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("payload still there after remove with delete: %v", err)
	}
	if b, err := os.ReadFile(other); err != nil || string(b) != "keep me" {
		t.Errorf("unrelated file damaged: %q %v", b, err)
	}
	// The source data of the seeder is untouched by its own removal
	// without deleteData.
	if err := seeder.Remove(ctx, ih, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a.bin")); err != nil {
		t.Errorf("seeder data gone after Remove(keep): %v", err)
	}
	if err := seeder.Remove(ctx, ih, false); !errors.Is(err, ErrUnknownTorrent) {
		t.Errorf("second remove: %v, want ErrUnknownTorrent", err)
	}
}

// Snapshot subscribers each get the latest value; a slow one never blocks
// the engine, and cancelling closes only its channel.
func TestSubscribeLatestWins(t *testing.T) {
	e := startEngine(t, "e", testConfig("127.0.0.18"), t.TempDir())
	slow, cancelSlow := e.Subscribe()
	fast, cancelFast := e.Subscribe()
	defer cancelFast()
	var last time.Time
	for i := 0; i < 5; i++ {
		s := <-fast
		if !s.Time.After(last) {
			t.Fatalf("snapshot times not increasing")
		}
		last = s.Time
	}
	s := <-slow // only the newest is buffered
	if s.Time.Before(last.Add(-time.Second)) {
		t.Errorf("slow subscriber got a stale snapshot")
	}
	cancelSlow()
	if _, ok := <-slow; ok {
		// A value may still be buffered; the channel must close after it.
		if _, ok := <-slow; ok {
			t.Errorf("cancelled channel still open")
		}
	}
	if _, ok := <-fast; !ok {
		t.Errorf("other subscriber closed")
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	for range fast {
	}
	if err := e.Pause(context.Background(), InfoHash{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("command after stop: %v, want ErrClosed", err)
	}
}

// uTP carries a transfer when both sides enable it and TCP is not dialled.
func TestUTPTransfer(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, _ := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	cfg := testConfig("127.0.0.19")
	cfg.UTP = true
	seeder := startEngine(t, "seeder", cfg, filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
	lc := testConfig("127.0.0.20")
	lc.UTP = true
	l := startEngine(t, "leecher", lc, filepath.Join(dir, "l"), func(o *options) { o.noTCPDial = true })
	var mu sync.Mutex
	transports := map[string]int{}
	l.Conns().OnConn(func(c *Conn) {
		mu.Lock()
		transports[c.Transport()]++
		mu.Unlock()
	})
	if _, err := l.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Join(dir, "out"), Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, l.Engine, ih, 120*time.Second, "complete over uTP", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out", "payload")))
	mu.Lock()
	defer mu.Unlock()
	if transports["utp"] == 0 || transports["tcp"] != 0 {
		t.Errorf("leecher's connections by transport: %v, want only uTP", transports)
	}
}

// A write error in storage stops the download with the torrent in
// StateError, naming the problem.
func TestStorageErrorShows(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, _ := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.23"), filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
	out := filepath.Join(dir, "out")
	// A directory where a.bin goes: writing to it fails.
	if err := os.MkdirAll(filepath.Join(out, "payload", "a.bin", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := startEngine(t, "leecher", testConfig("127.0.0.24"), filepath.Join(dir, "l"))
	if _, err := l.Add(ctx, AddSpec{Source: torrentPath, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, l.Engine, ih, 60*time.Second, "storage error", func(tr Torrent) bool { return tr.State == StateError })
	if !strings.Contains(got.Err, "cannot write data") {
		t.Errorf("error %q", got.Err)
	}
}

// With sequential download on, pieces arrive front to back: by the time
// half the data is verified, the first quarter is complete.
func TestSequential(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, _ := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.25"), filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
	if err := seeder.SetLimits(ctx, InfoHash{}, Limits{Up: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	l := startEngine(t, "leecher", testConfig("127.0.0.26"), filepath.Join(dir, "l"))
	if _, err := l.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Join(dir, "out"), Paused: true, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetSequential(ctx, ih, true); err != nil {
		t.Fatal(err)
	}
	if err := l.Resume(ctx, ih); err != nil {
		t.Fatal(err)
	}
	half := waitFor(t, l.Engine, ih, 60*time.Second, "half done", func(tr Torrent) bool { return tr.Size > 0 && tr.Done*2 >= tr.Size })
	if !half.Sequential {
		t.Errorf("snapshot does not show sequential")
	}
	for i, p := range half.Pieces[:len(half.Pieces)/4] {
		if p != 2 {
			t.Fatalf("at %d%% piece %d of the first quarter is not complete: %v", 100*half.Done/half.Size, i, half.Pieces)
		}
	}
	waitFor(t, l.Engine, ih, 60*time.Second, "complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out", "payload")))
}

// Move relocates a complete torrent's data and keeps seeding it.
func TestMove(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, _ := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	e := startEngine(t, "e", testConfig("127.0.0.27"), filepath.Join(dir, "s"))
	ih, err := e.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.Engine, ih, 30*time.Second, "verified", isComplete)
	want := hashTree(t, root)
	dst := filepath.Join(dir, "moved")
	if err := e.Move(ctx, ih, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old location still exists: %v", err)
	}
	got := waitFor(t, e.Engine, ih, 30*time.Second, "seeding from the new dir", func(tr Torrent) bool {
		return tr.DataDir == dst && isComplete(tr)
	})
	if got.State != StateSeeding {
		t.Errorf("state %s", got.State)
	}
	sameTree(t, want, hashTree(t, filepath.Join(dst, "payload")))
}
