//go:build linux

package interop

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// TorrentInfo is what the harness needs from a .torrent file. It is read by
// a bencode scanner written here, independent of the engine's, so that a
// torrent our create verb writes is checked by a second reader.
type TorrentInfo struct {
	InfoHash    InfoHash
	Name        string
	PieceLength int64
	Pieces      int    // number of pieces
	Hashes      string // the v1 "pieces": 20-byte SHA-1 of each piece
	Length      int64  // total payload bytes
	Announce    string
	Private     bool
	Files       []TorrentFile // the v1 file list in order (one entry, Path nil, for a single file)
}

// TorrentFile is a file of a torrent's v1 list: its path components, its
// length and whether it is a BEP 47 pad file (attr "p").
type TorrentFile struct {
	Path   []string
	Length int64
	Pad    bool
}

// Magnet returns a tracker-less magnet URI for the torrent.
func (ti TorrentInfo) Magnet() string {
	return "magnet:?xt=urn:btih:" + ti.InfoHash.String() + "&dn=" + url.QueryEscape(ti.Name)
}

// ReadTorrent parses a .torrent file.
func ReadTorrent(path string) (TorrentInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return TorrentInfo{}, fmt.Errorf("cannot read torrent: %w", err)
	}
	ti, err := ParseTorrent(b)
	if err != nil {
		return ti, fmt.Errorf("cannot parse torrent %s: %w", path, err)
	}
	return ti, nil
}

// ParseTorrent parses the bytes of a .torrent file.
func ParseTorrent(b []byte) (TorrentInfo, error) {
	var ti TorrentInfo
	top, end, err := bdecode(b, 0)
	if err != nil {
		return ti, err
	}
	if end != len(b) {
		return ti, errors.New("trailing bytes after the top-level dict")
	}
	d, ok := top.(bdict)
	if !ok {
		return ti, errors.New("top level is not a dict")
	}
	ti.Announce, _ = d.vals["announce"].(string)
	span, ok := d.spans["info"]
	if !ok {
		return ti, errors.New("no info dict")
	}
	ti.InfoHash = sha1.Sum(b[span[0]:span[1]])
	info, ok := d.vals["info"].(bdict)
	if !ok {
		return ti, errors.New("info is not a dict")
	}
	ti.Name, _ = info.vals["name"].(string)
	ti.PieceLength, _ = info.vals["piece length"].(int64)
	pieces, _ := info.vals["pieces"].(string)
	if len(pieces)%20 != 0 || len(pieces) == 0 {
		return ti, errors.New("bad pieces field")
	}
	ti.Pieces = len(pieces) / 20
	ti.Hashes = pieces
	if p, _ := info.vals["private"].(int64); p == 1 {
		ti.Private = true
	}
	if n, ok := info.vals["length"].(int64); ok {
		ti.Length = n
		ti.Files = []TorrentFile{{Length: n}}
	} else {
		files, _ := info.vals["files"].([]any)
		for _, f := range files {
			fd, _ := f.(bdict)
			n, _ := fd.vals["length"].(int64)
			ti.Length += n
			tf := TorrentFile{Length: n}
			path, _ := fd.vals["path"].([]any)
			for _, c := range path {
				s, _ := c.(string)
				tf.Path = append(tf.Path, s)
			}
			attr, _ := fd.vals["attr"].(string)
			tf.Pad = strings.Contains(attr, "p")
			ti.Files = append(ti.Files, tf)
		}
	}
	if ti.PieceLength <= 0 || int64(ti.Pieces) != (ti.Length+ti.PieceLength-1)/ti.PieceLength {
		return ti, fmt.Errorf("%d pieces of %d bytes do not cover %d bytes", ti.Pieces, ti.PieceLength, ti.Length)
	}
	return ti, nil
}

// bdict is a decoded dict with the byte span of each value.
type bdict struct {
	vals  map[string]any
	spans map[string][2]int
}

const maxDepth = 64

func bdecode(b []byte, i int) (any, int, error) { return bdecodeDepth(b, i, 0) }

func bdecodeDepth(b []byte, i, depth int) (any, int, error) {
	if depth > maxDepth {
		return nil, i, errors.New("bencode nested too deep")
	}
	if i >= len(b) {
		return nil, i, errors.New("unexpected end of bencode")
	}
	switch c := b[i]; {
	case c == 'i':
		j := i + 1
		for j < len(b) && b[j] != 'e' {
			j++
		}
		if j >= len(b) {
			return nil, j, errors.New("unterminated integer")
		}
		n, err := strconv.ParseInt(string(b[i+1:j]), 10, 64)
		if err != nil {
			return nil, j, fmt.Errorf("bad integer at %d: %w", i, err)
		}
		return n, j + 1, nil
	case c >= '0' && c <= '9':
		j := i
		for j < len(b) && b[j] != ':' {
			j++
		}
		if j >= len(b) {
			return nil, j, errors.New("unterminated string length")
		}
		n, err := strconv.Atoi(string(b[i:j]))
		if err != nil || n < 0 || j+1+n > len(b) {
			return nil, j, fmt.Errorf("bad string length at %d", i)
		}
		return string(b[j+1 : j+1+n]), j + 1 + n, nil
	case c == 'l':
		var l []any
		j := i + 1
		for j < len(b) && b[j] != 'e' {
			v, next, err := bdecodeDepth(b, j, depth+1)
			if err != nil {
				return nil, next, err
			}
			l = append(l, v)
			j = next
		}
		if j >= len(b) {
			return nil, j, errors.New("unterminated list")
		}
		return l, j + 1, nil
	case c == 'd':
		d := bdict{vals: map[string]any{}, spans: map[string][2]int{}}
		j := i + 1
		for j < len(b) && b[j] != 'e' {
			k, next, err := bdecodeDepth(b, j, depth+1)
			if err != nil {
				return nil, next, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, next, fmt.Errorf("dict key at %d is not a string", j)
			}
			v, end, err := bdecodeDepth(b, next, depth+1)
			if err != nil {
				return nil, end, err
			}
			d.vals[key] = v
			d.spans[key] = [2]int{next, end}
			j = end
		}
		if j >= len(b) {
			return nil, j, errors.New("unterminated dict")
		}
		return d, j + 1, nil
	default:
		return nil, i, fmt.Errorf("bad bencode byte %q at %d", c, i)
	}
}
