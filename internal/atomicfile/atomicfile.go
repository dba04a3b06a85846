// Package atomicfile writes whole files so that a reader, or the next
// start after a crash, sees either the old content or the new, never a
// torn one: the bytes go to a temporary file in the same directory, are
// synced, and the file is renamed (or linked) into place, and the
// directory is synced.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with b, readable as perm. When path exists and is
// not a regular file (a device such as /dev/stdout, a FIFO), b is written
// straight into it instead: renaming over it would replace the device
// node with a file.
func Write(path string, b []byte, perm fs.FileMode) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("cannot write %s: it is a directory", path)
		}
		return writeInto(path, b)
	}
	return write(path, b, perm, false)
}

// Create is Write for a file that must not exist yet (a key): it never
// replaces anything and fails with an error wrapping fs.ErrExist when
// path exists.
func Create(path string, b []byte, perm fs.FileMode) error {
	return write(path, b, perm, true)
}

func write(path string, b []byte, perm fs.FileMode, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, unwrapPath(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil || exclusive {
			os.Remove(tmp)
		}
	}()
	err = f.Chmod(perm)
	if err == nil {
		err = writeSync(f, b)
	} else {
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, unwrapPath(err))
	}
	if exclusive {
		err = link(tmp, path, b, perm)
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, unwrapPath(err))
	}
	syncDir(dir)
	return nil
}

// link puts tmp at path unless path exists. Where hard links are not
// supported, an exclusive create of path does the same.
func link(tmp, path string, b []byte, perm fs.FileMode) error {
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	return createExclusive(path, b, perm)
}

// createExclusive writes b to a new file at path, failing if it exists.
func createExclusive(path string, b []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err = writeSync(f, b); err != nil {
		os.Remove(path)
	}
	return err
}

// writeSync writes b to f, syncs and closes it, returning the first error.
func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeInto writes b into an existing non-regular file.
func writeInto(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, unwrapPath(err))
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, unwrapPath(err))
	}
	return nil
}

// syncDir makes the rename durable; where a directory cannot be synced
// there is nothing more to do.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// unwrapPath drops a *PathError's or *LinkError's own paths (the temporary file's) so the
// message names the file the caller asked for.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
