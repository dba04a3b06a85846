package core

// Parking (issue 19). A complete torrent that has had no peer for
// Config.ParkAfter leaves the anacrolix client: anacrolix keeps several
// KiB per torrent (its Torrent, pieces, storage, loggers) that a seedbox of
// thousands of idle torrents pays for nothing. A parked torrent keeps only
// our own state: it shows as seeding, and it is announced to its trackers
// and the DHT by the announcer of parked torrents (park_announce.go).
// It wakes, back into the client, when
//
//   - a peer connects naming it: our listener reads the handshake's
//     infohash (plaintext) or secret key (MSE) first (sniff.go) and waits
//     for wakeFor before handing the connection to anacrolix;
//   - a tracker reports leechers for it (the announcer's OnLeechers);
//   - a command needs the client (doTorrent): recheck, priorities, peers,
//     move, sequential, resume.
//
// Pause and Remove of a parked torrent need no client: the announcer
// tells the trackers we stopped. A torrent parked at shutdown starts
// parked, without the client, when its files are unchanged since (the
// start-up check of filecheck.go); otherwise it starts in the client and
// is verified.

import (
	"bytes"
	"context"
	"runtime/debug"
	"slices"
	"time"

	"github.com/anacrolix/torrent"
)

// parkBatch is the most torrents parked in one tick: a Drop takes the
// client lock, and thousands going quiet together (after a mass add) must
// not hold the loop.
const parkBatch = 64

// parkAnnouncing is what parking needs of the announcer of parked
// torrents (park_announce.go).
type parkAnnouncing interface {
	park(ih InfoHash, key [20]byte, trackers []string, private bool, uploaded, downloaded int64)
	seed(ih InfoHash, key [20]byte, trackers []string, private bool, uploaded, downloaded int64)
	unpark(ih InfoHash)
	stop(ih InfoHash)
	close(ctx context.Context)
}

// indexKeys records the keys peers may name ts by: its infohash and, for
// a v2 or hybrid torrent, the truncated v2 infohash (park_index.go).
func (e *Engine) indexKeys(ts *tstate) {
	e.keys.add(ts.ih, ts.ih)
	if ts.tf != nil && ts.tf.InfoHashV2 != (InfoHashV2{}) {
		e.keys.add(ts.tf.InfoHashV2.Short(), ts.ih)
	}
}

// unindexKeys forgets ts's keys (it is removed).
func (e *Engine) unindexKeys(ts *tstate) {
	e.keys.remove(ts.ih)
	if ts.tf != nil && ts.tf.InfoHashV2 != (InfoHashV2{}) {
		e.keys.remove(ts.tf.InfoHashV2.Short())
	}
}

// parkable reports whether ts, polled as t, may leave the client at now:
// complete with every file wanted, nothing running, no peer since
// ParkAfter, no explicit peer to dial.
func (e *Engine) parkable(ts *tstate, t *Torrent, now time.Time) bool {
	return e.cfg.ParkAfter > 0 && ts.t != nil && t != nil && !ts.busy &&
		t.State == StateSeeding && ts.err == "" && ts.tf != nil &&
		ts.checking == 0 && !ts.moving && len(ts.rec.Peers) == 0 && allWanted(ts) &&
		now.Sub(ts.activeAt) >= e.cfg.ParkAfter
}

func allWanted(ts *tstate) bool {
	for _, p := range ts.rec.Priorities {
		if p == PrioritySkip {
			return false
		}
	}
	return true
}

// park takes ts out of the client (parkable said it may).
func (e *Engine) park(ts *tstate) {
	e.stop(ts)
	ts.parked = true
	e.parkedN.Add(1)
	e.freed++
	if !ts.rec.Parked {
		ts.rec.Parked = true
		e.saveRecord(ts)
	}
	e.announceParked(ts)
	e.log.Info("parked", "infohash", ts.rec.InfoHash)
}

// announceParked hands ts to the announcer of parked torrents, after
// anacrolix's "stopped" if anacrolix announced it.
func (e *Engine) announceParked(ts *tstate) {
	if e.parkAnn == nil {
		return
	}
	e.parkAnn.park(ts.ih, ts.ih, ts.trackers, ts.private(), ts.sessionUp(), ts.sessionDown())
	ts.ownAnnounce = true
}

// sessionUp and sessionDown are what trackers are told ts moved: this
// run's payload (its anacrolix torrents', parked or not), not the
// all-time totals, which a tracker would credit again at every start.
func (ts *tstate) sessionUp() int64   { return ts.earlierUp + ts.sessUp }
func (ts *tstate) sessionDown() int64 { return ts.earlierDown + ts.sessDown }

func (ts *tstate) private() bool {
	return ts.tf != nil && ts.tf.info.Private != nil && *ts.tf.info.Private
}

// handOutTrackers gives ts's trackers, once its data is checked, to the
// announcer of parked torrents when it is complete, else to anacrolix. A
// complete torrent stays with our announcer, in the client or parked:
// anacrolix, which never announced it, owes its trackers no "stopped"
// when it parks, and keeps no announce state of it after the drop
// (anacrolix never frees that: ~1.5 KiB per tracker).
func (e *Engine) handOutTrackers(ts *tstate, complete bool) {
	if ts.ownAnnounce {
		return // ours already: park updates the counters
	}
	if complete && allWanted(ts) && e.parkAnn != nil {
		e.parkAnn.seed(ts.ih, ts.ih, ts.trackers, ts.private(), ts.sessionUp(), ts.sessionDown())
		ts.ownAnnounce = true
		return
	}
	addTrackers(ts)
}

// announceIncomplete takes ts's trackers back from our announcer when it
// has something to download again (a recheck found bad pieces): a seed's
// announce says left=0.
func (e *Engine) announceIncomplete(ts *tstate) {
	if !ts.ownAnnounce || ts.parked || ts.t == nil {
		return
	}
	ts.ownAnnounce = false
	e.parkAnn.unpark(ts.ih)
	addTrackers(ts)
}

// unpark ends ts's parking: to wake it (our announcer keeps announcing
// it), or, with stopped, for a pause or a remove (its trackers hear we
// stopped, in or out of the client).
func (e *Engine) unpark(ts *tstate, stopped bool) {
	if stopped && ts.ownAnnounce {
		ts.ownAnnounce = false
		e.parkAnn.stop(ts.ih)
	}
	if !ts.parked {
		return
	}
	ts.parked = false
	e.parkedN.Add(-1)
	ts.touch()
	if ts.rec.Parked {
		ts.rec.Parked = false
		e.saveRecord(ts)
	}
}

// wake puts a parked ts back in the client.
func (e *Engine) wake(ts *tstate) error {
	if !ts.parked {
		return nil
	}
	e.unpark(ts, false)
	ts.activeAt = time.Now()
	e.log.Info("woken", "infohash", ts.rec.InfoHash)
	return e.start(ts)
}

// parkQuiet parks the torrents that went quiet, at most parkBatch. Once
// a wave of parks has freed much and the snapshots that followed it have
// settled, the freed memory goes back to the system at once: the
// runtime's scavenger would keep most of it for minutes.
func (e *Engine) parkQuiet(cands []*tstate, now time.Time) {
	for i, ts := range cands {
		if i == parkBatch {
			break
		}
		e.park(ts)
	}
	switch {
	case len(cands) > 0:
		if e.freed >= 256 {
			e.freeAt = now.Add(hotFor + 2*time.Second)
		}
	case !e.freeAt.IsZero() && !now.Before(e.freeAt):
		e.freed, e.freeAt = 0, time.Time{}
		go debug.FreeOSMemory()
	}
}

// restoreParked parks ts at start, without the client, when it was parked
// at shutdown and its files are as they were; false when it must start in
// the client instead.
func (e *Engine) restoreParked(ts *tstate) bool {
	if !ts.rec.Parked || ts.rec.Paused || e.cfg.ParkAfter <= 0 || ts.tf == nil || !allWanted(ts) {
		return false
	}
	fc, err := e.checkFiles(ts)
	if err != nil || len(fc.missing) > 0 || len(fc.changed) > 0 {
		return false // start verifies, or reports what is missing
	}
	ts.parked = true
	e.parkedN.Add(1)
	e.announceParked(ts)
	return true
}

// wakeFor returns once torrent ih is in the anacrolix client, so that an
// incoming connection naming it can be handed to the client; it returns
// at once for a torrent that is not parked or not ours. The handshake
// sniffer (sniff.go) calls it from its own goroutine.
func (e *Engine) wakeFor(ctx context.Context, ih InfoHash) error {
	if e.parkedN.Load() == 0 {
		return nil
	}
	return e.do(ctx, func() error {
		if ts, ok := e.torrents[ih]; ok {
			return e.wake(ts)
		}
		return nil
	})
}

// wakeWithPeers wakes a parked torrent whose tracker reports leechers and
// dials them, as it does for a complete torrent in the client that our
// announcer announces (the announcer's OnLeechers, from its goroutine).
func (e *Engine) wakeWithPeers(ih InfoHash, peers []string) {
	e.post(func() {
		ts, ok := e.torrents[ih]
		if !ok {
			return
		}
		if err := e.wake(ts); err != nil || ts.t == nil {
			if err != nil {
				e.log.Warn("cannot wake parked torrent", "infohash", ts.rec.InfoHash, "err", err)
			}
			return
		}
		pis := make([]torrent.PeerInfo, len(peers))
		for i, a := range peers {
			pis[i] = torrent.PeerInfo{Addr: torrent.StringAddr(a), Source: torrent.PeerSourceTracker}
		}
		ts.t.AddPeers(pis)
	})
}

// pollParked is poll for a parked torrent: complete in every file, no
// peer, no rate; the piece map is all complete.
func (e *Engine) pollParked(ts *tstate, prev *Torrent, out Torrent) Torrent {
	ts.busy, ts.hashing = false, false
	tf := ts.tf
	out.PieceLength, out.NumPieces = tf.PieceLength, tf.NumPieces
	out.Pieces = e.allComplete(tf.NumPieces)
	files := prev.Files
	if len(files) == 0 {
		files = ts.metaFiles()
	}
	out.Files = ts.withPriorities(allDone(files))
	for _, f := range out.Files {
		out.Size += f.Size
	}
	out.Done = out.Size
	out.Downloaded, out.Uploaded = ts.downloaded(), ts.uploaded()
	out.State, out.Parked = StateSeeding, true
	out.Ratio = ratio(out.Uploaded, out.Size)
	return out
}

// allDone returns fs with every file done: fs itself when it is.
func allDone(fs []File) []File {
	for i := range fs {
		if fs[i].Done != fs[i].Size {
			out := slices.Clone(fs)
			for j := range out {
				out[j].Done = out[j].Size
			}
			return out
		}
	}
	return fs
}

// allComplete returns a piece map of n complete pieces, shared by every
// parked torrent's snapshot (snapshots are never modified).
func (e *Engine) allComplete(n int) []byte {
	if len(e.complete) < n {
		e.complete = bytes.Repeat([]byte{2}, n)
	}
	return e.complete[:n:n]
}
