// Package boltfile opens a bbolt file for the length of one transaction,
// so several processes on one machine can share it: each open takes the
// file lock (exclusive to write, shared to read) and waits at most a lock
// timeout for it. Commits are fsynced (bbolt's default).
package boltfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrLocked is returned when another process held the file longer than
// the lock timeout.
var ErrLocked = errors.New("file is locked by another process")

// Update runs fn in a read-write transaction on the file at path, creating
// the file (mode 0600, parent dir 0700) if needed. The commit is fsynced
// before Update returns; fn's error rolls everything back.
func Update(path string, timeout time.Duration, fn func(*bolt.Tx) error) error {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	if created {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("cannot create the directory of %s: %w", path, err)
		}
	}
	db, err := open(path, timeout, false)
	if err != nil {
		return err
	}
	if created {
		// Make the new file's directory entry durable too.
		syncDir(filepath.Dir(path))
	}
	err = db.Update(fn)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("cannot close %s: %w", path, cerr)
	}
	return err
}

// View runs fn in a read-only transaction. A missing file is reported as
// fs.ErrNotExist (callers usually treat it as empty).
func View(path string, timeout time.Duration, fn func(*bolt.Tx) error) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
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
