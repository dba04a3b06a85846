package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Move moves the torrent's data into dir and continues from there (the
// automation's move-on-complete). The torrent is stopped while its files
// move: a rename when dir is on the same file system, a copy then delete
// otherwise. On failure the data stays where it was and the torrent
// resumes there.
func (e *Engine) Move(ctx context.Context, ih InfoHash, dir string) error {
	dst, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", dir, err)
	}
	if err := checkWritable(dst); err != nil {
		return err
	}
	done := make(chan error, 1)
	err = e.doTorrent(ctx, ih, func(ts *tstate) error {
		if ts.tf == nil {
			return errors.New("cannot move a torrent without metadata")
		}
		if ts.moving {
			return errors.New("torrent is already being moved")
		}
		src := ts.rec.DataDir
		if filepath.Clean(src) == dst {
			done <- nil
			return nil
		}
		ts.moving = true
		e.stop(ts)
		name, isDir := topLevel(&ts.tf.info)
		e.g.Go(func() error {
			err := moveData(filepath.Join(src, name), filepath.Join(dst, name), isDir)
			e.post(func() {
				ts.moving = false
				if err == nil {
					ts.rec.DataDir = dst
					e.moved(ts) // new stamps for data we moved (filecheck.go)
					e.log.Info("moved torrent", "infohash", ih, "from", src, "to", dst)
				}
				e.saveRecord(ts)
				if _, ok := e.torrents[ih]; ok {
					if serr := e.start(ts); serr != nil && err == nil {
						err = serr
					}
				}
				done <- err
			})
			return nil
		})
		return nil
	})
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("cannot move %s to %s: %w", ih, dst, err)
		}
		return nil
	case <-e.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// moveData moves a torrent's file (and its part file) or directory.
func moveData(src, dst string, isDir bool) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s already exists", dst)
	}
	paths := [][2]string{{src, dst}}
	if !isDir {
		paths = append(paths, [2]string{src + ".part", dst + ".part"})
	}
	for _, p := range paths {
		if _, err := os.Lstat(p[0]); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(p[0], p[1]); err == nil {
			continue
		}
		// Another file system: copy, then delete the original.
		if err := copyTree(p[0], p[1]); err != nil {
			_ = os.RemoveAll(p[1])
			return err
		}
		if err := os.RemoveAll(p[0]); err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
