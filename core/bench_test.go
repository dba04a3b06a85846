package core

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkLoopbackTransfer moves a 64 MiB single-file torrent between two
// in-process engines over loopback TCP (each iteration a fresh leecher)
// and reports MiB/s.
func BenchmarkLoopbackTransfer(b *testing.B) {
	dir := b.TempDir()
	const size = 64 << 20
	root := makePayload(b, filepath.Join(dir, "src"), "payload", 5, map[string]int{"big.bin": size})
	tf, err := CreateTorrent(CreateOptions{Path: root, PieceLength: 256 << 10})
	if err != nil {
		b.Fatal(err)
	}
	torrentPath := filepath.Join(dir, "p.torrent")
	if err := writeFile(torrentPath, tf.Bytes); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	seeder := startEngine(b, "seeder", testConfig("127.0.0.30"), filepath.Join(dir, "s"))
	ih, err := seeder.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		b.Fatal(err)
	}
	waitFor(b, seeder.Engine, ih, time.Minute, "seeder verified", isComplete)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sub := filepath.Join(dir, "l", string(rune('a'+i%26)), time.Now().Format("150405.000000"))
		l := startEngine(b, "leecher", testConfig("127.0.0.31"), sub)
		b.StartTimer()
		if _, err := l.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Join(sub, "out"), Peers: []string{seeder.ListenAddr().String()}}); err != nil {
			b.Fatal(err)
		}
		waitFor(b, l.Engine, ih, 5*time.Minute, "complete", isComplete)
		b.StopTimer()
		if err := l.stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
