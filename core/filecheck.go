package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The start-up check (as Transmission does it): when a piece is verified
// complete, the size and modification time of each file it touches are
// recorded beside the piece's record, in the same bbolt transaction. When
// a torrent starts, each of its files is stat'ed once and compared:
//
//   - unchanged: its pieces' records are trusted (nothing is hashed);
//   - changed (size or mtime): the records of its pieces are dropped, so
//     anacrolix hashes them before any is announced or served, and a bad
//     one is downloaded again;
//   - missing while recorded: the torrent is not started and shows an
//     error naming the path; nothing is downloaded over it until the user
//     resumes or rechecks it (resolveMissing).
//
// A file with records of complete pieces but no stamp (a store written
// before stamps existed) is stamped at that start if its size is right:
// the records were trusted before, and hashing a seedbox's terabytes once
// at upgrade would cost more than it protects. From then on a change is
// caught.

// fileStamp is what is recorded of a file: its size and mtime.
type fileStamp struct{ size, mtime int64 }

func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

func (s fileStamp) bytes() []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.size))
	binary.BigEndian.PutUint64(b[8:], uint64(s.mtime))
	return b[:]
}

func parseStamp(b []byte) (fileStamp, bool) {
	if len(b) != 16 {
		return fileStamp{}, false
	}
	return fileStamp{int64(binary.BigEndian.Uint64(b[:8])), int64(binary.BigEndian.Uint64(b[8:]))}, true
}

// bucketStamps holds a bucket per infohash, keyed by file index.
var bucketStamps = []byte("filestamps")

// layoutFile is one file of a torrent's data on disk.
type layoutFile struct {
	index      int    // in the torrent's upverted files (pad files included)
	path       string // absolute
	off, size  int64  // in the torrent's byte space
	begin, end int    // its pieces, [begin, end)
}

// fileLayout maps a torrent's pieces to its files on disk.
type fileLayout struct{ files []layoutFile }

func newLayout(tf *TorrentFile, dataDir string) *fileLayout {
	l := &fileLayout{}
	for i, f := range tf.info.UpvertedFiles() {
		if f.Length == 0 || strings.Contains(f.Attr, "p") {
			continue // no data, or a BEP 47 pad file (never on disk)
		}
		l.files = append(l.files, layoutFile{
			index: i, path: filepath.Join(dataDir, filePath(&tf.info, &f)),
			off: f.TorrentOffset, size: f.Length,
			begin: f.BeginPieceIndex(tf.PieceLength), end: f.EndPieceIndex(tf.PieceLength),
		})
	}
	return l
}

// touching returns the files holding part of piece i.
func (l *fileLayout) touching(i int) []layoutFile {
	// Files are in torrent order, so begin and end never decrease.
	k := sort.Search(len(l.files), func(k int) bool { return l.files[k].end > i })
	var out []layoutFile
	for ; k < len(l.files) && l.files[k].begin <= i; k++ {
		out = append(out, l.files[k])
	}
	return out
}

// layouts holds the layout of every started torrent for the completion
// store (InfoHash → *fileLayout); the loop stores entries, Set (on
// anacrolix's goroutines) reads them.
type layouts struct{ m sync.Map }

func (l *layouts) get(ih InfoHash) *fileLayout {
	if v, ok := l.m.Load(ih); ok {
		return v.(*fileLayout)
	}
	return nil
}

// stampsFor stats the files touching piece i (for Set).
func (c completionDB) stampsFor(ih InfoHash, i int) map[int]fileStamp {
	if c.layouts == nil {
		return nil
	}
	l := c.layouts.get(ih)
	if l == nil {
		return nil
	}
	out := map[int]fileStamp{}
	for _, f := range l.touching(i) {
		if fi, err := os.Stat(f.path); err == nil {
			out[f.index] = stampOf(fi)
		}
	}
	return out
}

func putStamps(tx *bolt.Tx, ih InfoHash, stamps map[int]fileStamp) error {
	if len(stamps) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketStamps)
	if err != nil {
		return err
	}
	sb, err := b.CreateBucketIfNotExists(ih[:])
	if err != nil {
		return err
	}
	for i, s := range stamps {
		if err := sb.Put(pieceKey(i), s.bytes()); err != nil {
			return err
		}
	}
	return nil
}

// fileCheck is the outcome of checkFiles.
type fileCheck struct {
	missing []layoutFile // recorded, now gone
	changed []layoutFile // size or mtime differs: pieces to hash again
}

// checkFiles registers ts's layout with the completion store and compares
// each file with its stamp, dropping the piece records of changed files
// and stamping files recorded before stamps existed. One stat per file,
// one read transaction, and a write only when something changed.
func (e *Engine) checkFiles(ts *tstate) (fileCheck, error) {
	var out fileCheck
	l := newLayout(ts.tf, ts.rec.DataDir)
	e.pc.layouts.m.Store(ts.ih, l)
	fresh := map[int]fileStamp{}
	err := e.st.db.View(func(tx *bolt.Tx) error {
		var stamps, pieces *bolt.Bucket
		if b := tx.Bucket(bucketStamps); b != nil {
			stamps = b.Bucket(ts.ih[:])
		}
		if b := tx.Bucket(bucketCompletion); b != nil {
			pieces = b.Bucket(ts.ih[:])
		}
		if pieces == nil {
			return nil // nothing recorded complete: anacrolix hashes what is there
		}
		for _, f := range l.files {
			var rec fileStamp
			stamped := false
			if stamps != nil {
				rec, stamped = parseStamp(stamps.Get(pieceKey(f.index)))
			}
			if !stamped && !anyPiece(pieces, f.begin, f.end) {
				continue // nothing of it recorded
			}
			fi, err := os.Stat(f.path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				out.missing = append(out.missing, f)
			case err != nil:
				return fmt.Errorf("cannot check %s: %w", f.path, err)
			case !fi.Mode().IsRegular():
				out.missing = append(out.missing, f)
			case stamped && stampOf(fi) != rec, !stamped && fi.Size() != f.size:
				out.changed = append(out.changed, f)
			case !stamped:
				fresh[f.index] = stampOf(fi)
			}
		}
		return nil
	})
	if err != nil || len(out.missing) > 0 || len(out.changed) == 0 && len(fresh) == 0 {
		return out, err
	}
	err = e.st.db.Update(func(tx *bolt.Tx) error {
		if err := putStamps(tx, ts.ih, fresh); err != nil {
			return err
		}
		return forgetPieces(tx, ts.ih, out.changed)
	})
	if err != nil {
		return out, fmt.Errorf("cannot record the check of %s's files: %w", ts.name, err)
	}
	return out, nil
}

// anyPiece reports whether b holds a record of a piece in [begin, end).
func anyPiece(b *bolt.Bucket, begin, end int) bool {
	k, _ := b.Cursor().Seek(pieceKey(begin))
	return k != nil && bytes.Compare(k, pieceKey(end)) < 0
}

// forgetPieces drops the records of the files' pieces (they are hashed
// again when the torrent starts) and the files' stamps.
func forgetPieces(tx *bolt.Tx, ih InfoHash, files []layoutFile) error {
	if len(files) == 0 {
		return nil
	}
	if b := tx.Bucket(bucketCompletion); b != nil {
		if pb := b.Bucket(ih[:]); pb != nil {
			for _, f := range files {
				for i := f.begin; i < f.end; i++ {
					if err := pb.Delete(pieceKey(i)); err != nil {
						return err
					}
				}
			}
		}
	}
	if b := tx.Bucket(bucketStamps); b != nil {
		if sb := b.Bucket(ih[:]); sb != nil {
			for _, f := range files {
				if err := sb.Delete(pieceKey(f.index)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkStart runs the start-up check before start hands ts to anacrolix;
// false (with ts.err set) when a recorded file is missing.
func (e *Engine) checkStart(ts *tstate) (bool, error) {
	if ts.tf == nil {
		return true, nil // a magnet: nothing recorded before its metadata
	}
	fc, err := e.checkFiles(ts)
	if err != nil {
		return false, err
	}
	if len(fc.missing) > 0 {
		ts.missing = fc.missing
		ts.err = missingErr(fc.missing)
		ts.touch()
		e.log.Warn("files missing: torrent not started", "infohash", ts.rec.InfoHash, "err", ts.err)
		return false, nil
	}
	for _, f := range fc.changed {
		e.log.Info("file changed while stopped: its pieces are verified again", "infohash", ts.rec.InfoHash,
			"path", f.path, "pieces", f.end-f.begin)
	}
	return true, nil
}

func missingErr(files []layoutFile) string {
	s := "missing file " + files[0].path
	if len(files) > 1 {
		s = fmt.Sprintf("%d files missing, the first %s", len(files), files[0].path)
	}
	return s + " (put it back, or resume or recheck to download it again)"
}

// resolveMissing is the user's answer to missing files (resume or
// recheck): their pieces are forgotten, so they are downloaded again.
func (e *Engine) resolveMissing(ts *tstate) error {
	if len(ts.missing) == 0 {
		return nil
	}
	err := e.st.db.Update(func(tx *bolt.Tx) error { return forgetPieces(tx, ts.ih, ts.missing) })
	if err != nil {
		return fmt.Errorf("cannot forget the missing files of %s: %w", ts.name, err)
	}
	ts.missing = nil
	ts.err = ""
	ts.touch()
	return nil
}

// moved records the stamps of ts's files at their new place (a copy to
// another file system gives them new mtimes) before it starts again.
func (e *Engine) moved(ts *tstate) {
	if ts.tf != nil {
		e.pc.layouts.m.Store(ts.ih, newLayout(ts.tf, ts.rec.DataDir))
		e.restamp(ts)
	}
}

// restamp records the current stamps of ts's stamped files: after data we
// wrote ourselves (a session that downloaded, stopped cleanly) or moved.
func (e *Engine) restamp(ts *tstate) {
	if ts.tf == nil {
		return
	}
	l := e.pc.layouts.get(ts.ih)
	if l == nil {
		return
	}
	err := e.st.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStamps)
		if b == nil || b.Bucket(ts.ih[:]) == nil {
			return nil
		}
		sb := b.Bucket(ts.ih[:])
		for _, f := range l.files {
			if sb.Get(pieceKey(f.index)) == nil {
				continue
			}
			if fi, err := os.Stat(f.path); err == nil {
				if err := sb.Put(pieceKey(f.index), stampOf(fi).bytes()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		e.log.Warn("cannot record file stamps", "infohash", ts.rec.InfoHash, "err", err)
	}
}
