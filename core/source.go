package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	infohash_v2 "github.com/anacrolix/torrent/types/infohash-v2"

	"github.com/bidtorrent/bidtorrent/core/market"
)

// maxTorrentFile bounds a .torrent read from disk or the network.
const maxTorrentFile = 64 << 20

// TorrentFile is a parsed .torrent (metainfo) file.
type TorrentFile struct {
	// InfoHash identifies the torrent here, in the market and in BEP 3
	// handshakes: the v1 infohash (SHA-1 of the info dict) of a v1 or
	// hybrid torrent, the v2 infohash truncated to 20 bytes of a v2-only
	// one (InfoHashV2.Short()).
	InfoHash    InfoHash
	InfoHashV2  InfoHashV2 // SHA-256 of the info dict; zero for v1
	Format      Format
	Name        string
	Size        int64
	PieceLength int64
	NumPieces   int
	Files       []string // slash-separated paths
	Bytes       []byte   // the bencoded file
	mi          *metainfo.MetaInfo
	info        metainfo.Info
}

// Magnet returns a magnet URI with the name, trackers and web seeds, and
// the infohashes the format has: urn:btih for v1, urn:btmh for v2, both for
// a hybrid.
func (t *TorrentFile) Magnet() string {
	m, err := t.mi.MagnetV2()
	if err != nil { // t.mi parsed once already
		panic("metainfo no longer parses: " + err.Error())
	}
	if len(m.Params["ws"]) == 0 {
		delete(m.Params, "ws")
	}
	return m.String()
}

// ParseTorrentFile parses a bencoded .torrent. what names the input in
// errors (a path or URL).
func ParseTorrentFile(b []byte, what string) (*TorrentFile, error) {
	var raw any
	if err := bencode.Unmarshal(b, &raw); err != nil {
		if len(b) == 0 || b[0] != 'd' {
			return nil, &InputError{What: "torrent file", Value: what, Reason: "not a torrent (not bencoded data)"}
		}
		return nil, &InputError{What: "torrent file", Value: what, Reason: "corrupt bencode: " + err.Error()}
	}
	d, ok := raw.(map[string]any)
	if !ok {
		return nil, &InputError{What: "torrent file", Value: what, Reason: "not a torrent (bencoded, but not a dictionary)"}
	}
	if _, ok := d["info"].(map[string]any); !ok {
		return nil, &InputError{What: "torrent file", Value: what, Reason: "not a torrent (no info dictionary)"}
	}
	if cap(b) > len(b)+len(b)/8 {
		b = bytes.Clone(b) // io.ReadAll's slack would live as long as the torrent
	}
	mi, err := metainfo.Load(bytes.NewReader(b))
	if err != nil {
		return nil, &InputError{What: "torrent file", Value: what, Reason: "corrupt metainfo: " + err.Error()}
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, &InputError{What: "torrent file", Value: what, Reason: "corrupt info dictionary: " + err.Error()}
	}
	if reason := checkInfo(mi, &info); reason != "" {
		return nil, &InputError{What: "torrent file", Value: what, Reason: reason}
	}
	tf := &TorrentFile{
		InfoHash:    InfoHash(mi.HashInfoBytes()),
		Format:      formatOf(&info),
		Name:        info.BestName(),
		Size:        info.TotalLength(),
		PieceLength: info.PieceLength,
		NumPieces:   info.NumPieces(),
		Bytes:       b,
		mi:          mi,
		info:        info,
	}
	if info.HasV2() {
		tf.InfoHashV2 = InfoHashV2(infohash_v2.HashBytes(mi.InfoBytes))
		if !info.HasV1() {
			tf.InfoHash = tf.InfoHashV2.Short()
		}
	}
	for _, f := range info.UpvertedFiles() {
		tf.Files = append(tf.Files, strings.Join(f.BestPath(), "/"))
	}
	tf.trim()
	return tf, nil
}

// trim drops what a torrent kept for as long as it is in the engine
// would hold twice (issue 19: at 1,000 pieces, 20 KiB each copy): the
// info dict's bytes are shared with Bytes (anacrolix keeps the slice
// given to it as well), and the v1 piece hashes, checked by now, are
// dropped from info (anacrolix keeps its own; info serves paths and
// sizes). Re-read them with mi.UnmarshalInfo.
func (t *TorrentFile) trim() {
	n := len(t.mi.InfoBytes)
	if i := bytes.Index(t.Bytes, t.mi.InfoBytes); i >= 0 {
		t.mi.InfoBytes = t.Bytes[i : i+n : i+n]
	}
	t.info.Pieces = nil
}

// LoadTorrentFile reads and parses a .torrent file.
func LoadTorrentFile(path string) (*TorrentFile, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return ParseTorrentFile(b, path)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read torrent file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, &InputError{What: "torrent file", Value: path, Reason: "is a directory"}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTorrentFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read torrent file: %w", err)
	}
	if len(b) > maxTorrentFile {
		return nil, &InputError{What: "torrent file", Value: path, Reason: "larger than 64 MiB"}
	}
	return b, nil
}

// CreateOptions describes a .torrent to make.
type CreateOptions struct {
	Path        string // file or directory
	PieceLength int64  // 0 chooses one from the size
	Trackers    []string
	WebSeeds    []string
	Private     bool
	Comment     string
	CreatedBy   string
	Terms       *market.Terms // publisher terms spliced into the info dict (terms.go); nil: none
	Format      Format        // "" is FormatV1
}

// CreateTorrent hashes the file or directory at opts.Path and returns the
// .torrent. Each tracker is its own tier.
func CreateTorrent(opts CreateOptions) (*TorrentFile, error) {
	pl := opts.PieceLength
	if pl != 0 && (pl < 16<<10 || pl > 64<<20 || pl&(pl-1) != 0) {
		return nil, &InputError{What: "piece length", Value: fmt.Sprint(pl), Reason: "want a power of two from 16384 (16 KiB) to 67108864 (64 MiB)"}
	}
	for _, tr := range opts.Trackers {
		if err := checkTrackerURL(tr); err != nil {
			return nil, err
		}
	}
	for _, ws := range opts.WebSeeds {
		if !strings.HasPrefix(ws, "http://") && !strings.HasPrefix(ws, "https://") {
			return nil, &InputError{What: "web seed URL", Value: ws, Reason: "want http:// or https://"}
		}
	}
	fi, err := os.Stat(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", opts.Path, errors.Unwrap(err))
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return nil, &InputError{What: "path", Value: opts.Path, Reason: "not a regular file or directory"}
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve %s: %w", opts.Path, err)
	}
	info := metainfo.Info{PieceLength: pl}
	if opts.Private {
		t := true
		info.Private = &t
	}
	var layers map[string]string
	switch opts.Format {
	case "", FormatV1:
		if err := info.BuildFromFilePath(abs); err != nil {
			return nil, fmt.Errorf("cannot hash %s: %w", opts.Path, err)
		}
	case FormatHybrid, FormatV2:
		if layers, err = createV2(&info, abs, opts.Format); err != nil {
			return nil, fmt.Errorf("cannot hash %s: %w", opts.Path, err)
		}
	default:
		return nil, &InputError{What: "format", Value: string(opts.Format), Reason: "want v1, hybrid or v2"}
	}
	if info.TotalLength() == 0 {
		return nil, &InputError{What: "path", Value: opts.Path, Reason: "has no data (empty file or no files)"}
	}
	mi := &metainfo.MetaInfo{
		PieceLayers:  layers,
		CreationDate: time.Now().Unix(),
		Comment:      opts.Comment,
		CreatedBy:    opts.CreatedBy,
		UrlList:      opts.WebSeeds,
	}
	if len(opts.Trackers) > 0 {
		mi.Announce = opts.Trackers[0]
		for _, tr := range opts.Trackers {
			mi.AnnounceList = append(mi.AnnounceList, []string{tr})
		}
	}
	if info.HasV2() {
		mi.InfoBytes, err = encodeV2Info(&info)
	} else {
		mi.InfoBytes, err = bencode.Marshal(info)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot encode info dictionary: %w", err)
	}
	if opts.Terms != nil {
		if mi.InfoBytes, err = SpliceTerms(mi.InfoBytes, *opts.Terms); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		return nil, fmt.Errorf("cannot encode torrent: %w", err)
	}
	return ParseTorrentFile(buf.Bytes(), opts.Path)
}

// source is an AddSpec.Source resolved to a torrent file or a magnet.
type source struct {
	ih       InfoHash
	tf       *TorrentFile // nil for a magnet
	magnet   string
	name     string
	trackers []string
	peers    []string
}

// resolveSource reads a .torrent path, fetches an http(s) URL or parses a
// magnet URI. It does I/O; never call it from the engine loop.
func resolveSource(ctx context.Context, s string) (*source, error) {
	switch {
	case s == "":
		return nil, &InputError{What: "source", Value: s, Reason: "empty; want a .torrent path, magnet URI or URL"}
	case strings.HasPrefix(s, "magnet:"):
		m, err := metainfo.ParseMagnetV2Uri(s)
		if err == nil && !m.InfoHash.Ok && !m.V2InfoHash.Ok {
			err = errors.New("no xt")
		}
		if err != nil {
			reason := err.Error()
			if strings.Contains(reason, "infohash") || strings.Contains(reason, "xt") {
				reason = "want xt=urn:btih:<40 hex or 32 base32 digits> or xt=urn:btmh:1220<64 hex digits> (or both)"
			}
			return nil, &InputError{What: "magnet", Value: s, Reason: reason}
		}
		// Keyed like a TorrentFile: by the v1 infohash when the magnet
		// has one, else by the truncated v2 one.
		ih := InfoHash(m.InfoHash.Value)
		if !m.InfoHash.Ok {
			ih = InfoHashV2(m.V2InfoHash.Value).Short()
		}
		src := &source{ih: ih, magnet: s, name: m.DisplayName, trackers: m.Trackers}
		src.peers = m.Params["x.pe"]
		return src, nil
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		b, err := fetchTorrent(ctx, s)
		if err != nil {
			return nil, err
		}
		tf, err := ParseTorrentFile(b, s)
		if err != nil {
			return nil, err
		}
		return &source{ih: tf.InfoHash, tf: tf, name: tf.Name}, nil
	default:
		tf, err := LoadTorrentFile(s)
		if err != nil {
			return nil, err
		}
		return &source{ih: tf.InfoHash, tf: tf, name: tf.Name}, nil
	}
}

func fetchTorrent(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &InputError{What: "URL", Value: u, Reason: err.Error()}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return nil, fmt.Errorf("cannot fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot fetch %s: HTTP %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTorrentFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot fetch %s: %w", u, err)
	}
	if len(b) > maxTorrentFile {
		return nil, &InputError{What: "torrent file", Value: u, Reason: "larger than 64 MiB"}
	}
	return b, nil
}
