package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Add adds a torrent from a .torrent path, a magnet URI (metadata then
// comes from peers, BEP 9) or an http(s) URL of a .torrent. Adding a
// torrent the engine already has is not an error: its peers are added and
// its infohash returned. Reading the source happens in the caller's
// goroutine; the engine loop only registers the result.
func (e *Engine) Add(ctx context.Context, spec AddSpec) (InfoHash, error) {
	src, err := resolveSource(ctx, spec.Source)
	if err != nil {
		return InfoHash{}, err
	}
	peers, err := resolvePeers(ctx, append(src.peers, spec.Peers...))
	if err != nil {
		return InfoHash{}, err
	}
	dir := spec.DataDir
	if dir == "" {
		dir = e.downloadDir
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return InfoHash{}, fmt.Errorf("cannot resolve data dir: %w", err)
	}
	if err := checkWritable(dir); err != nil {
		return InfoHash{}, err
	}
	err = e.do(ctx, func() error {
		if ts, ok := e.torrents[src.ih]; ok {
			ts.touch()
			for _, p := range peers {
				if !slices.Contains(ts.rec.Peers, p) {
					ts.rec.Peers = append(ts.rec.Peers, p)
				}
			}
			if ts.tf == nil && src.tf != nil {
				ts.tf = src.tf
				ts.rec.MetaInfo = src.tf.Bytes
				ts.name = src.tf.Name
				if ts.t != nil {
					if err := ts.t.SetInfoBytes(src.tf.mi.InfoBytes); err != nil {
						return fmt.Errorf("cannot use torrent file: %w", err)
					}
				}
			}
			e.addPeers(ts, peers)
			e.saveRecord(ts)
			return nil
		}
		r := &record{
			InfoHash: src.ih.String(),
			Magnet:   src.magnet,
			DataDir:  dir,
			Paused:   spec.Paused,
			Labels:   append([]string(nil), spec.Labels...),
			Peers:    peers,
			AddedAt:  time.Now(),
			Market:   e.market,
		}
		if src.tf != nil {
			r.MetaInfo = src.tf.Bytes
		}
		ts, err := e.newState(r, src)
		if err != nil {
			return err
		}
		if err := e.st.putTorrent(r); err != nil {
			return err
		}
		e.torrents[src.ih] = ts
		e.order = append(e.order, src.ih)
		e.log.Info("added torrent", "infohash", r.InfoHash, "name", ts.name, "dir", dir)
		return e.start(ts)
	})
	if err != nil {
		return InfoHash{}, err
	}
	return src.ih, nil
}

// resolvePeers checks host:port addresses and resolves host names.
func resolvePeers(ctx context.Context, addrs []string) ([]string, error) {
	var out []string
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, &InputError{What: "peer address", Value: a, Reason: "want HOST:PORT"}
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, &InputError{What: "peer address", Value: a, Reason: "port must be 1-65535"}
		}
		if net.ParseIP(host) == nil {
			ips, err := net.DefaultResolver.LookupHost(ctx, host)
			if err != nil || len(ips) == 0 {
				return nil, &InputError{What: "peer address", Value: a, Reason: "cannot resolve host " + host}
			}
			host = ips[0]
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// checkWritable creates dir if needed and checks a file can be made in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create output dir %s: %w", dir, errors.Unwrap(err))
	}
	f, err := os.CreateTemp(dir, ".bidtorrent-probe-*")
	if err != nil {
		return fmt.Errorf("output dir %s is not writable: %w", dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// AddPeer dials addr (host:port) for the torrent, besides the peers the
// trackers, DHT and PEX find.
func (e *Engine) AddPeer(ctx context.Context, ih InfoHash, addr string) error {
	peers, err := resolvePeers(ctx, []string{addr})
	if err != nil {
		return err
	}
	return e.doTorrent(ctx, ih, func(ts *tstate) error {
		if !slices.Contains(ts.rec.Peers, peers[0]) {
			ts.rec.Peers = append(ts.rec.Peers, peers[0])
			e.saveRecord(ts)
		}
		e.addPeers(ts, peers)
		return nil
	})
}

// Remove removes the torrent; with deleteData its downloaded files are
// deleted too (never anything outside its data dir).
func (e *Engine) Remove(ctx context.Context, ih InfoHash, deleteData bool) error {
	return e.doRecord(ctx, ih, func(ts *tstate) error {
		e.unpark(ts, true) // park.go
		e.stop(ts)
		e.session.down += ts.earlierDown // stop folded the counters in
		e.session.up += ts.earlierUp
		delete(e.torrents, ih)
		e.shared.Delete(ih)
		e.unindexKeys(ts)
		e.order = slices.DeleteFunc(e.order, func(x InfoHash) bool { return x == ih })
		if err := e.st.deleteTorrent(ih.String()); err != nil {
			return err
		}
		e.log.Info("removed torrent", "infohash", ih, "delete_data", deleteData)
		if deleteData {
			return e.deleteData(ts)
		}
		return nil
	})
}

// Pause stops the torrent: its connections are closed and nothing is
// transferred until Resume.
func (e *Engine) Pause(ctx context.Context, ih InfoHash) error {
	return e.doRecord(ctx, ih, func(ts *tstate) error {
		e.unpark(ts, true) // park.go
		e.stop(ts)
		ts.rec.Paused = true
		e.saveRecord(ts)
		return nil
	})
}

// Resume restarts a paused (or failed) torrent.
func (e *Engine) Resume(ctx context.Context, ih InfoHash) error {
	return e.doTorrent(ctx, ih, func(ts *tstate) error {
		ts.rec.Paused = false
		if ts.err != "" && ts.t != nil {
			ts.t.AllowDataDownload()
		}
		if err := e.resolveMissing(ts); err != nil { // filecheck.go
			return err
		}
		ts.err = ""
		e.saveRecord(ts)
		return e.start(ts)
	})
}

// Recheck hashes all the torrent's data again, in the background; the
// snapshot shows StateChecking meanwhile.
func (e *Engine) Recheck(ctx context.Context, ih InfoHash) error {
	return e.doTorrent(ctx, ih, func(ts *tstate) error {
		return e.recheck(ts)
	})
}

// SetFilePriority sets the priority of file index file (in the order of
// Snapshot's Files). It needs the torrent's metadata.
func (e *Engine) SetFilePriority(ctx context.Context, ih InfoHash, file int, p Priority) error {
	if p < PrioritySkip || p > PriorityHigh {
		return &InputError{What: "priority", Value: strconv.Itoa(int(p)), Reason: "want -1 (skip), 0 (normal) or 1 (high)"}
	}
	return e.doTorrent(ctx, ih, func(ts *tstate) error {
		if ts.tf == nil {
			return errors.New("cannot set file priority: no metadata yet")
		}
		n := len(ts.tf.Files)
		if file < 0 || file >= n {
			return &InputError{What: "file index", Value: strconv.Itoa(file), Reason: fmt.Sprintf("the torrent has %d files", n)}
		}
		if len(ts.rec.Priorities) != n {
			ts.rec.Priorities = make([]Priority, n)
		}
		ts.rec.Priorities[file] = p
		if ts.t != nil && ts.applied {
			ts.t.Files()[file].SetPriority(piecePriority(p))
		}
		e.saveRecord(ts)
		return nil
	})
}

// SetSequential turns in-order downloading on or off.
func (e *Engine) SetSequential(ctx context.Context, ih InfoHash, on bool) error {
	return e.doTorrent(ctx, ih, func(ts *tstate) error {
		ts.rec.Sequential = on
		e.applySequential(ts)
		e.saveRecord(ts)
		return nil
	})
}

// SetLimits sets the rate limits of a torrent or, for the zero InfoHash,
// the global limits. 0 means unlimited. Effective at once.
func (e *Engine) SetLimits(ctx context.Context, ih InfoHash, l Limits) error {
	if l.Down < 0 || l.Up < 0 {
		return &InputError{What: "limits", Value: fmt.Sprintf("%+v", l), Reason: "must not be negative"}
	}
	return e.do(ctx, func() error {
		if ih == (InfoHash{}) {
			e.limits = l
			setLimiter(e.conns.down, l.Down)
			setLimiter(e.conns.up, l.Up)
			return e.saveSettings()
		}
		ts, err := e.lookup(ih)
		if err != nil {
			return err
		}
		ts.rec.Limits = l
		setLimiter(ts.down, l.Down)
		setLimiter(ts.up, l.Up)
		e.saveRecord(ts)
		return nil
	})
}

// SetLabels replaces the torrent's labels.
func (e *Engine) SetLabels(ctx context.Context, ih InfoHash, labels []string) error {
	labels = append([]string(nil), labels...)
	return e.doRecord(ctx, ih, func(ts *tstate) error {
		ts.rec.Labels = labels
		e.saveRecord(ts)
		return nil
	})
}

// SetMarket changes a torrent's (or, for the zero InfoHash, the default
// for new torrents) market settings. They are stored and shown in the
// snapshot; the market itself acts on them once it exists.
func (e *Engine) SetMarket(ctx context.Context, ih InfoHash, m MarketSettings) error {
	return e.do(ctx, func() error {
		if ih == (InfoHash{}) {
			mergeMarket(&e.market, m)
			return e.saveSettings()
		}
		ts, err := e.lookup(ih)
		if err != nil {
			return err
		}
		mergeMarket(&ts.rec.Market, m)
		e.saveRecord(ts)
		return nil
	})
}

// Settle redeems the unsettled received cheques with the wallet's chain
// backend; without a wallet (WithWallet) it returns ErrNoWallet.
func (e *Engine) Settle(ctx context.Context) error {
	return e.settle(ctx) // market_money.go
}
