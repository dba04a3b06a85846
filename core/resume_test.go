package core

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// A downloader killed with SIGKILL mid-download resumes after a restart
// (its torrent and peer restored from the data dir, with no Add), fetches
// at most what was not verified before the kill plus pieces in flight,
// and finishes with correct hashes.
func TestKillResume(t *testing.T) {
	dir := t.TempDir()
	root := makePayload(t, filepath.Join(dir, "src"), "payload", 7, map[string]int{
		"big.bin":   3<<20 + 5,
		"dir/x.bin": 1<<20 - 3,
	})
	tf, err := CreateTorrent(CreateOptions{Path: root, PieceLength: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	torrentPath := filepath.Join(dir, "payload.torrent")
	if err := os.WriteFile(torrentPath, tf.Bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.4"), filepath.Join(dir, "seeder"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
	// Slow the seeder so the kill lands mid-download.
	if err := seeder.SetLimits(ctx, InfoHash{}, Limits{Up: 1 << 20}); err != nil {
		t.Fatal(err)
	}

	dataDir, out := filepath.Join(dir, "leecher"), filepath.Join(dir, "out")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"BIDTORRENT_TEST_HELPER=get",
		"BT_IP=127.0.0.5",
		"BT_DATA="+dataDir,
		"BT_OUT="+out,
		"BT_TORRENT="+torrentPath,
		"BT_PEER="+seeder.ListenAddr().String(),
	)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var doneAtKill int64
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(60 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		n, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "done "), 10, 64)
		if err != nil {
			continue
		}
		if n >= tf.Size*2/5 {
			doneAtKill = n
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if doneAtKill == 0 || doneAtKill >= tf.Size {
		t.Fatalf("the kill did not land mid-download (done %d of %d)", doneAtKill, tf.Size)
	}
	t.Logf("killed at %d of %d bytes verified", doneAtKill, tf.Size)
	if err := seeder.SetLimits(ctx, InfoHash{}, Limits{}); err != nil {
		t.Fatal(err)
	}

	// Restart in-process on the same data dir; no Add.
	leecher := startEngine(t, "leecher", testConfig("127.0.0.5"), dataDir)
	got := waitFor(t, leecher.Engine, ih, 60*time.Second, "resumed download complete", isComplete)
	if got.DataDir != out {
		t.Errorf("restored data dir %q, want %q", got.DataDir, out)
	}
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))
	fetched := leecher.Snapshot().Totals.Downloaded
	slack := int64(32 * tf.PieceLength) // pieces partly received when killed
	if max := tf.Size - doneAtKill + slack; fetched > max {
		t.Errorf("after restart fetched %d bytes; at most %d were missing or in flight", fetched, max)
	}
	t.Logf("after restart fetched %d bytes (%d were missing)", fetched, tf.Size-doneAtKill)
}

// Settings made at run time survive a graceful restart.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	_, torrentPath, tf := seedTorrent(t, dir, 32<<10)
	dataDir := filepath.Join(dir, "state")
	ctx := context.Background()
	e := startEngine(t, "first", testConfig("127.0.0.6"), dataDir)
	ih, err := e.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Join(dir, "out"), Paused: true, Labels: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	bid := wallet.NewAmount(1234)
	strat := "adaptive"
	steps := []error{
		e.SetFilePriority(ctx, ih, 1, PrioritySkip),
		e.SetFilePriority(ctx, ih, 0, PriorityHigh),
		e.SetSequential(ctx, ih, true),
		e.SetLimits(ctx, ih, Limits{Down: 1000, Up: 2000}),
		e.SetLimits(ctx, InfoHash{}, Limits{Down: 3000, Up: 4000}),
		e.SetLabels(ctx, ih, []string{"x", "y"}),
		e.SetMarket(ctx, ih, MarketSettings{Bid: &bid, BuyerStrategy: &strat}),
		e.AddPeer(ctx, ih, "127.0.0.9:6881"),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := e.SetFilePriority(ctx, ih, 99, PrioritySkip); err == nil {
		t.Error("file index out of range: no error")
	}
	if err := e.Pause(ctx, InfoHash{1}); err == nil {
		t.Error("unknown torrent: no error")
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}

	e2 := startEngine(t, "second", testConfig("127.0.0.6"), dataDir)
	got := waitFor(t, e2.Engine, ih, 10*time.Second, "restored", func(Torrent) bool { return true })
	s := e2.Snapshot()
	if s.Limits != (Limits{Down: 3000, Up: 4000}) {
		t.Errorf("global limits %+v", s.Limits)
	}
	if got.State != StatePaused || got.Name != tf.Name || !got.Sequential || got.Limits != (Limits{Down: 1000, Up: 2000}) ||
		strings.Join(got.Labels, ",") != "x,y" || got.Market.Bid.Cmp(bid) != 0 || got.Market.BuyerStrategy != "adaptive" {
		t.Errorf("restored torrent = %+v", got)
	}
	if len(got.Files) != 5 || got.Files[1].Priority != PrioritySkip || got.Files[0].Priority != PriorityHigh {
		t.Errorf("restored files = %+v", got.Files)
	}
	if err := e2.Remove(ctx, ih, false); err != nil {
		t.Fatal(err)
	}
	if err := e2.stop(); err != nil {
		t.Fatal(err)
	}
	e3 := startEngine(t, "third", testConfig("127.0.0.6"), dataDir)
	time.Sleep(300 * time.Millisecond)
	if n := len(e3.Snapshot().Torrents); n != 0 {
		t.Errorf("removed torrent came back: %d torrents", n)
	}
}
