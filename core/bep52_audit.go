package core

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent/merkle"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// A BitTorrent v2 (or hybrid) piece lies in one file (BEP 52 aligns files
// to pieces), and its hash is the merkle root of its 16 KiB blocks. When a
// piece fails its check, anacrolix knows the piece only: the torrent
// carries piece hashes, not block hashes. blockAudit pins the failure to
// its file and blocks: it logs the file and the piece's byte range at once,
// keeps the SHA-256 of each block of the bad data, and when the piece is
// repaired (verified after a new download) logs exactly which blocks
// changed: those were the corrupt ones. Only the failed piece is fetched
// again, as for any torrent.

// blockAudit wraps a torrent storage: the pieces of v2 and hybrid torrents
// report their failed and repaired blocks to log.
type blockAudit struct {
	storage.ClientImplCloser
	log *slog.Logger
}

func (a blockAudit) OpenTorrent(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	t, err := a.ClientImplCloser.OpenTorrent(ctx, info, ih)
	if err != nil || !info.HasV2() {
		return t, err
	}
	ta := &torrentAudit{info: info, ih: ih, log: a.log, bad: map[int][][32]byte{}}
	if piece := t.Piece; piece != nil {
		t.Piece = func(p metainfo.Piece) storage.PieceImpl { return ta.wrap(p, piece(p)) }
	}
	if piece := t.PieceWithHash; piece != nil {
		t.PieceWithHash = func(p metainfo.Piece, h g.Option[[]byte]) storage.PieceImpl { return ta.wrap(p, piece(p, h)) }
	}
	return t, nil
}

// torrentAudit holds the block hashes of the pieces that failed, until
// they are repaired.
type torrentAudit struct {
	info *metainfo.Info
	ih   metainfo.Hash
	log  *slog.Logger
	mu   sync.Mutex
	bad  map[int][][32]byte // piece -> SHA-256 of each block as it failed
}

func (ta *torrentAudit) wrap(p metainfo.Piece, impl storage.PieceImpl) storage.PieceImpl {
	ap := auditPiece{PieceImpl: impl, ta: ta, p: p}
	if _, ok := impl.(io.WriterTo); ok {
		return auditPieceWriterTo{ap} // anacrolix hashes through WriteTo when it can
	}
	return ap
}

// BlockLocation is where a block or piece of a v2 torrent lies.
type BlockLocation struct {
	File       string // slash-separated path in the torrent
	Begin, End int64  // byte range in the file
	FirstBlock int    // index of the first 16 KiB block in the file
	LastBlock  int    // index of the last one, inclusive
}

// locate returns where bytes [off, off+n) of piece p lie, and false if
// no file holds them.
func locatePiece(info *metainfo.Info, piece int, off, n int64) (BlockLocation, bool) {
	at := int64(piece)*info.PieceLength + off
	for f := range info.UpvertedFilesIter() {
		if f.Length == 0 || at < f.TorrentOffset || at >= f.TorrentOffset+f.Length {
			continue
		}
		begin := at - f.TorrentOffset
		end := min(begin+n, f.Length)
		return BlockLocation{
			File:       strings.Join(f.BestPath(), "/"),
			Begin:      begin,
			End:        end,
			FirstBlock: int(begin / merkle.BlockSize),
			LastBlock:  int((end - 1) / merkle.BlockSize),
		}, true
	}
	return BlockLocation{}, false
}

// blockHashes returns the SHA-256 of each 16 KiB block of the piece as
// stored, or nil if it cannot be read whole or is all zeros (data missing,
// or a hole in a sparse file: nothing to pin).
func blockHashes(r io.ReaderAt, length int64) [][32]byte {
	buf := make([]byte, merkle.BlockSize)
	var hs [][32]byte
	zero := true
	for off := int64(0); off < length; off += merkle.BlockSize {
		n := min(merkle.BlockSize, length-off)
		if m, err := r.ReadAt(buf[:n], off); m < int(n) || err != nil && err != io.EOF {
			return nil
		}
		zero = zero && !slices.ContainsFunc(buf[:n], func(c byte) bool { return c != 0 })
		hs = append(hs, sha256.Sum256(buf[:n]))
	}
	if zero {
		return nil
	}
	return hs
}

type auditPiece struct {
	storage.PieceImpl
	ta *torrentAudit
	p  metainfo.Piece
}

type auditPieceWriterTo struct{ auditPiece }

func (p auditPieceWriterTo) WriteTo(w io.Writer) (int64, error) {
	return p.PieceImpl.(io.WriterTo).WriteTo(w)
}

// MarkNotComplete is called by anacrolix when the piece failed its hash
// check (its data, read whole, does not match).
func (p auditPiece) MarkNotComplete() error {
	err := p.PieceImpl.MarkNotComplete()
	i, n := p.p.Index(), p.p.Length()
	hs := blockHashes(p.PieceImpl, n)
	if hs == nil {
		return err // no data there: a missing piece, not a corrupt one
	}
	loc, ok := locatePiece(p.ta.info, i, 0, n)
	if !ok {
		return err
	}
	p.ta.mu.Lock()
	_, seen := p.ta.bad[i]
	p.ta.bad[i] = hs
	p.ta.mu.Unlock()
	if !seen {
		p.ta.log.Warn("v2 piece failed its hash check", "infohash", p.ta.ih, "piece", i,
			"file", loc.File, "bytes", rangeString(loc.Begin, loc.End),
			"blocks", rangeString(int64(loc.FirstBlock), int64(loc.LastBlock)+1))
	}
	return err
}

// MarkComplete is called once the piece verified. If it had failed, the
// blocks that differ from the failed data are the ones that were corrupt.
func (p auditPiece) MarkComplete() error {
	err := p.PieceImpl.MarkComplete()
	i := p.p.Index()
	p.ta.mu.Lock()
	old, ok := p.ta.bad[i]
	delete(p.ta.bad, i)
	p.ta.mu.Unlock()
	if !ok {
		return err
	}
	hs := blockHashes(p.PieceImpl, p.p.Length())
	for b := range hs {
		if b < len(old) && old[b] == hs[b] {
			continue
		}
		loc, ok := locatePiece(p.ta.info, i, int64(b)*merkle.BlockSize, merkle.BlockSize)
		if !ok {
			continue
		}
		p.ta.log.Warn("v2 corrupt block repaired", "infohash", p.ta.ih, "piece", i,
			"file", loc.File, "block", loc.FirstBlock, "bytes", rangeString(loc.Begin, loc.End))
	}
	return err
}

func rangeString(begin, end int64) string { return fmt.Sprintf("%d-%d", begin, end) }
