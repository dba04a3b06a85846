package core

// A torrent's snapshot, with work proportional to change (issue 19). A
// torrent nothing happened to since its last poll (no peer connection,
// nothing hashing or queued, no command, no callback) is not polled at
// all: its last value stands, and the snapshot shares the previous one's
// Torrents slice while no torrent changed. What can change a torrent
// reaches it as a poke: anacrolix's callbacks (a peer connection added
// or closed, a tracker event) and our piece-completion store (a piece
// verified or failed) bump its tshared counters; the loop's own changes
// (commands, background work reporting back, start and stop) call touch.
// A poked torrent is polled in full for hotFor. A full poll reads the
// byte counters only while the torrent has or had peer connections, and
// rebuilds the piece map and per-file progress only while they may
// change, reusing the previous slices when they come out the same.

import (
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"golang.org/x/time/rate"
)

const (
	// hotFor is how long a torrent is polled in full after a change:
	// anacrolix records a verified piece in our completion store before
	// its own piece state, so the poll right after the poke may not see
	// it yet.
	hotFor = 2 * time.Second
	// idleRefresh is how often every idle torrent is polled in full
	// anyway, all in one tick: what no event reports (a tracker host's
	// dial outcome, a campaign's deadline, settled amounts) is at most
	// this old in the snapshot.
	idleRefresh = 30 * time.Second
)

// tshared is what anacrolix's callbacks see of a torrent (Engine.shared,
// by InfoHash): its limiters and the counters they bump.
type tshared struct {
	down, up *rate.Limiter
	changes  atomic.Uint32 // any change: a connection, a piece verified, a tracker event
	conns    atomic.Uint32 // a peer connection added or closed
}

// idle is what poll keeps to skip the work for an unchanged torrent.
// Owned by the loop.
type idle struct {
	last      *Torrent         // the published value (in the latest snapshot's slice); nil before the first poll
	seen      uint32           // sh.changes at the last poll
	seenConns uint32           // sh.conns when the counters were last read
	hotUntil  time.Time        // poll in full until then
	busy      bool             // the last poll found the torrent active (peers, hashing, ...)
	hashing   bool             // the last piece map had pieces queued or hashing
	counted   *torrent.Torrent // the anacrolix torrent the counters were last read from
	mapped    *torrent.Torrent // the anacrolix torrent the piece map was last built from
	// savedDown and savedUp are the totals in the stored record
	// (persistAll writes only records whose totals moved).
	savedDown, savedUp int64
}

// touch marks the torrent changed by the loop: it is polled in full on
// the next ticks.
func (ts *tstate) touch() { ts.hotUntil = time.Now().Add(hotFor) }

// quiet reports whether the torrent can keep its last value at now:
// nothing poked it within hotFor and its last poll found it inactive.
func (ts *tstate) quiet(now time.Time) bool {
	if c := ts.sh.changes.Load(); c != ts.seen {
		ts.seen = c
		ts.hotUntil = now.Add(hotFor)
	}
	return ts.last != nil && !ts.busy && !now.Before(ts.hotUntil)
}

// poke records a change of torrent ih from a callback (any goroutine,
// anacrolix's lock possibly held: atomics only). conn: a peer connection
// was added or closed.
func (e *Engine) poke(ih InfoHash, conn bool) {
	v, ok := e.shared.Load(ih)
	if !ok {
		return
	}
	sh := v.(*tshared)
	if conn {
		sh.conns.Add(1)
	}
	sh.changes.Add(1)
}

// watchedCompletion is the piece-completion store that pokes a torrent
// whenever one of its pieces is recorded verified or not.
type watchedCompletion struct {
	completionDB
	e *Engine
}

func (w watchedCompletion) Set(pk metainfo.PieceKey, complete g.Option[bool]) error {
	err := w.completionDB.Set(pk, complete)
	w.e.poke(InfoHash(pk.InfoHash), false)
	return err
}

// poll refreshes ts from the client and returns its snapshot. dt is the
// time since the last poll.
func (e *Engine) poll(ts *tstate, dt time.Duration, now time.Time) Torrent {
	prev := ts.last
	if prev == nil {
		prev = &Torrent{}
	}
	ih := ts.ih
	out := Torrent{
		InfoHash:   ih,
		Name:       ts.name,
		Labels:     reuse(prev.Labels, ts.rec.Labels),
		AddedAt:    ts.rec.AddedAt,
		Err:        ts.err,
		Sequential: ts.rec.Sequential,
		Limits:     ts.rec.Limits,
		DataDir:    ts.rec.DataDir,
		Market:     TorrentMarket{MarketPolicy: ts.rec.Market.policy()},
	}
	e.learnTerms(ts)
	out.Terms = ts.terms
	if ts.tf != nil {
		out.Format, out.InfoHashV2 = ts.tf.Format, ts.tf.InfoHashV2
	}
	out.Trackers = e.pollTrackers(ts, prev.Trackers)
	if ts.t == nil && ts.parked {
		return e.pollParked(ts, prev, out)
	}
	if ts.t == nil {
		// Paused: keep the last known progress.
		ts.busy, ts.hashing = ts.moving, false
		out.Size, out.Done = prev.Size, prev.Done
		out.PieceLength, out.NumPieces = prev.PieceLength, prev.NumPieces
		out.Pieces, out.Files = prev.Pieces, prev.Files
		if ts.tf != nil && out.NumPieces == 0 {
			out.PieceLength, out.NumPieces = ts.tf.PieceLength, ts.tf.NumPieces
			out.Size = ts.tf.Size
			out.Files = ts.metaFiles()
		}
		out.Files = ts.withPriorities(out.Files)
		out.Downloaded, out.Uploaded = ts.downloaded(), ts.uploaded()
		out.State = StatePaused
		if ts.err != "" {
			out.State = StateError
		}
		out.Ratio = ratio(out.Uploaded, out.Size)
		return out
	}
	e.applyInfo(ts)
	if ts.t == nil {
		return e.poll(ts, dt, now) // applyInfo stopped it: metadata refused (bep52.go)
	}
	t := ts.t
	e.applySequential(ts)
	// Bytes move only through peer connections (and web seeds): the
	// counters are read while the torrent has or had some.
	webSeeds := ts.tf != nil && len(ts.tf.mi.UrlList) > 0
	conns := ts.sh.conns.Load()
	live := prev.PeerCount > 0 || conns != ts.seenConns || ts.counted != t || webSeeds
	var downDelta, upDelta int64
	if live {
		ts.seenConns, ts.counted = conns, t
		prevDown, prevUp := ts.sessDown, ts.sessUp
		e.updateCounters(ts)
		downDelta, upDelta = ts.sessDown-prevDown, ts.sessUp-prevUp
	}
	ts.downRate = ewma(ts.downRate, downDelta, dt)
	ts.upRate = ewma(ts.upRate, upDelta, dt)
	out.DownRate, out.UpRate = int64(ts.downRate), int64(ts.upRate)
	out.Downloaded, out.Uploaded = ts.downloaded(), ts.uploaded()

	info := t.Info()
	if info != nil {
		// The piece map changes when a piece is hashed (a poke: hot),
		// while data arrives, or while a check runs.
		stale := ts.mapped != t || now.Before(ts.hotUntil) || ts.checking > 0 || ts.hashing || downDelta != 0 || prev.NumPieces == 0
		if stale {
			ts.mapped = t
			e.pollPieces(ts, t, info, prev, &out)
		} else {
			out.Name, out.PieceLength, out.NumPieces = prev.Name, prev.PieceLength, prev.NumPieces
			out.Pieces, out.Files, out.Size, out.Done = prev.Pieces, prev.Files, prev.Size, prev.Done
		}
	}
	if live {
		e.pollPeers(ts, &out, dt)
	}
	if ts.announcePending && info != nil && !ts.hashing {
		ts.announcePending = false
		e.handOutTrackers(ts, out.Done >= out.Size) // park.go
	}
	switch {
	case ts.err != "":
		out.State = StateError
	case info == nil:
		out.State = StateMetadata
	case ts.checking > 0 || ts.hashing && out.Done < out.Size && out.DownRate == 0:
		out.State = StateChecking
	case out.Done >= out.Size:
		out.State = StateSeeding
	default:
		out.State = StateDownloading
	}
	if out.State == StateDownloading {
		e.announceIncomplete(ts) // park.go
	}
	if out.State == StateDownloading && out.DownRate > 0 {
		out.ETA = time.Duration(float64(out.Size-out.Done)/float64(out.DownRate)) * time.Second
	}
	out.Ratio = ratio(out.Uploaded, out.Size)
	ts.busy = out.PeerCount > 0 || out.DownRate != 0 || out.UpRate != 0 || ts.hashing || ts.checking > 0 ||
		ts.announcePending || ts.moving || !ts.applied || ts.deferred ||
		out.State == StateMetadata || out.State == StateChecking ||
		out.State == StateDownloading && (webSeeds || len(ts.rec.Peers) > 0) // web seeds, redials (redial.go)
	if ts.busy {
		ts.activeAt = now // parking waits for ParkAfter from here (park.go)
	}
	return out
}

// pollPieces fills the piece map, the files' progress and the totals
// from the client, reusing prev's slices when they are unchanged.
func (e *Engine) pollPieces(ts *tstate, t *torrent.Torrent, info *metainfo.Info, prev, out *Torrent) {
	out.Name = t.Name()
	ts.name = out.Name
	out.PieceLength = info.PieceLength
	out.NumPieces = t.NumPieces()
	pieces := make([]byte, out.NumPieces)
	hashing := false
	i := 0
	for _, run := range t.PieceStateRuns() {
		var b byte
		switch {
		case run.Complete:
			b = 2
		case run.Partial:
			b = 1
		}
		if run.Hashing || run.QueuedForHash || run.Marking {
			hashing = true
		}
		for k := 0; k < run.Length && i < len(pieces); k++ {
			pieces[i] = b
			i++
		}
	}
	ts.hashing = hashing
	out.Pieces = reuse(prev.Pieces, pieces)
	files := t.Files()
	fs := make([]File, len(files))
	for i, f := range files {
		fi := f.FileInfo()
		fs[i] = File{Path: strings.Join(fi.BestPath(), "/"), Size: f.Length(), Done: f.BytesCompleted(), Priority: ts.prio(i)}
		if fs[i].Priority != PrioritySkip {
			out.Size += fs[i].Size
			out.Done += fs[i].Done
		}
	}
	out.Files = reuse(prev.Files, fs)
}

// withPriorities returns fs with the stored priorities, copied if any
// differs (fs is shared with earlier snapshots).
// metaFiles lists ts's files from its metainfo, with nothing done (a
// torrent that was never in the client this run).
func (ts *tstate) metaFiles() []File {
	up := ts.tf.info.UpvertedFiles()
	fs := make([]File, len(ts.tf.Files))
	for i, p := range ts.tf.Files {
		fs[i] = File{Path: p, Size: up[i].Length, Priority: ts.prio(i)}
	}
	return fs
}

func (ts *tstate) withPriorities(fs []File) []File {
	for i := range fs {
		if fs[i].Priority != ts.prio(i) {
			out := slices.Clone(fs)
			for j := range out {
				out[j].Priority = ts.prio(j)
			}
			return out
		}
	}
	return fs
}

// pollTrackers returns the trackers' status, prev itself when unchanged.
func (e *Engine) pollTrackers(ts *tstate, prev []Tracker) []Tracker {
	same := len(prev) == len(ts.trackers)
	var out []Tracker
	for i, u := range ts.trackers {
		tr := e.facts.tracker(ts.ih, u)
		if same && prev[i] == tr {
			continue
		}
		if same {
			same = false
			out = append(make([]Tracker, 0, len(ts.trackers)), prev[:i]...)
		}
		out = append(out, tr)
	}
	if same {
		return prev
	}
	return out
}

// reuse returns prev when it holds the same elements as cur (so an
// unchanged torrent shares its slices with the previous snapshot), else
// a copy of cur (cur may be the engine's own).
func reuse[T comparable](prev, cur []T) []T {
	if slices.Equal(prev, cur) {
		return prev
	}
	return slices.Clone(cur)
}

// pollAll polls every torrent for a snapshot: the torrents that changed
// in full, the quiet ones not at all (all of them every idleRefresh).
// The result shares the previous snapshot's slice when no torrent
// changed; ts.last points into the slice returned.
func (e *Engine) pollAll(s *Snapshot, dt time.Duration) {
	now := s.Time
	refresh := now.Sub(e.refreshed) >= idleRefresh
	if refresh {
		e.refreshed = now
	}
	prev := e.last.Torrents
	var quiet []*tstate // parkable, parked once the snapshot is built (park.go)
	defer func() { e.parkQuiet(quiet, now) }()
	var out []Torrent // nil while every torrent is prev's
	v := new(Torrent) // a polled value; a new one once v is kept
	for i, ih := range e.order {
		ts := e.torrents[ih]
		t := ts.last
		if refresh || !ts.quiet(now) {
			*v = e.poll(ts, dt, now)
			e.redialPeers(ts, v.State, now) // explicit peers not connected (redial.go)
			e.marketTick(ts, v, now)        // the bandwidth market's step (market_loop.go)
			if t == nil || !reflect.DeepEqual(v, t) {
				t, v = v, new(Torrent)
			}
		}
		if ts.t != nil && e.parkable(ts, t, now) {
			quiet = append(quiet, ts)
		}
		if out == nil && (i >= len(prev) || t != &prev[i]) {
			out = make([]Torrent, i, len(e.order))
			copy(out, prev[:i])
		}
		if out != nil {
			out = append(out, *t)
		}
		s.Totals.DownRate += t.DownRate
		s.Totals.UpRate += t.UpRate
		s.Totals.Peers += t.PeerCount
		s.Totals.Downloaded += ts.sessionDown()
		s.Totals.Uploaded += ts.sessionUp()
	}
	if out == nil && len(prev) == len(e.order) {
		s.Torrents = prev
		return
	}
	if out == nil {
		out = []Torrent{} // every torrent removed
	}
	s.Torrents = out
	for i, ih := range e.order {
		e.torrents[ih].last = &out[i]
	}
}
