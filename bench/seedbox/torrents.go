//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/bidtorrent/bidtorrent/core"
)

// torrentSet is n single-file private torrents: data files in dataDir, the
// .torrents in memory.
type torrentSet struct {
	dataDir string
	names   []string // tNNNNN, also the data file's name
	metas   [][]byte // bencoded .torrents
}

// makeTorrents writes n data files of size bytes (distinct, reproducible
// contents) under dir/data with their .torrents under dir/meta, reusing
// the files a previous run with the same -work left.
func makeTorrents(dir string, n int, size, piece int64) (*torrentSet, error) {
	set := &torrentSet{dataDir: filepath.Join(dir, "data")}
	meta := filepath.Join(dir, fmt.Sprintf("meta-%d-%d", size, piece))
	for _, d := range []string{set.dataDir, meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("t%05d", i)
		data := filepath.Join(set.dataDir, name)
		mp := filepath.Join(meta, name+".torrent")
		b, err := os.ReadFile(mp)
		if fi, serr := os.Stat(data); err != nil || serr != nil || fi.Size() != size {
			var seed [32]byte
			binary.LittleEndian.PutUint64(seed[:], uint64(i))
			r := rand.NewChaCha8(seed)
			_, _ = r.Read(buf)
			if err := os.WriteFile(data, buf, 0o644); err != nil {
				return nil, err
			}
			tf, err := core.CreateTorrent(core.CreateOptions{Path: data, PieceLength: piece, Private: true, CreatedBy: "bench/seedbox"})
			if err != nil {
				return nil, fmt.Errorf("cannot make torrent %s: %w", name, err)
			}
			b = tf.Bytes
			if err := os.WriteFile(mp, b, 0o644); err != nil {
				return nil, err
			}
		}
		set.names = append(set.names, name)
		set.metas = append(set.metas, b)
	}
	return set, nil
}
