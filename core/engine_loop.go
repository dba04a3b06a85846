package core

import (
	"context"
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// persistEvery is how often counters are saved while running (state
// changes are saved at once).
const persistEvery = 15 * time.Second

// loop owns all mutable engine state: it runs commands, polls the client
// on a ticker and publishes snapshots. On cancellation it persists every
// torrent and returns.
func (e *Engine) loop(ctx context.Context) error {
	defer close(e.stopped)
	if err := e.restore(); err != nil {
		e.setErr(err)
	}
	e.tick(e.interval)
	tick := time.NewTicker(e.interval)
	defer tick.Stop()
	save := time.NewTicker(persistEvery)
	defer save.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			e.persistAll()
			if e.parkAnn != nil { // parked torrents' trackers learn we stopped
				c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				e.parkAnn.close(c)
				cancel()
			}
			return nil
		case fn := <-e.cmdC:
			fn()
		case ev := <-e.marketEventC(): // btt_bid events (market_loop.go)
			e.marketEvent(ev)
		case <-e.marketWakeC(): // lifecycle events that found the queue full
			e.drainMarketEvents()
		case now := <-tick.C:
			e.tick(now.Sub(last))
			last = now
		case <-save.C:
			e.persistAll()
		}
	}
}

// restore loads the saved torrents and starts those not paused.
func (e *Engine) restore() error {
	recs, err := e.st.torrents()
	if err != nil {
		return err
	}
	for _, r := range recs {
		ts, err := e.newState(r, nil)
		if err != nil {
			e.log.Warn("skipping saved torrent", "infohash", r.InfoHash, "err", err)
			continue
		}
		e.torrents[ts.ih] = ts
		e.order = append(e.order, ts.ih)
		if e.restoreParked(ts) { // park.go
			continue
		}
		if err := e.start(ts); err != nil {
			ts.err = err.Error()
		}
	}
	e.log.Info("restored torrents", "count", len(recs))
	return nil
}

// newState builds a tstate from a record (and the source it came from).
func (e *Engine) newState(r *record, src *source) (*tstate, error) {
	ih, err := ParseInfoHash(r.InfoHash)
	if err != nil {
		return nil, err
	}
	ts := &tstate{ih: ih, rec: r, down: newLimiter(r.Limits.Down), up: newLimiter(r.Limits.Up)}
	ts.sh = &tshared{down: ts.down, up: ts.up}
	ts.savedDown, ts.savedUp = r.Downloaded, r.Uploaded
	e.shared.Store(ih, ts.sh)
	if len(r.MetaInfo) > 0 {
		tf, err := ParseTorrentFile(r.MetaInfo, r.InfoHash)
		if err != nil {
			return nil, err
		}
		ts.tf = tf
		ts.name = tf.Name
	}
	e.indexKeys(ts)
	var trackers []string
	if ts.tf != nil {
		for _, tier := range ts.tf.mi.UpvertedAnnounceList() {
			trackers = append(trackers, tier...)
		}
	}
	if r.Magnet != "" {
		if s, err := resolveSource(context.Background(), r.Magnet); err == nil {
			trackers = append(trackers, s.trackers...)
			if ts.name == "" {
				ts.name = s.name
			}
		}
	}
	if src != nil && ts.name == "" {
		ts.name = src.name
	}
	if ts.name == "" {
		ts.name = r.InfoHash
	}
	trackers = append(trackers, e.cfg.Trackers...)
	seen := map[string]bool{}
	for _, tr := range trackers {
		if tr != "" && !seen[tr] {
			seen[tr] = true
			ts.trackers = append(ts.trackers, tr)
		}
	}
	return ts, nil
}

// tick polls the torrents (poll.go) and publishes a snapshot.
func (e *Engine) tick(dt time.Duration) {
	s := Snapshot{
		Time:    time.Now(),
		Limits:  e.limits,
		Market:  e.market.policy(),
		Err:     e.lastErr,
		ErrTime: e.errTime,
		Wallet:  WalletStatus{Err: "no wallet"},
	}
	s.Totals.Downloaded, s.Totals.Uploaded = e.session.down, e.session.up
	e.drainMarketEvents() // before the market samples counters (market_loop.go)
	e.pollAll(&s, dt)
	e.marketTotals(&s, s.Time) // wallet status and money totals (market_view.go)
	e.publish(s)
}

func (e *Engine) setErr(err error) {
	e.log.Error("engine error", "err", err)
	e.lastErr = err.Error()
	e.errTime = time.Now()
}

// saveRecord persists one torrent with its current totals. A record
// saved is a torrent changed: it is polled in full (poll.go).
func (e *Engine) saveRecord(ts *tstate) {
	if ts.rec == nil {
		return
	}
	ts.touch()
	r := *ts.rec
	r.Downloaded, r.Uploaded = ts.downloaded(), ts.uploaded()
	if err := e.st.putTorrent(&r); err != nil {
		e.setErr(err)
		return
	}
	ts.savedDown, ts.savedUp = r.Downloaded, r.Uploaded
}

// persistAll saves, in one transaction, the totals of every torrent
// whose totals moved since they were saved. Only a torrent with peer
// connections moves bytes, and poll reads its counters: the others'
// are current.
func (e *Engine) persistAll() {
	var rs []*record
	var saved []*tstate
	for _, ih := range e.order {
		ts := e.torrents[ih]
		if ts.busy || ts.t != nil && ts.sh.conns.Load() != ts.seenConns {
			e.updateCounters(ts)
		}
		down, up := ts.downloaded(), ts.uploaded()
		if down == ts.savedDown && up == ts.savedUp {
			continue
		}
		r := *ts.rec
		r.Downloaded, r.Uploaded = down, up
		rs = append(rs, &r)
		saved = append(saved, ts)
	}
	if len(rs) == 0 {
		return
	}
	if err := e.st.putTorrents(rs); err != nil {
		e.setErr(err)
		return
	}
	for i, ts := range saved {
		ts.savedDown, ts.savedUp = rs[i].Downloaded, rs[i].Uploaded
		if ts.ownAnnounce {
			e.announceParked(ts) // the counters its next announce carries (park.go)
		}
	}
}

func (e *Engine) saveSettings() error {
	l, m := e.limits, e.market
	return e.st.putSettings(settings{Limits: &l, Market: &m})
}

// policy turns stored market settings into the snapshot's form.
func (m marketRec) policy() MarketPolicy {
	return MarketPolicy{
		BuyerStrategy:  m.BuyerStrategy,
		SellerStrategy: m.SellerStrategy,
		Bid:            parseStoredAmount(m.Bid),
		Ask:            parseStoredAmount(m.Ask),
		Budget:         parseStoredAmount(m.Budget),
	}
}

func parseStoredAmount(s string) wallet.Amount {
	if s == "" {
		return wallet.Amount{}
	}
	a, err := wallet.ParseAmount(s, 0)
	if err != nil {
		return wallet.Amount{}
	}
	return a
}

// mergeMarket applies the non-nil fields of m.
func mergeMarket(r *marketRec, m MarketSettings) {
	if m.BuyerStrategy != nil {
		r.BuyerStrategy = *m.BuyerStrategy
	}
	if m.SellerStrategy != nil {
		r.SellerStrategy = *m.SellerStrategy
	}
	if m.Bid != nil {
		r.Bid = m.Bid.String()
	}
	if m.Ask != nil {
		r.Ask = m.Ask.String()
	}
	if m.Budget != nil {
		r.Budget = m.Budget.String()
	}
}

func (e *Engine) lookup(ih InfoHash) (*tstate, error) {
	ts, ok := e.torrents[ih]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTorrent, ih)
	}
	ts.touch() // a command may change it: poll it in full (poll.go)
	return ts, nil
}
