package core

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestV2CorruptBlockPinned: the leecher finds a v2 (and a hybrid) torrent's
// data in place with one byte changed in block 2 of a.bin (64 KiB pieces:
// four blocks a piece). Its log names the file, the piece's byte range and
// blocks when the check fails, then the one block that was corrupt once the
// piece is fetched again; the tree ends identical to the seeder's and only
// that piece was downloaded.
func TestV2CorruptBlockPinned(t *testing.T) {
	dir := t.TempDir()
	patternTree(t, dir)
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.140"), filepath.Join(dir, "seeder"))
	for i, f := range []Format{FormatV2, FormatHybrid} {
		t.Run(string(f), func(t *testing.T) {
			tf, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, "album"), PieceLength: 64 << 10, Format: f})
			if err != nil {
				t.Fatal(err)
			}
			tp := filepath.Join(dir, string(f)+".torrent")
			if err := os.WriteFile(tp, tf.Bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := seeder.Add(ctx, AddSpec{Source: tp, DataDir: dir}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, seeder.Engine, tf.InfoHash, 30*time.Second, "seeder verified", isComplete)
			out := filepath.Join(dir, "out-"+string(f))
			for rel := range map[string]bool{"a.bin": true, "z.bin": true, "sub/deeper/c.txt": true} {
				b, err := os.ReadFile(filepath.Join(dir, "album", rel))
				if err != nil {
					t.Fatal(err)
				}
				if rel == "a.bin" {
					b[40000] ^= 0xff // block 2 (bytes 32768-49151) of piece 0
				}
				p := filepath.Join(out, "album", rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var logs syncBuffer
			leecher := startEngine(t, "leecher", testConfig(fmt.Sprintf("127.0.0.%d", 141+i)), filepath.Join(out+"-engine"),
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if _, err := leecher.Add(ctx, AddSpec{Source: tp, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
			got := waitFor(t, leecher.Engine, tf.InfoHash, 60*time.Second, "repaired", isComplete)
			sameTree(t, hashTree(t, filepath.Join(dir, "album")), hashTree(t, filepath.Join(out, "album")))
			if got.Downloaded != 64<<10 {
				t.Errorf("downloaded %d bytes to repair one block, want the one piece (65536)", got.Downloaded)
			}
			var failed, repaired []string
			for _, l := range strings.Split(logs.String(), "\n") {
				switch {
				case strings.Contains(l, "v2 piece failed its hash check"):
					failed = append(failed, l)
				case strings.Contains(l, "v2 corrupt block repaired"):
					repaired = append(repaired, l)
				}
			}
			if len(failed) != 1 || !strings.Contains(failed[0], "piece=0 file=a.bin bytes=0-65536 blocks=0-4") {
				t.Errorf("failure lines %q, want one for piece 0 of a.bin, bytes 0-65536, blocks 0-4", failed)
			}
			if len(repaired) != 1 || !strings.Contains(repaired[0], "piece=0 file=a.bin block=2 bytes=32768-49152") {
				t.Errorf("repair lines %q, want one for block 2 of a.bin, bytes 32768-49152", repaired)
			}
		})
	}
}
