package core

import (
	"bytes"
	"errors"
	"fmt"
	g "github.com/anacrolix/generics"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/storage"
	"github.com/anacrolix/torrent/types"
	"golang.org/x/time/rate"

	"github.com/bidtorrent/bidtorrent/core/market"
)

// tstate is one torrent as the loop sees it. Only the loop touches it.
type tstate struct {
	ih       InfoHash // rec.InfoHash, parsed once by newState
	rec      *record
	tf       *TorrentFile     // nil until the metainfo is known
	t        *torrent.Torrent // nil while paused
	applied  bool             // file priorities applied to t
	deferred bool             // t's storage opens once its metadata passes checkInfo (bep52.go)
	trackers []string
	name     string
	err      string
	checking int  // rechecks running
	parked   bool // out of the client, complete and quiet (park.go)
	// ownAnnounce: the announcer of parked torrents announces it, not
	// anacrolix (complete when its data was checked, or parked; park.go)
	ownAnnounce bool
	activeAt    time.Time    // last seen with peers or work, or started (park.go)
	moving      bool         // Move in progress
	missing     []layoutFile // recorded files found missing at start (filecheck.go)
	// announcePending holds back the trackers until the data on disk has
	// been checked, so the first announce states what is really left.
	announcePending bool

	down, up *rate.Limiter // per-torrent limits, also in sh
	sh       *tshared      // what callbacks see of it (Engine.shared)

	// Counters of the current anacrolix torrent and rates.
	sessDown, sessUp int64
	// Payload moved this session by earlier anacrolix torrents of ts
	// (before a pause or a park), for the session totals.
	earlierDown, earlierUp int64
	downRate, upRate       float64
	peers                  map[*torrent.PeerConn]*peerRate
	seq                    map[int]types.PiecePriority // pieces raised for sequential download

	idle // what poll needs to skip work for an unchanged torrent (poll.go)

	terms       *market.Terms // publisher terms, read once the metainfo is known (gate.go)
	termsParsed bool
	policyErr   string             // the last trade policy error logged (market_loop.go)
	redials     map[string]*redial // explicit peers' redial backoff (redial.go)
}

type peerRate struct {
	down, up         int64
	downRate, upRate float64
}

// downloaded and uploaded are all-time payload totals.
func (ts *tstate) downloaded() int64 { return ts.rec.Downloaded + ts.sessDown }
func (ts *tstate) uploaded() int64   { return ts.rec.Uploaded + ts.sessUp }

// fileStorage returns anacrolix's file storage for torrents under dir, with
// mmap off: the mmap implementation fails writes to chunks that touch a
// zero-length file (EINVAL), and a file changed by another program under a
// mapping would crash the process (SIGBUS) when seeding the user's own
// files. Part files are off too: with them an incomplete file is NAME.part,
// a seeded file that does not match is renamed under the user, completed
// files are made read-only, and promoting a .part file closes it under
// concurrent writes ("file already closed" failed about 1 in 20 downloads
// of 256 MiB). Files keep their real names from the first byte.
func (e *Engine) fileStorage(dir string) storage.ClientImplCloser {
	return blockAudit{log: e.log, ClientImplCloser: storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir:   dir,
		PieceCompletion: watchedCompletion{e.pc, e}, // pokes the torrent (poll.go)
		DisableMmap:     true,
		UsePartFiles:    g.Some(false),
		Logger:          e.log,
		// libtorrent's layout, also for v2 single-file torrents (bep52.go)
		FilePathMaker: func(o storage.FilePathMakerOpts) string { return filePath(o.Info, o.File) },
	})} // blockAudit: v2 hash failures pinned to file and block (bep52_audit.go)
}

// storageFor returns the file storage of torrents under dir, one per
// dir: anacrolix keeps state per storage (its piece request order), so a
// storage per torrent cost every torrent ~300 B more, parked or not.
func (e *Engine) storageFor(dir string) storage.ClientImpl {
	dir = filepath.Clean(dir)
	s, ok := e.storages[dir]
	if !ok {
		s = e.fileStorage(dir)
		e.storages[dir] = s
	}
	return s
}

// start adds the torrent to the anacrolix client (unless paused).
func (e *Engine) start(ts *tstate) error {
	if ts.t != nil || ts.rec.Paused {
		return nil
	}
	if ok, err := e.checkStart(ts); !ok || err != nil {
		return err // a missing file: ts.err says which (filecheck.go)
	}
	// A paid torrent is gated before anacrolix can take any connection.
	e.learnTerms(ts)
	opts := addOpts(ts.ih, ts.tf, ts.rec.Magnet)
	opts.Storage = e.storageFor(ts.rec.DataDir)
	t, _ := e.cl.AddTorrentOpt(opts)
	t.SetMaxEstablishedConns(e.cfg.MaxPeersPerTorrent) // see clientConfig
	ts.t = t
	ts.deferred = opts.DeferStorageOpen
	// A storage error (disk full, permissions) stops the download and
	// shows as the torrent's error; Resume retries. anacrolix calls this
	// on a goroutine of its own, without its lock.
	t.SetOnWriteChunkError(func(err error) {
		t.DisallowDataDownload()
		e.post(func() {
			if ts.t == t && ts.err == "" {
				ts.touch()
				ts.err = "cannot write data: " + err.Error()
				e.log.Error("storage error", "infohash", ts.rec.InfoHash, "err", err)
			}
		})
	})
	ts.touch()
	ts.activeAt = time.Now()
	ts.applied = false
	ts.sessDown, ts.sessUp = 0, 0
	ts.peers = make(map[*torrent.PeerConn]*peerRate)
	ts.seq = nil
	if ts.tf != nil && len(ts.tf.mi.UrlList) > 0 {
		t.AddWebSeeds(ts.tf.mi.UrlList)
	}
	// With the info known, existing data is hashed first (our completion
	// store holds no record for data we did not download): announcing now
	// would tell trackers we have nothing, and anacrolix sends no
	// "completed" for data it found rather than fetched, so peers would
	// learn we seed only at the next interval (~30 min). A magnet needs
	// peers for its metadata and announces at once.
	ts.announcePending = ts.tf != nil
	if !ts.announcePending {
		addTrackers(ts)
	}
	e.addPeers(ts, ts.rec.Peers)
	e.applyInfo(ts)
	if ts.tf == nil {
		e.gateOnInfo(t)
	}
	return nil
}

// addTrackers hands the torrent's trackers to anacrolix, a tier each.
func addTrackers(ts *tstate) {
	if len(ts.trackers) == 0 {
		return
	}
	tiers := make([][]string, len(ts.trackers))
	for i, tr := range ts.trackers {
		tiers[i] = []string{tr}
	}
	ts.t.AddTrackers(tiers)
}

// stop drops the torrent from the client, folding its counters into the
// record.
func (e *Engine) stop(ts *tstate) {
	if ts.t == nil {
		return
	}
	e.updateCounters(ts)
	wrote := ts.sessDown > 0
	ts.rec.Downloaded += ts.sessDown
	ts.rec.Uploaded += ts.sessUp
	ts.earlierDown += ts.sessDown
	ts.earlierUp += ts.sessUp
	ts.sessDown, ts.sessUp = 0, 0
	ts.t.Drop()
	ts.t = nil
	ts.counted, ts.mapped = nil, nil // nothing holds the dropped torrent (park.go)
	if wrote {
		e.restamp(ts) // our own writes since the last verified piece (filecheck.go)
	}
	ts.touch()
	ts.downRate, ts.upRate = 0, 0
	ts.peers = nil
}

func (e *Engine) addPeers(ts *tstate, addrs []string) {
	if ts.t == nil || len(addrs) == 0 {
		return
	}
	pis := make([]torrent.PeerInfo, len(addrs))
	for i, a := range addrs {
		pis[i] = torrent.PeerInfo{Addr: torrent.StringAddr(a), Source: torrent.PeerSourceDirect, Trusted: true}
	}
	ts.t.AddPeers(pis)
}

// applyInfo runs once the info dict is known: it records the metainfo
// (for magnets) and applies file priorities.
func (e *Engine) applyInfo(ts *tstate) {
	if ts.t == nil || ts.applied || ts.t.Info() == nil {
		return
	}
	var parseErr error
	if ts.tf == nil {
		mi := ts.t.Metainfo()
		var buf bytes.Buffer
		if parseErr = mi.Write(&buf); parseErr == nil {
			if tf, err := ParseTorrentFile(buf.Bytes(), ts.rec.InfoHash); err == nil {
				ts.tf = tf
				e.pc.layouts.m.Store(ts.ih, newLayout(tf, ts.rec.DataDir)) // file stamps (filecheck.go)
				ts.rec.MetaInfo = tf.Bytes
				ts.name = tf.Name
				e.indexKeys(ts)
				e.saveRecord(ts)
				e.learnTerms(ts)
			} else {
				parseErr = err
				e.log.Warn("metadata does not parse", "infohash", ts.rec.InfoHash, "err", err)
			}
		}
	}
	if ts.deferred && !e.openDeferred(ts, parseErr) {
		return
	}
	files := ts.t.Files()
	if len(ts.rec.Priorities) != len(files) {
		ts.rec.Priorities = make([]Priority, len(files))
	}
	for i, f := range files {
		f.SetPriority(piecePriority(ts.rec.Priorities[i]))
	}
	ts.applied = true
	e.applySequential(ts)
}

func piecePriority(p Priority) types.PiecePriority {
	switch p {
	case PrioritySkip:
		return types.PiecePriorityNone
	case PriorityHigh:
		return types.PiecePriorityHigh
	}
	return types.PiecePriorityNormal
}

// applySequential raises the next missing wanted pieces, in tiers that
// fall with distance (anacrolix requests higher priorities first; within
// one priority the order is its own), so pieces arrive roughly front to
// back while enough stay requested to keep the link busy.
func (e *Engine) applySequential(ts *tstate) {
	if ts.t == nil || !ts.applied || !ts.rec.Sequential && len(ts.seq) == 0 {
		return
	}
	next := map[int]types.PiecePriority{}
	if ts.rec.Sequential {
		n := ts.t.NumPieces()
		for i := 0; i < n && len(next) < 32; i++ {
			st := ts.t.Piece(i).State()
			_, raised := ts.seq[i]
			if st.Complete || st.Priority == types.PiecePriorityNone && !raised {
				continue
			}
			switch k := len(next); {
			case k < 4:
				next[i] = types.PiecePriorityNow
			case k < 8:
				next[i] = types.PiecePriorityNext
			case k < 16:
				next[i] = types.PiecePriorityReadahead
			default:
				next[i] = types.PiecePriorityHigh
			}
		}
	}
	for i := range ts.seq {
		if _, ok := next[i]; !ok {
			ts.t.Piece(i).SetPriority(types.PiecePriorityNone)
		}
	}
	for i, p := range next {
		if ts.seq[i] != p {
			ts.t.Piece(i).SetPriority(p)
		}
	}
	ts.seq = next
}

// updateCounters reads the torrent's payload counters.
func (e *Engine) updateCounters(ts *tstate) {
	if ts.t == nil {
		return
	}
	st := ts.t.Stats()
	ts.sessDown = st.BytesReadUsefulData.Int64()
	ts.sessUp = st.BytesWrittenData.Int64()
}

func (ts *tstate) prio(i int) Priority {
	if i < len(ts.rec.Priorities) {
		return ts.rec.Priorities[i]
	}
	return PriorityNormal
}

func ratio(up, size int64) float64 {
	if size <= 0 {
		return 0
	}
	return float64(up) / float64(size)
}

// ewma folds n bytes over dt into a smoothed rate (bytes per second).
func ewma(prev float64, n int64, dt time.Duration) float64 {
	if dt <= 0 {
		return prev
	}
	r := float64(n) / dt.Seconds()
	return 0.5*prev + 0.5*r
}

// recheck hashes every piece again (in the background).
func (e *Engine) recheck(ts *tstate) error {
	if ts.t == nil && len(ts.missing) > 0 {
		// The user's answer to missing files: download them again.
		if err := e.resolveMissing(ts); err != nil {
			return err
		}
		if err := e.start(ts); err != nil || ts.t == nil {
			return err
		}
	}
	if ts.t == nil {
		return errors.New("torrent is paused: resume it first")
	}
	if ts.t.Info() == nil {
		return errors.New("torrent has no metadata yet")
	}
	t := ts.t
	ts.checking++
	e.g.Go(func() error {
		err := t.VerifyDataContext(e.gctx)
		e.post(func() {
			ts.touch()
			ts.checking--
			if err != nil && e.gctx.Err() == nil && ts.t == t {
				e.log.Warn("recheck failed", "infohash", ts.rec.InfoHash, "err", err)
			}
		})
		return nil
	})
	return nil
}

// deleteData removes the torrent's files (and part files) under its data
// dir, and forgets their piece completion. Only call it after stop.
func (e *Engine) deleteData(ts *tstate) error {
	if ts.tf == nil {
		return nil
	}
	if err := e.pc.forget(ts.ih); err != nil {
		e.log.Warn("forgetting piece completion", "err", err)
	}
	root := ts.rec.DataDir
	var errs []error
	var dirs []string
	for _, f := range ts.tf.info.UpvertedFiles() {
		p := filepath.Join(root, filePath(&ts.tf.info, &f))
		if !strings.HasPrefix(p, filepath.Clean(root)+string(filepath.Separator)) {
			continue // never outside the data dir
		}
		for _, q := range []string{p, p + ".part"} {
			if err := os.Remove(q); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		for d := filepath.Dir(p); d != filepath.Clean(root) && strings.HasPrefix(d, root); d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	// Remove emptied directories, deepest first.
	for i := 0; i < len(dirs); i++ {
		for j := i + 1; j < len(dirs); j++ {
			if len(dirs[j]) > len(dirs[i]) {
				dirs[i], dirs[j] = dirs[j], dirs[i]
			}
		}
	}
	for _, d := range dirs {
		_ = os.Remove(d) // fails harmlessly when not empty
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot delete data of %s: %w", ts.name, err)
	}
	return nil
}
