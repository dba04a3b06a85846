package core

import (
	"encoding/binary"
	"fmt"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	bolt "go.etcd.io/bbolt"
)

// completionDB is the piece-completion store: one bucket per infohash in
// state.db, holding a key for each piece verified complete. It records
// only completeness, written through (fsynced) when a piece is verified;
// a piece without a record is "unknown", so anacrolix hashes it on start.
// After a kill -9 a piece whose record was not yet written is therefore
// re-hashed from the data on disk, never downloaded again; anacrolix's own
// bolt store buffers completions and persists "incomplete", which made a
// killed download start over.
//
// Set also records the size and mtime of the files a completed piece
// touches, in the same transaction, for the start-up check (filecheck.go).
type completionDB struct {
	db      *bolt.DB
	layouts *layouts
}

var bucketCompletion = []byte("completion")

var _ storage.PieceCompletion = completionDB{}

func newCompletionDB(db *bolt.DB) completionDB { return completionDB{db: db, layouts: &layouts{}} }

func pieceKey(i int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(i))
	return b[:]
}

func (c completionDB) Get(pk metainfo.PieceKey) (storage.Completion, error) {
	var out storage.Completion
	err := c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCompletion)
		if b == nil {
			return nil
		}
		ih := b.Bucket(pk.InfoHash[:])
		if ih != nil && ih.Get(pieceKey(pk.Index)) != nil {
			out.Ok, out.Complete = true, true
		}
		return nil
	})
	return out, err
}

func (c completionDB) Set(pk metainfo.PieceKey, complete g.Option[bool]) error {
	if cur, err := c.Get(pk); err == nil && cur.Ok == (complete.Ok && complete.Value) {
		return nil // already as wanted
	}
	var stamps map[int]fileStamp
	if complete.Ok && complete.Value {
		stamps = c.stampsFor(InfoHash(pk.InfoHash), pk.Index)
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		if err := putStamps(tx, InfoHash(pk.InfoHash), stamps); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketCompletion)
		if err != nil {
			return err
		}
		ih, err := b.CreateBucketIfNotExists(pk.InfoHash[:])
		if err != nil {
			return err
		}
		if complete.Ok && complete.Value {
			return ih.Put(pieceKey(pk.Index), []byte{1})
		}
		return ih.Delete(pieceKey(pk.Index))
	})
	if err != nil {
		return fmt.Errorf("cannot record completion of piece %d of %s: %w", pk.Index, pk.InfoHash.HexString(), err)
	}
	return nil
}

// forget drops every record of a torrent, and its file stamps.
func (c completionDB) forget(ih InfoHash) error {
	c.layouts.m.Delete(ih)
	return c.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketCompletion, bucketStamps} {
			b := tx.Bucket(name)
			if b == nil || b.Bucket(ih[:]) == nil {
				continue
			}
			if err := b.DeleteBucket(ih[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Persistent tells anacrolix to flush a piece's data before it is marked
// complete.
func (completionDB) Persistent() bool { return true }

// Close does nothing: the store closes the database.
func (completionDB) Close() error { return nil }
