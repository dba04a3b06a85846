package core

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testTracker is a minimal HTTP tracker: it remembers every announcing
// peer (the connection's source IP and the port parameter) and returns
// the others, compact.
type testTracker struct {
	mu    sync.Mutex
	peers map[string]map[string]bool // infohash → ip:port
}

func (tt *testTracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ih := q.Get("info_hash")
	port, _ := strconv.Atoi(q.Get("port"))
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	self := net.JoinHostPort(host, strconv.Itoa(port))
	tt.mu.Lock()
	if tt.peers[ih] == nil {
		tt.peers[ih] = map[string]bool{}
	}
	var compact []byte
	for p := range tt.peers[ih] {
		if p == self {
			continue
		}
		ap, _ := net.ResolveTCPAddr("tcp", p)
		compact = append(compact, ap.IP.To4()...)
		compact = append(compact, byte(ap.Port>>8), byte(ap.Port))
	}
	tt.peers[ih][self] = true
	tt.mu.Unlock()
	fmt.Fprintf(w, "d8:intervali5e5:peers%d:%se", len(compact), compact)
}

// Peers find each other through a tracker named in the torrent (no
// direct peers), announcing from their dial address; the tracker's row
// reports it was contacted, and one that is down reports the error.
func TestTrackerDiscoveryAndEncryption(t *testing.T) {
	tt := &testTracker{peers: map[string]map[string]bool{}}
	srv := httptest.NewServer(tt)
	defer srv.Close()
	dir := t.TempDir()
	root := makePayload(t, filepath.Join(dir, "src"), "payload", 3, testSizes)
	dead := "http://127.0.0.1:1/announce"
	tf, err := CreateTorrent(CreateOptions{Path: root, PieceLength: 16 << 10, Trackers: []string{srv.URL + "/announce", dead}})
	if err != nil {
		t.Fatal(err)
	}
	torrentPath := filepath.Join(dir, "p.torrent")
	if err := os.WriteFile(torrentPath, tf.Bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sc := testConfig("127.0.0.21")
	sc.Encryption = "require"
	seeder := startEngine(t, "seeder", sc, filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	// Complete once checked, the seeder's torrent is announced by the
	// announcer of parked torrents (park.go), which reports each
	// announce's outcome: ok, and the dead tracker's error.
	waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified and announced", func(tr Torrent) bool {
		return isComplete(tr) && len(tr.Trackers) == 2 && tr.Trackers[0].Status == "ok" && tr.Trackers[1].Status == "error"
	})
	lc := testConfig("127.0.0.22")
	lc.Encryption = "require"
	l := startEngine(t, "leecher", lc, filepath.Join(dir, "l"))
	// Slow the seeder so the transfer can be watched.
	if err := seeder.SetLimits(ctx, InfoHash{}, Limits{Up: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Join(dir, "out")}); err != nil {
		t.Fatal(err)
	}
	var row Peer
	got := waitFor(t, l.Engine, ih, 60*time.Second, "complete via the tracker", func(tr Torrent) bool {
		if len(tr.Peers) > 0 {
			row = tr.Peers[0]
		}
		return isComplete(tr)
	})
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(dir, "out", "payload")))
	if !row.Encrypted || row.Key.String() != seeder.ListenAddr().String() || row.DownRate == 0 {
		t.Errorf("encryption = require; the peer row seen during the transfer is %+v", row)
	}
	tt.mu.Lock()
	for p := range tt.peers[string(tf.InfoHash[:])] {
		if h, _, _ := net.SplitHostPort(p); h != "127.0.0.21" && h != "127.0.0.22" {
			t.Errorf("tracker saw peer %s, not from a dial address", p)
		}
	}
	tt.mu.Unlock()
	if len(got.Trackers) != 2 || got.Trackers[1].URL != dead {
		t.Fatalf("trackers = %+v", got.Trackers)
	}
	got = waitFor(t, l.Engine, ih, 30*time.Second, "dead tracker reported", func(tr Torrent) bool {
		return tr.Trackers[1].Status == "error"
	})
	if got.Trackers[1].LastErr == "" {
		t.Errorf("dead tracker row = %+v", got.Trackers[1])
	}
}
