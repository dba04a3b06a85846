package core

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/merkle"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"
	infohash_v2 "github.com/anacrolix/torrent/types/infohash-v2"
)

// Format is the BitTorrent version of an info dictionary: v1 (BEP 3,
// SHA-1 pieces), v2 (BEP 52, per-file SHA-256 merkle trees) or hybrid
// (both, over the same piece-aligned data).
type Format string

// The formats; FormatV1 is the default of CreateTorrent.
const (
	FormatV1     Format = "v1"
	FormatHybrid Format = "hybrid"
	FormatV2     Format = "v2"
)

// ParseFormat reads "v1", "hybrid" or "v2".
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatV1, FormatHybrid, FormatV2:
		return f, nil
	}
	return "", &InputError{What: "format", Value: s, Reason: "want v1, hybrid or v2"}
}

// InfoHashV2 is the SHA-256 of a v2 or hybrid info dictionary.
type InfoHashV2 [32]byte

// String returns the lower-case hex form.
func (h InfoHashV2) String() string { return hex.EncodeToString(h[:]) }

// Short is the v2 infohash truncated to 20 bytes, as a BEP 52 handshake
// carries it. It identifies a v2-only torrent here (PROTOCOL.md).
func (h InfoHashV2) Short() InfoHash { return InfoHash(h[:20]) }

func formatOf(info *metainfo.Info) Format {
	switch {
	case info.HasV2() && info.HasV1():
		return FormatHybrid
	case info.HasV2():
		return FormatV2
	}
	return FormatV1
}

// filePath is where file fi of info is stored under the torrent's data
// dir, as libtorrent (and so qBittorrent and Deluge) stores it: a v1
// single-file torrent is NAME, a multi-file one NAME/PATH; a v2 or hybrid
// file tree holding a single file at its root is that file alone (its key,
// which for a hybrid is NAME), any other tree is NAME/PATH. Pad files of a
// hybrid's v1 list are never stored: anacrolix works on the v2 files.
func filePath(info *metainfo.Info, fi *metainfo.FileInfo) string {
	if info.HasV2() && !v2SingleFile(info) || !info.HasV2() && len(info.Files) != 0 {
		return filepath.Join(append([]string{info.BestName()}, fi.BestPath()...)...)
	}
	if info.HasV2() {
		return filepath.Join(fi.BestPath()...)
	}
	return info.BestName()
}

// v2SingleFile reports whether the file tree is one file at its root.
func v2SingleFile(info *metainfo.Info) bool {
	if len(info.FileTree.Dir) != 1 {
		return false
	}
	for _, sub := range info.FileTree.Dir {
		return !sub.IsDir()
	}
	return false
}

// topLevel is the file or directory directly under the data dir that
// holds the torrent's data (what Move moves), and whether it is a
// directory.
func topLevel(info *metainfo.Info) (name string, dir bool) {
	if info.HasV2() {
		if v2SingleFile(info) {
			for k := range info.FileTree.Dir {
				return k, false
			}
		}
		return info.BestName(), true
	}
	return info.BestName(), info.IsDir()
}

// createFile is one payload file of a torrent being made.
type createFile struct {
	path   []string // relative to the root; nil when the root is the file
	length int64
}

// listFiles lists the regular files under root (or root itself), sorted
// as a v2 file tree orders them: by path component, byte-wise. Symlinks
// are followed, as anacrolix's v1 builder does.
func listFiles(root string) ([]createFile, error) {
	var files []createFile
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if fi, err = os.Stat(path); err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%q: symlink to a non-regular file is not supported", path)
			}
		}
		switch {
		case fi.IsDir():
			return nil
		case path == root:
			files = append(files, createFile{length: fi.Size()})
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files = append(files, createFile{path: strings.Split(rel, string(filepath.Separator)), length: fi.Size()})
		return nil
	})
	slices.SortFunc(files, func(a, b createFile) int { return slices.Compare(a.path, b.path) })
	return files, err
}

// buildV2 fills info (PieceLength set, Name set) for a v2 or hybrid torrent
// of the files under root and returns the piece layers. Each file is read
// once: its pieces feed the file's merkle tree and, for a hybrid, the v1
// SHA-1 of the same piece zero-padded to the piece length (BEP 47 pad
// files in the v1 list align every file to a piece, as BEP 52 requires).
func buildV2(info *metainfo.Info, root string, files []createFile, format Format) (map[string]string, error) {
	pl := info.PieceLength
	info.MetaVersion = 2
	info.FileTree = metainfo.FileTree{Dir: map[string]metainfo.FileTree{}}
	layers := map[string]string{}
	var v1Pieces []byte
	buf := make([]byte, pl)
	for _, f := range files {
		name := f.path
		if name == nil {
			name = []string{info.Name}
		}
		var v1 *[]byte // the v1 pieces a hybrid needs
		if format == FormatHybrid {
			v1 = &v1Pieces
		}
		// Every file of a multi-file hybrid is padded to a piece, the last
		// one too, as libtorrent does: the v1 pieces are then whole.
		last := f.path == nil
		root, pieceHashes, err := hashFile(filepath.Join(append([]string{root}, f.path...)...), f.length, buf, v1, last)
		if err != nil {
			return nil, err
		}
		leaf := metainfo.FileTree{File: metainfo.FileTreeFile{Length: f.length}}
		if f.length > 0 {
			leaf.File.PiecesRoot = string(root[:])
		}
		if len(pieceHashes) > 1 {
			var layer bytes.Buffer
			for _, h := range pieceHashes {
				layer.Write(h[:])
			}
			layers[string(root[:])] = layer.String()
		}
		insertFile(&info.FileTree, name, leaf)
		if format != FormatHybrid {
			continue
		}
		if f.path == nil {
			info.Length = f.length
			continue
		}
		info.Files = append(info.Files, metainfo.FileInfo{Path: f.path, Length: f.length})
		if pad := (pl - f.length%pl) % pl; pad != 0 {
			info.Files = append(info.Files, metainfo.FileInfo{
				Path:              []string{".pad", strconv.FormatInt(pad, 10)},
				Length:            pad,
				ExtendedFileAttrs: metainfo.ExtendedFileAttrs{Attr: "p"},
			})
		}
	}
	if format == FormatHybrid {
		info.Pieces = v1Pieces
	}
	return layers, nil
}

func insertFile(ft *metainfo.FileTree, path []string, leaf metainfo.FileTree) {
	for _, k := range path[:len(path)-1] {
		sub, ok := ft.Dir[k]
		if !ok {
			sub = metainfo.FileTree{Dir: map[string]metainfo.FileTree{}}
		}
		ft.Dir[k] = sub
		ft = &sub
		// sub shares its map with the entry just stored, so filling it
		// fills the tree.
	}
	ft.Dir[path[len(path)-1]] = leaf
}

// hashFile reads the file at path, length bytes, a piece (len(buf)) at a
// time. It returns the file's pieces root and the hash of each piece (the
// piece layer). With v1 set it appends each piece's SHA-1 there, the
// piece zero-padded to the piece length unless it ends the torrent (last).
func hashFile(path string, length int64, buf []byte, v1 *[]byte, last bool) (root [32]byte, pieces [][32]byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return root, nil, fmt.Errorf("cannot hash %s: %w", path, err)
	}
	defer f.Close()
	pl := int64(len(buf))
	var whole *merkle.Hash
	if length <= pl {
		whole = merkle.NewHash()
	}
	for off := int64(0); off < length; off += pl {
		n := min(pl, length-off)
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return root, nil, fmt.Errorf("cannot hash %s (changed while reading?): %w", path, err)
		}
		h := merkle.NewHash()
		h.Write(buf[:n])
		var ph [32]byte
		h.SumMinLength(ph[:0], int(pl))
		pieces = append(pieces, ph)
		if whole != nil {
			whole.Write(buf[:n])
		}
		if v1 != nil {
			end := pl
			if last && off+n == length {
				end = n
			}
			clear(buf[n:end])
			s := sha1.Sum(buf[:end])
			*v1 = append(*v1, s[:]...)
		}
	}
	switch {
	case length == 0:
	case whole != nil:
		whole.Sum(root[:0])
	default:
		root = merkle.RootWithPadHash(pieces, metainfo.HashForPiecePad(pl))
	}
	return root, pieces, nil
}

// checkInfo returns why the info dict cannot be used, or "".
func checkInfo(mi *metainfo.MetaInfo, info *metainfo.Info) string {
	pl := info.PieceLength
	switch {
	case pl <= 0:
		return "piece length is not positive"
	case info.MetaVersion > 2 || !info.HasV1() && !info.HasV2():
		return fmt.Sprintf("meta version %d is not supported (want 1, or 2 for BitTorrent v2)", info.MetaVersion)
	}
	if info.HasV2() {
		switch {
		case pl < merkle.BlockSize || pl&(pl-1) != 0:
			return fmt.Sprintf("v2 piece length %d is not a power of two of at least 16384", pl)
		case info.FileTree.NumEntries() == 0:
			return "v2 file tree is empty"
		}
		if err := info.FileTree.Validate(); err != nil {
			return "bad v2 file tree: " + err.Error()
		}
		// anacrolix v1.62.0 panics on an empty file in a v2 tree: on
		// adding the torrent when it follows a non-empty file
		// (Piece.mustGetOnlyFile), and on any peer's hash request that
		// reaches it (Torrent.getFileByPiecesRoot). Refuse rather than
		// crash.
		for f := range info.UpvertedFilesIter() {
			if f.Length == 0 {
				return fmt.Sprintf("BitTorrent v2 file tree has an empty file (%s): not supported yet (anacrolix/torrent v1.62.0 crashes on it)", strings.Join(f.BestPath(), "/"))
			}
		}
		// A .torrent carries the layers; metadata from peers does not
		// (anacrolix then asks peers for the hashes, BEP 52).
		if len(mi.PieceLayers) > 0 {
			if err := metainfo.ValidatePieceLayers(mi.PieceLayers, &info.FileTree, pl); err != nil {
				return "bad piece layers: " + err.Error()
			}
		}
	}
	if info.HasV1() {
		if len(info.Pieces)%20 != 0 {
			return "v1 piece hashes are not a multiple of 20 bytes"
		}
		var length int64
		for f := range info.UpvertedV1Files() {
			length += f.Length
		}
		have, want := len(info.Pieces)/20, int((length+pl-1)/pl)
		if have != want {
			return fmt.Sprintf("%d piece hashes for %d pieces", have, want)
		}
		if info.HasV2() && want != info.NumPieces() {
			return fmt.Sprintf("hybrid torrent has %d v1 pieces but %d v2 pieces (files not piece-aligned: missing BEP 47 padding?)", want, info.NumPieces())
		}
	}
	return ""
}

// createV2 fills info (PieceLength 0 chooses one) for a v2 or hybrid
// torrent of the file or directory at abs and returns its piece layers.
func createV2(info *metainfo.Info, abs string, format Format) (map[string]string, error) {
	files, err := listFiles(abs)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += f.length
	}
	if total == 0 {
		return nil, nil // the caller reports an empty payload
	}
	if info.PieceLength == 0 {
		info.PieceLength = metainfo.ChoosePieceLength(total)
	}
	info.Name = filepath.Base(abs)
	return buildV2(info, abs, files, format)
}

// addOpts returns the infohashes and metainfo anacrolix is given for the
// torrent keyed key: both infohashes of a hybrid, the v2 one alone for a
// v2-only torrent (its key is the truncated v2 infohash, which anacrolix
// derives itself), and the piece layers of a .torrent. A magnet gives what
// its xt parameters carry.
func addOpts(key InfoHash, tf *TorrentFile, magnet string) torrent.AddTorrentOpts {
	var o torrent.AddTorrentOpts
	switch {
	case tf != nil:
		o.InfoBytes, o.PieceLayers = tf.mi.InfoBytes, tf.mi.PieceLayers
		if tf.Format != FormatV2 {
			o.InfoHash = metainfo.Hash(key)
		}
		if tf.Format != FormatV1 {
			o.InfoHashV2.Set(infohash_v2.T(tf.InfoHashV2))
		}
		return o
	case magnet != "":
		// The metadata from peers is checked (checkInfo) before storage
		// is opened: see applyInfo.
		o.DeferStorageOpen = true
		if m, err := metainfo.ParseMagnetV2Uri(magnet); err == nil && m.V2InfoHash.Ok {
			o.InfoHash = m.InfoHash.UnwrapOrZeroValue()
			o.InfoHashV2 = m.V2InfoHash
			return o
		}
	}
	o.InfoHash = metainfo.Hash(key)
	o.DeferStorageOpen = magnet != ""
	return o
}

// encodeV2Info bencodes a v2 or hybrid info dict. anacrolix's file tree
// encoder writes "pieces root" for an empty file too, which BEP 52 (and
// libtorrent) leave out: the tree is encoded here instead.
func encodeV2Info(info *metainfo.Info) ([]byte, error) {
	b, err := bencode.Marshal(info)
	if err != nil {
		return nil, err
	}
	var d map[string]bencode.Bytes
	if err := bencode.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	if d["file tree"], err = bencode.Marshal(treeValue(info.FileTree)); err != nil {
		return nil, err
	}
	return bencode.Marshal(d)
}

func treeValue(ft metainfo.FileTree) map[string]any {
	if !ft.IsDir() {
		leaf := map[string]any{"length": ft.File.Length}
		if ft.File.Length > 0 {
			leaf["pieces root"] = ft.File.PiecesRoot
		}
		return map[string]any{"": leaf}
	}
	d := make(map[string]any, len(ft.Dir))
	for k, sub := range ft.Dir {
		d[k] = treeValue(sub)
	}
	return d
}

// openDeferred opens the storage of a torrent added from a magnet, now
// that its metadata is known, unless the metadata is unusable (parseErr,
// from ParseTorrentFile): then the torrent stops with that error rather
// than hand anacrolix an info it may crash on. It reports whether the
// torrent is still running.
func (e *Engine) openDeferred(ts *tstate, parseErr error) bool {
	ts.deferred = false
	err := parseErr
	if err == nil && ts.tf.InfoHash != ts.ih {
		// A urn:btmh magnet alone of what is a hybrid torrent: it is
		// known (market, gates, limits, anacrolix) by its v1 infohash,
		// which this record is not keyed by (PROTOCOL.md §7.4).
		err = fmt.Errorf("the magnet names a hybrid torrent by its v2 infohash only: add it as magnet:?xt=urn:btih:%s", ts.tf.InfoHash)
	}
	if err == nil {
		err = ts.t.OpenStorage(e.gctx, nil)
	}
	if err == nil {
		return true
	}
	ts.err = "cannot use the torrent's metadata: " + err.Error()
	e.log.Error("metadata refused", "infohash", ts.rec.InfoHash, "err", err)
	e.stop(ts)
	return false
}

// installEmptyFileGuard chains, in front of cb.ReadMessage, a guard for
// torrents added by magnet whose metadata turns out to be a v2 tree with
// an empty file (refused by checkInfo, but only once applyInfo runs):
// until then anacrolix v1.62.0 already asks peers for piece hashes, and
// it panics on their answer, or on a peer's own hash request, when the
// file list it walks reaches the empty file (Torrent.getFileByPiecesRoot
// unwraps its absent pieces root). Such messages are read as keep-alives.
func installEmptyFileGuard(cb *torrent.Callbacks) {
	prev := cb.ReadMessage
	cb.ReadMessage = func(pc *torrent.PeerConn, m *pp.Message) {
		if !m.Keepalive && (m.Type == pp.Hashes || m.Type == pp.HashRequest) {
			if t := pc.Torrent(); t != nil && hasEmptyV2File(t.Info()) {
				*m = pp.Message{Keepalive: true}
			}
		}
		if prev != nil {
			prev(pc, m)
		}
	}
}

// hasEmptyV2File reports whether info's v2 file tree has an empty file.
func hasEmptyV2File(info *metainfo.Info) bool {
	if info == nil || !info.HasV2() {
		return false
	}
	for f := range info.UpvertedFilesIter() {
		if f.Length == 0 {
			return true
		}
	}
	return false
}
