package automation

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
)

// settle is how old a file's modification time must be before a file seen
// for the first time is read (a file seen unchanged by two scans is read
// at once): a .torrent still being written is not read half-way.
const settle = 2 * time.Second

// maxMagnetFile caps a .magnet file.
const maxMagnetFile = 64 << 10

// fileStamp is what tells a file still being written from a finished one.
type fileStamp struct {
	size int64
	mod  time.Time
}

// scanWatch adds the new .torrent and .magnet files of the watch dir.
func (a *Automation) scanWatch(ctx context.Context) {
	dir := a.cfg.WatchDir
	// A dir whose files were all handled is read again only once its mtime
	// moves (a file created, renamed in or removed), as long as that mtime
	// is older than settle: a change within the file system's timestamp
	// granularity of the last read could leave it unchanged. Reading a dir
	// holding thousands of .added files each interval is most of an idle
	// seedbox's allocations otherwise.
	var mod time.Time
	if fi, err := os.Stat(dir); err == nil {
		mod = fi.ModTime()
		if len(a.watch) == 0 && len(a.stuck) == 0 && mod.Equal(a.watchMod) && a.now().Sub(mod) >= settle {
			return
		}
	}
	a.watchMod = time.Time{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !a.stuck["\x00readdir"] {
			a.log.Error("cannot read the watch dir", "dir", dir, "err", err)
			a.stuck["\x00readdir"] = true
		}
		return
	}
	delete(a.stuck, "\x00readdir")
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || watchKind(name) == "" {
			continue
		}
		seen[name] = true
		if a.stuck[name] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		cur := fileStamp{size: info.Size(), mod: info.ModTime()}
		prev, ok := a.watch[name]
		a.watch[name] = cur
		if !(ok && prev == cur) && a.now().Sub(cur.mod) < settle {
			continue // maybe still being written; look again next scan
		}
		if ctx.Err() != nil {
			return
		}
		a.addWatched(ctx, name)
	}
	for name := range a.watch {
		if !seen[name] {
			delete(a.watch, name)
		}
	}
	for name := range a.stuck {
		if !seen[name] && name != "\x00readdir" {
			delete(a.stuck, name)
		}
	}
	if len(a.watch) == 0 && len(a.stuck) == 0 {
		a.watchMod = mod
	}
}

func watchKind(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".torrent":
		return "torrent"
	case ".magnet":
		return "magnet"
	}
	return ""
}

// addWatched adds one file and moves it aside.
func (a *Automation) addWatched(ctx context.Context, name string) {
	path := filepath.Join(a.cfg.WatchDir, name)
	spec := core.AddSpec{Source: path, Labels: append([]string(nil), a.cfg.WatchLabels...)}
	var err error
	if watchKind(name) == "magnet" {
		spec.Source, err = readMagnet(path)
	}
	var ih core.InfoHash
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		ih, err = a.eng.Add(cctx, spec)
		cancel()
		if err != nil && (ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
			// Shutting down, or the engine is stuck: try again later.
			a.log.Warn("cannot add torrent from the watch dir yet", "file", path, "err", err)
			return
		}
	}
	if err != nil {
		a.log.Error("cannot add torrent from the watch dir", "file", path, "err", err)
		a.moveAside(path, ".invalid")
		return
	}
	a.log.Info("added torrent from the watch dir", "file", path, "infohash", ih.String())
	a.moveAside(path, ".added")
}

func readMagnet(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read magnet file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxMagnetFile))
	sc.Buffer(make([]byte, 0, 4096), maxMagnetFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(strings.ToLower(line), "magnet:?") {
			return "", fmt.Errorf("magnet file: first line is not a magnet URI")
		}
		return line, nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cannot read magnet file: %w", err)
	}
	return "", errors.New("magnet file is empty")
}

// moveAside renames path to path+suffix (in watch_done_dir when set),
// never overwriting a file already there.
func (a *Automation) moveAside(path, suffix string) {
	dir := filepath.Dir(path)
	if a.cfg.WatchDoneDir != "" {
		dir = a.cfg.WatchDoneDir
		if err := os.MkdirAll(dir, 0o755); err != nil {
			a.log.Error("cannot create watch_done_dir", "dir", dir, "err", err)
			a.stuck[filepath.Base(path)] = true
			return
		}
	}
	base := filepath.Base(path) + suffix
	dst := filepath.Join(dir, base)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = filepath.Join(dir, fmt.Sprintf("%s.%d", base, i))
	}
	if err := os.Rename(path, dst); err != nil {
		a.log.Error("cannot move a watch dir file aside; ignoring it until it changes name", "file", path, "err", err)
		a.stuck[filepath.Base(path)] = true
		return
	}
	delete(a.watch, filepath.Base(path))
}
