// Package boltfile opens a bbolt file for the length of one transaction,
// so several processes on one machine can share it: each open takes the
// file lock (exclusive to write, shared to read) and waits at most a lock
// timeout for it. Commits are fsynced (bbolt's default).
//
// Within one process, a file stays open while any Update on it runs, and
// transactions that start meanwhile share that handle: a View then reads
// the last committed state at once instead of waiting for the writer's
// commit (its fsync) to release the file lock, and Updates queue on
// bbolt's writer lock. The handle closes, and the file lock is released
// for other processes, when the last of them ends. An Update that has to
// open the file first waits for this process's Views holding read handles
// of their own to close them, rather than have its file lock refused.
package boltfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrLocked is returned when another process held the file longer than
// the lock timeout.
var ErrLocked = errors.New("file is locked by another process")

// shared is a file this process has open for writing, and how many
// transactions use the handle.
type shared struct {
	db   *bolt.DB
	refs int
}

var (
	openMu sync.Mutex             // guards open files and opening them
	opened = map[string]*shared{} // by absolute path
	// readers are held (read-locked) by this process's Views that opened
	// a handle of their own, by absolute path: a writer about to open the
	// file waits for them here, so its file lock is free when it asks
	// (bbolt retries a refused file lock only every 50 ms, while openMu is
	// held). A View read-locks it under openMu; a writer write-locks it
	// only under openMu and unlocks it before releasing openMu.
	readers = map[string]*sync.RWMutex{}
)

// readersOf returns path k's readers lock; openMu must be held.
func readersOf(k string) *sync.RWMutex {
	rw := readers[k]
	if rw == nil {
		rw = new(sync.RWMutex)
		readers[k] = rw
	}
	return rw
}

func key(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// acquire returns the process's open handle of path, if any, counting a
// use of it; with write, it opens one (taking the file lock) when there is
// none. Without write and with no handle open, it returns path's readers
// lock read-locked: the caller opens its own read handle and unlocks it
// once that handle is closed.
func acquire(path string, timeout time.Duration, write bool) (*shared, *sync.RWMutex, error) {
	k := key(path)
	openMu.Lock()
	defer openMu.Unlock()
	if f := opened[k]; f != nil {
		f.refs++
		return f, nil, nil
	}
	rw := readersOf(k)
	if !write {
		rw.RLock()
		return nil, rw, nil
	}
	rw.Lock() // our own Views' read handles closed: the file lock is free to us
	defer rw.Unlock()
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	if created {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, nil, fmt.Errorf("cannot create the directory of %s: %w", path, err)
		}
	}
	db, err := open(path, timeout, false)
	if err != nil {
		return nil, nil, err
	}
	if created {
		// Make the new file's directory entry durable too.
		syncDir(filepath.Dir(path))
	}
	f := &shared{db: db, refs: 1}
	opened[k] = f
	return f, nil, nil
}

// release ends a use of f, closing the file when it was the last.
func release(path string, f *shared) error {
	openMu.Lock()
	defer openMu.Unlock()
	if f.refs--; f.refs > 0 {
		return nil
	}
	delete(opened, key(path))
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("cannot close %s: %w", path, err)
	}
	return nil
}

// Update runs fn in a read-write transaction on the file at path, creating
// the file (mode 0600, parent dir 0700) if needed. The commit is fsynced
// before Update returns; fn's error rolls everything back.
func Update(path string, timeout time.Duration, fn func(*bolt.Tx) error) error {
	f, _, err := acquire(path, timeout, true)
	if err != nil {
		return err
	}
	err = f.db.Update(fn)
	if rerr := release(path, f); err == nil {
		err = rerr
	}
	return err
}

// View runs fn in a read-only transaction. A missing file is reported as
// fs.ErrNotExist (callers usually treat it as empty).
func View(path string, timeout time.Duration, fn func(*bolt.Tx) error) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	f, rw, err := acquire(path, timeout, false)
	if err != nil {
		return err
	}
	if f != nil { // an Update of ours has it open: read alongside it
		err = f.db.View(fn)
		if rerr := release(path, f); err == nil {
			err = rerr
		}
		return err
	}
	defer rw.RUnlock() // once our handle is closed: a writer of ours may open it
	db, err := open(path, timeout, true)
	if err != nil {
		return err
	}
	err = db.View(fn)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("cannot close %s: %w", path, cerr)
	}
	return err
}

func open(path string, timeout time.Duration, readOnly bool) (*bolt.DB, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: readOnly})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("cannot open %s within %s: %w", path, timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	return db, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Check verifies the file's internal consistency (pages, freelist).
func Check(path string, timeout time.Duration) error {
	return View(path, timeout, func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("%s is corrupt: %w", path, err)
		}
		return nil
	})
}
