package core

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// idleEngine starts an engine (market off, DHT/LSD/PEX/uTP off, no
// background ticks) seeding n complete private torrents, one file of
// size bytes each in 16 KiB pieces, and waits until every one is
// seeding and quiet. It returns the engine and the heap bytes the
// torrents hold (after GC, before/after).
func idleEngine(tb testing.TB, n, size int) (*runningEngine, []InfoHash, uint64) {
	return idleEngineParked(tb, n, size, false)
}

// idleEngineParked is idleEngine that, with parked, waits until every
// torrent is parked (core/park.go) before it measures.
func idleEngineParked(tb testing.TB, n, size int, parked bool) (*runningEngine, []InfoHash, uint64) {
	tb.Helper()
	dir := tb.TempDir()
	data := filepath.Join(dir, "data")
	var paths []string
	for i := range n {
		root := makePayload(tb, filepath.Join(data, strconv.Itoa(i)), "f.bin", uint64(i+1), map[string]int{"": size})
		tf, err := CreateTorrent(CreateOptions{Path: root, PieceLength: 16 << 10, Private: true})
		if err != nil {
			tb.Fatal(err)
		}
		p := filepath.Join(dir, strconv.Itoa(i)+".torrent")
		if err := os.WriteFile(p, tf.Bytes, 0o644); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
	}
	// One tick at start, then none: the benchmark runs the ticks.
	cfg := testConfig("127.0.0.40")
	if parked {
		cfg.ParkAfter = time.Millisecond
	}
	e := startEngine(tb, "idle", cfg, filepath.Join(dir, "e"), WithSnapshotInterval(time.Hour))
	ctx := context.Background()
	if os.Getenv("BIDTORRENT_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 64 // exact enough to attribute bytes per torrent
	}
	goBefore := runtime.NumGoroutine()
	heapBefore := heapInUse()
	ihs := make([]InfoHash, n)
	for i, p := range paths {
		ih, err := e.Add(ctx, AddSpec{Source: p, DataDir: filepath.Join(data, strconv.Itoa(i))})
		if err != nil {
			tb.Fatal(err)
		}
		ihs[i] = ih
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		tickNow(tb, e.Engine)
		seeding := 0
		for _, t := range e.Snapshot().Torrents {
			if t.State == StateSeeding && t.Done == t.Size && t.Parked == parked {
				seeding++
			}
		}
		if seeding == n {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d torrents seeding after 2 minutes", seeding, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Let anacrolix's start-up work settle and the torrents go quiet
	// (poll.go), then measure.
	time.Sleep(hotFor + 200*time.Millisecond)
	tickNow(tb, e.Engine)
	heap := heapInUse() - heapBefore
	tb.Logf("%d torrents: %d heap bytes and %d goroutines each", n, heap/uint64(n), (runtime.NumGoroutine()-goBefore)/n)
	if p := os.Getenv("BIDTORRENT_HEAPPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
	return e, ihs, heap
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// tickNow runs one poll-and-publish step on the loop, as the ticker does.
func tickNow(tb testing.TB, e *Engine) {
	tb.Helper()
	if err := e.do(context.Background(), func() error { e.tick(500 * time.Millisecond); return nil }); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkIdleTick is the loop's cost per tick (poll every torrent,
// publish a snapshot) with N idle seeding torrents of 4 KiB (one piece),
// or of 1 MiB (64 pieces), and the heap bytes each torrent holds.
func BenchmarkIdleTick(b *testing.B) {
	for _, c := range []struct {
		n, size int
		parked  bool
	}{{1000, 4 << 10, false}, {1000, 64 << 10, false}, {200, 1 << 20, false}, {1000, 64 << 10, true}} {
		name := fmt.Sprintf("%dx%dKiB", c.n, c.size>>10)
		if c.parked {
			name += "-parked"
		}
		b.Run(name, func(b *testing.B) {
			n := c.n
			e, _, heap := idleEngineParked(b, n, c.size, c.parked)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tickNow(b, e.Engine)
			}
			b.StopTimer()
			b.ReportMetric(float64(heap)/float64(n), "heapB/torrent")
		})
	}
}

// waitQuiet waits until torrent ih is idle: two consecutive snapshots
// share its value, and after hotFor the loop skips it (poll.go).
func waitQuiet(t *testing.T, e *Engine, ih InfoHash) Torrent {
	t.Helper()
	v := waitShared(t, e, ih)
	time.Sleep(hotFor)
	checkQuiet(t, e, ih)
	return v
}

// waitShared waits until two consecutive snapshots share torrent ih's
// value.
func waitShared(t *testing.T, e *Engine, ih InfoHash) Torrent {
	t.Helper()
	snaps, unsub := e.Subscribe()
	defer unsub()
	deadline := time.After(20 * time.Second)
	var prev *Torrent
	for {
		select {
		case s := <-snaps:
			for i := range s.Torrents {
				if s.Torrents[i].InfoHash != ih {
					continue
				}
				if prev != nil && &s.Torrents[i] == prev {
					return *prev
				}
				prev = &s.Torrents[i]
			}
		case <-deadline:
			t.Fatalf("torrent %s never went quiet: every snapshot rebuilt it", ih)
		}
	}
}

// checkQuiet checks that the loop skips torrent ih.
func checkQuiet(t *testing.T, e *Engine, ih InfoHash) {
	t.Helper()
	err := e.do(context.Background(), func() error {
		ts := e.torrents[ih]
		if !ts.quiet(time.Now()) {
			return fmt.Errorf("torrent not quiet: busy %v, hot until %v, last %v", ts.busy, ts.hotUntil, ts.last != nil)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An idle torrent is not polled, yet its snapshot shows a change within
// a tick or two (well within idleRefresh, the catch-all): a file
// priority the user sets, a peer connecting, the peer leaving; and the
// leecher's progress is right once its last piece is verified.
func TestIdleTorrentWakes(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, tf := seedTorrent(t, dir, 16<<10)
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.41"), filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
	waitQuiet(t, seeder.Engine, ih)

	// tf.Files is sorted: a.bin first.
	if err := seeder.SetFilePriority(ctx, ih, 0, PrioritySkip); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, seeder.Engine, ih, 2*time.Second, "skipped file shown", func(tr Torrent) bool {
		return tr.Files[0].Priority == PrioritySkip
	})
	if want := tf.Size - int64(testSizes["a.bin"]); got.Size != want || got.Done != want {
		t.Errorf("after skipping a.bin: size %d done %d, want %d", got.Size, got.Done, want)
	}
	if err := seeder.SetFilePriority(ctx, ih, 0, PriorityNormal); err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 2*time.Second, "file wanted again", func(tr Torrent) bool {
		return tr.Files[0].Priority == PriorityNormal && tr.Size == tf.Size
	})
	waitQuiet(t, seeder.Engine, ih)

	out := filepath.Join(dir, "out")
	// The leecher downloads at 512 KiB/s, so its connection lives for
	// about four seconds: unthrottled on loopback, the whole transfer
	// and the two seeds' hang-up can fall between two of the seeder's
	// snapshots, and the connection is never seen.
	lc := testConfig("127.0.0.42")
	lc.DownloadLimit = 512 << 10
	leecher := startEngine(t, "leecher", lc, filepath.Join(dir, "l"))
	if _, err := leecher.Add(ctx, AddSpec{Source: torrentPath, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 20*time.Second, "seeder sees the leecher", func(tr Torrent) bool {
		return tr.PeerCount == 1 && len(tr.Peers) == 1
	})
	l := waitFor(t, leecher.Engine, ih, 60*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))
	if l.Done != tf.Size || l.State != StateSeeding {
		t.Errorf("leecher: done %d of %d, state %s", l.Done, tf.Size, l.State)
	}
	for _, f := range l.Files {
		if f.Done != f.Size {
			t.Errorf("leecher's %s: %d of %d bytes done", f.Path, f.Done, f.Size)
		}
	}
	// Two seeds drop their connection (the market is off): the seeder
	// shows it gone, and what it uploaded.
	s := waitFor(t, seeder.Engine, ih, 10*time.Second, "leecher gone", func(tr Torrent) bool { return tr.PeerCount == 0 })
	if s.Uploaded < tf.Size {
		t.Errorf("seeder uploaded %d < size %d", s.Uploaded, tf.Size)
	}
	l = waitQuiet(t, leecher.Engine, ih)
	if l.Done != tf.Size || !isComplete(l) {
		t.Errorf("quiet leecher: done %d of %d, pieces %v", l.Done, tf.Size, l.Pieces)
	}
}

// A parsed torrent holds its info dict once, within the file's bytes,
// and no copy of the piece hashes (TorrentFile.trim); what it serves is
// unchanged.
func TestTorrentFileTrimmed(t *testing.T) {
	_, torrentPath, tf := seedTorrent(t, t.TempDir(), 16<<10)
	b, err := os.ReadFile(torrentPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseTorrentFile(append(b, make([]byte, len(b))...)[:len(b)], "test")
	if err != nil {
		t.Fatal(err)
	}
	if cap(got.Bytes) > len(got.Bytes)+len(got.Bytes)/8 {
		t.Errorf("kept %d bytes of capacity for a %d-byte file", cap(got.Bytes), len(got.Bytes))
	}
	ib := got.mi.InfoBytes
	start := &got.Bytes[0]
	if len(ib) == 0 || uintptr(unsafe.Pointer(&ib[0])) < uintptr(unsafe.Pointer(start)) ||
		uintptr(unsafe.Pointer(&ib[len(ib)-1])) >= uintptr(unsafe.Pointer(start))+uintptr(len(got.Bytes)) {
		t.Errorf("info dict bytes are a copy, not within the file's bytes")
	}
	if got.info.Pieces != nil {
		t.Errorf("info keeps %d bytes of piece hashes", len(got.info.Pieces))
	}
	if got.InfoHash != tf.InfoHash || got.NumPieces != tf.NumPieces || got.Size != tf.Size ||
		strings.Join(got.Files, "|") != strings.Join(tf.Files, "|") || len(got.info.UpvertedFiles()) != len(tf.Files) {
		t.Errorf("parsed %+v, want %+v", got, tf)
	}
	if h := pieceHashes(t, got); len(h) != 20*tf.NumPieces {
		t.Errorf("info dict holds %d bytes of hashes for %d pieces", len(h), tf.NumPieces)
	}
}

// BenchmarkIdleRefresh is the tick that polls every idle torrent in full
// (once per idleRefresh): 1000 idle seeds of 4 KiB.
func BenchmarkIdleRefresh(b *testing.B) {
	e, _, _ := idleEngine(b, 1000, 4<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		err := e.do(context.Background(), func() error {
			e.refreshed = time.Time{}
			e.tick(500 * time.Millisecond)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
