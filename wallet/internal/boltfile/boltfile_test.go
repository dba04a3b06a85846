package boltfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestLockAndModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "f.db")
	if err := View(path, time.Second, func(*bolt.Tx) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("view of a missing file: %v", err)
	}
	if err := Update(path, time.Second, putKV); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %o", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %o", fi.Mode().Perm())
	}
	// Another holder of the write lock: Update gives up with ErrLocked,
	// and a reader cannot get in either.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Update(path, 100*time.Millisecond, putKV); !errors.Is(err, ErrLocked) {
		t.Errorf("update while locked: %v", err)
	}
	if err := View(path, 100*time.Millisecond, func(*bolt.Tx) error { return nil }); !errors.Is(err, ErrLocked) {
		t.Errorf("view while write-locked: %v", err)
	}
	db.Close()
	// A rolled-back transaction leaves nothing behind.
	boom := errors.New("boom")
	err = Update(path, time.Second, func(tx *bolt.Tx) error {
		_ = tx.Bucket([]byte("b")).Put([]byte("k"), []byte("changed"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	err = View(path, time.Second, func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("b")).Get([]byte("k")); string(v) != "v" {
			t.Errorf("value %q after rollback", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(path, time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestViewDuringUpdate: in one process, a View while an Update runs
// reads the last commit at once (it shares the writer's handle instead of
// waiting for the file lock the writer holds through its fsync), and the
// file is closed, its lock free for other processes, once both end.
func TestViewDuringUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	put := func(v string) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte(v))
		}
	}
	if err := Update(path, time.Second, put("old")); err != nil {
		t.Fatal(err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Update(path, time.Second, func(tx *bolt.Tx) error {
			if err := put("new")(tx); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	var got string
	// A reader that waited for the file lock would time out here.
	err := View(path, 100*time.Millisecond, func(tx *bolt.Tx) error {
		got = string(tx.Bucket([]byte("b")).Get([]byte("k")))
		return nil
	})
	if err != nil || got != "old" {
		t.Fatalf("view during an update: %q %v, want the last commit", got, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("the file stayed locked after the update: %v", err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		got = string(tx.Bucket([]byte("b")).Get([]byte("k")))
		return nil
	}); err != nil || got != "new" {
		t.Fatalf("after the update: %q %v", got, err)
	}
}

// TestWriterWaitsForOwnReaderWithoutPolling (issue 18 soak): an Update
// that starts while a View of this process holds its own read handle
// opens the file as soon as that View ends. Before, bbolt's file lock
// attempt failed and was retried 50 ms later, with the process's open
// mutex held, so the engine loop's next read (Highest for a new payer)
// waited those 50 ms too: the soak's longest loop stall in every run.
func TestWriterWaitsForOwnReaderWithoutPolling(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.db")
	if err := Update(path, time.Second, putKV); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		inView := make(chan struct{})
		viewDone := make(chan error, 1)
		go func() {
			viewDone <- View(path, time.Second, func(*bolt.Tx) error {
				close(inView)
				time.Sleep(10 * time.Millisecond)
				return nil
			})
		}()
		<-inView
		start := time.Now()
		var opened time.Duration
		if err := Update(path, time.Second, func(tx *bolt.Tx) error {
			opened = time.Since(start)
			return putKV(tx)
		}); err != nil {
			t.Fatal(err)
		}
		if err := <-viewDone; err != nil {
			t.Fatal(err)
		}
		if opened >= 45*time.Millisecond {
			t.Fatalf("the writer got the file %v after it asked, behind a 10 ms view of this process (bbolt's 50 ms lock retry)", opened.Round(time.Millisecond))
		}
	}
}

// putKV stores k=v in bucket b.
func putKV(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists([]byte("b"))
	if err != nil {
		return err
	}
	return b.Put([]byte("k"), []byte("v"))
}
