package core

// Announcing parked torrents (issue 19). A parked torrent is out of the
// anacrolix client, whose Stopped announce made its trackers forget us;
// the park announcer keeps telling the trackers (and the DHT) that we
// seed it, so peers still find us and a connection wakes it.
//
// One goroutine runs the schedule: two heaps of due times (trackers,
// DHT), one timer, a bounded number of announces in flight. A parked
// torrent costs its entry in the map and a few small structs, no
// goroutine and no timer of its own.
//
// BEP 12 tiers are simplified: every tracker URL of the torrent is
// announced to, independently, as if each were its own tier. Duplicate
// URLs are announced once; URLs of schemes anacrolix's tracker client
// does not speak (ws, wss) are skipped.

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/torrent/tracker"
)

const (
	parkTrackerInFlight = 8  // tracker announces in flight at once
	parkDHTInFlight     = 4  // DHT announces in flight at once (they are slow)
	parkCloseInFlight   = 16 // stopped announces in flight at shutdown
	parkNumWant         = 50 // peers asked for: only leechers matter to a seed
)

// errParkOver is what Status reports for a tracker the announcer no longer
// announces a torrent to (it was unparked or stopped): whoever records
// the statuses forgets what the announcer reported for it.
var errParkOver = errors.New("no longer announced as parked")

// parkAnnounceOpts configures a parkAnnouncer.
type parkAnnounceOpts struct {
	PeerID    [20]byte // the client's peer id
	Port      int      // our listen port, announced to trackers and the DHT
	UserAgent string
	// DHT announces key with our port (announce_peer); nil when the DHT
	// is off. It may block until the traversal ends or ctx is done.
	DHT func(ctx context.Context, key [20]byte, port int) error
	// OnLeechers is called, at most once per tracker interval per
	// torrent, when a tracker reports leechers (or no counts at all) and
	// returns peers ("host:port", at most parkNumWant). Not called with the lock held;
	// it may block, close does not wait for it.
	OnLeechers func(ih InfoHash, peers []string)
	// Status reports each announce's outcome to a tracker: err (nil on
	// success), the swarm size the tracker reported, the next announce.
	// err is errParkOver when the torrent left the announcer. Called with
	// the announcer's lock held: it must be quick and not call back.
	Status func(ih InfoHash, url string, err error, peers int, next time.Time)
	// FirstDelay is the delay of a torrent's first announce after park
	// (default 10 s, so that anacrolix's Stopped goes out first).
	FirstDelay time.Duration
	Log        *slog.Logger
	// DialContext and ListenPacket, when set, are how HTTP and UDP
	// trackers are reached (the engine's cc.TrackerDialContext and
	// cc.TrackerListenPacket, so that parked announces leave from the
	// same address as anacrolix's).
	DialContext  func(ctx context.Context, network, addr string) (net.Conn, error)
	ListenPacket func(network, addr string) (net.PacketConn, error)

	// The schedule; zero means the default. Tests lower them.
	spread      time.Duration // first tracker announces spread over [FirstDelay, FirstDelay+spread) (1 min)
	minInterval time.Duration // floor on a tracker's interval (60 s)
	maxInterval time.Duration // cap on a tracker's interval (1 h)
	defInterval time.Duration // interval when a tracker gives none (30 min)
	backoffMin  time.Duration // first retry after a failure, doubling (1 min)
	backoffMax  time.Duration // longest retry delay (30 min)
	dhtEvery    time.Duration // DHT announce period; the first is spread over one period (30 min)
	timeout     time.Duration // one tracker announce (30 s)
	dhtTimeout  time.Duration // one DHT announce: cut short, it announces to no node (2 min)
}

func (o *parkAnnounceOpts) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.FirstDelay, 10*time.Second)
	def(&o.spread, time.Minute)
	def(&o.minInterval, time.Minute)
	def(&o.maxInterval, time.Hour)
	def(&o.defInterval, 30*time.Minute)
	def(&o.backoffMin, time.Minute)
	def(&o.backoffMax, 30*time.Minute)
	def(&o.dhtEvery, 30*time.Minute)
	def(&o.timeout, 30*time.Second)
	def(&o.dhtTimeout, 2*time.Minute)
	if o.maxInterval < o.minInterval {
		o.maxInterval = o.minInterval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// parkAnnouncer announces parked torrents. Its methods are safe from any
// goroutine and never wait on the network, except close.
type parkAnnouncer struct {
	o      parkAnnounceOpts
	key    int32 // the announce key, anacrolix's (from the peer id)
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{} // 1-buffered: the schedule changed
	done   chan struct{} // closed when run returns
	wg     sync.WaitGroup

	mu     sync.Mutex // guards what follows and every parkedTorrent and parkJob
	parked map[InfoHash]*parkedTorrent
	trk    parkQueue // tracker announces, and stopped announces of stopped torrents
	dht    parkQueue
	closed bool
	late   []parkStop // stopped announces owed at close by announces that were in flight
}

// parkedTorrent is one parked torrent.
type parkedTorrent struct {
	ih        InfoHash
	key       [20]byte // the info hash announced
	up, down  int64
	jobs      []parkJob // one per tracker, then the DHT's if any
	leechNext time.Time // OnLeechers is not called again before
	gone      bool      // unparked or stopped: drop outcomes
	stopping  bool      // stopped: a tracker announced to gets a stopped
}

// parkJob is one scheduled announce: to a tracker of t, to the DHT (url
// ""), or a one-off stopped (once).
type parkJob struct {
	t        *parkedTorrent
	url      string
	at       time.Time
	idx      int   // in its heap; -1 when not queued
	fails    uint8 // consecutive failures
	started  bool  // the tracker accepted our started: it has us
	running  bool
	reported bool // Status was told of this tracker
	once     bool // a stopped announce, not rescheduled
}

type parkStop struct {
	url string
	req tracker.AnnounceRequest
}

// parkQueue is a heap of jobs by due time and its announces in flight.
type parkQueue struct {
	h         parkHeap
	busy, max int
}

type parkHeap []*parkJob

func (h parkHeap) Len() int           { return len(h) }
func (h parkHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h parkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *parkHeap) Push(x any) {
	j := x.(*parkJob)
	j.idx = len(*h)
	*h = append(*h, j)
}
func (h *parkHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.idx = -1
	return j
}

// parkAnnounceTuning, set only by tests, adjusts the options of every
// announcer made after (the engine's too) before the defaults apply.
var parkAnnounceTuning func(*parkAnnounceOpts)

func newParkAnnouncer(o parkAnnounceOpts) *parkAnnouncer {
	if parkAnnounceTuning != nil {
		parkAnnounceTuning(&o)
	}
	o.defaults()
	a := &parkAnnouncer{
		o:      o,
		key:    int32(binary.BigEndian.Uint32(o.PeerID[16:20])),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		parked: make(map[InfoHash]*parkedTorrent),
		trk:    parkQueue{max: parkTrackerInFlight},
		dht:    parkQueue{max: parkDHTInFlight},
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.run()
	return a
}

func (a *parkAnnouncer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// park starts announcing torrent ih, whose info hash on the wire is key,
// to its trackers (http, https, udp) and, unless private, to the DHT,
// after FirstDelay and a spread. Parking a torrent already parked updates
// its counters only.
func (a *parkAnnouncer) park(ih InfoHash, key [20]byte, trackers []string, private bool, uploaded, downloaded int64) {
	a.add(ih, key, trackers, private, uploaded, downloaded, a.o.FirstDelay, a.o.spread)
}

// seed is park for a torrent no one announced before (anacrolix owes its
// trackers no stopped): its trackers hear from us at once.
func (a *parkAnnouncer) seed(ih InfoHash, key [20]byte, trackers []string, private bool, uploaded, downloaded int64) {
	a.add(ih, key, trackers, private, uploaded, downloaded, 0, 0)
}

// add is park and seed: the first tracker announces are due after delay
// plus up to spread.
func (a *parkAnnouncer) add(ih InfoHash, key [20]byte, trackers []string, private bool, uploaded, downloaded int64, delay, spread time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	if t := a.parked[ih]; t != nil {
		t.up, t.down = uploaded, downloaded
		return
	}
	dht := !private && a.o.DHT != nil
	if len(trackers) == 0 && !dht {
		return
	}
	t := &parkedTorrent{ih: ih, key: key, up: uploaded, down: downloaded, jobs: make([]parkJob, 0, len(trackers)+1)}
	now := time.Now()
	for i, u := range trackers {
		if parkAnnounceable(u) && !slices.Contains(trackers[:i], u) {
			at := now.Add(delay)
			if spread > 0 {
				at = at.Add(rand.N(spread))
			}
			t.jobs = append(t.jobs, parkJob{t: t, url: u, idx: -1, at: at})
		}
	}
	if dht {
		t.jobs = append(t.jobs, parkJob{t: t, idx: -1, at: now.Add(delay + rand.N(a.o.dhtEvery))})
	}
	if len(t.jobs) == 0 {
		return
	}
	for i := range t.jobs {
		j := &t.jobs[i]
		heap.Push(&a.queue(j).h, j)
	}
	a.parked[ih] = t
	a.poke()
}

// parkAnnounceable reports whether anacrolix's tracker client speaks u.
func parkAnnounceable(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	switch p.Scheme {
	case "http", "https", "udp", "udp4", "udp6":
		return true
	}
	return false
}

func (a *parkAnnouncer) queue(j *parkJob) *parkQueue {
	if j.url == "" {
		return &a.dht
	}
	return &a.trk
}

// unpark forgets ih without announcing anything: it is back in anacrolix,
// which announces it itself.
func (a *parkAnnouncer) unpark(ih InfoHash) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forget(ih)
}

// stop forgets ih and sends stopped to each of its trackers that accepted
// an announce from us (it was paused or removed while parked).
func (a *parkAnnouncer) stop(ih InfoHash) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.forget(ih)
	if t == nil {
		return
	}
	t.stopping = true
	for i := range t.jobs {
		// A job in flight sends its stopped when it ends (finish), so
		// that the stopped does not overtake it.
		if j := &t.jobs[i]; j.started && !j.running {
			a.queueStopped(t, j.url)
		}
	}
}

// forget removes ih's jobs from the schedule; the caller holds mu.
func (a *parkAnnouncer) forget(ih InfoHash) *parkedTorrent {
	t := a.parked[ih]
	if t == nil {
		return nil
	}
	delete(a.parked, ih)
	t.gone = true
	for i := range t.jobs {
		j := &t.jobs[i]
		if j.idx >= 0 {
			heap.Remove(&a.queue(j).h, j.idx)
		}
		if j.reported && a.o.Status != nil {
			a.o.Status(ih, j.url, errParkOver, 0, time.Time{})
			j.reported = false
		}
	}
	return t
}

// queueStopped schedules a stopped announce of t to url, now; the caller
// holds mu.
func (a *parkAnnouncer) queueStopped(t *parkedTorrent, u string) {
	j := &parkJob{t: t, url: u, once: true}
	heap.Push(&a.trk.h, j)
	a.poke()
}

func (a *parkAnnouncer) request(j *parkJob) tracker.AnnounceRequest {
	r := tracker.AnnounceRequest{
		InfoHash:   j.t.key,
		PeerId:     a.o.PeerID,
		Downloaded: j.t.down,
		Uploaded:   j.t.up,
		Left:       0,
		Key:        a.key,
		NumWant:    parkNumWant,
		Port:       uint16(a.o.Port),
	}
	switch {
	case j.once:
		r.Event, r.NumWant = tracker.Stopped, 0
	case !j.started:
		r.Event = tracker.Started
	}
	return r
}

// run dispatches due jobs until the announcer is closed.
func (a *parkAnnouncer) run() {
	defer close(a.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		a.mu.Lock()
		now := time.Now()
		var next time.Time
		for _, q := range [2]*parkQueue{&a.trk, &a.dht} {
			for len(q.h) > 0 && q.busy < q.max && !q.h[0].at.After(now) {
				j := heap.Pop(&q.h).(*parkJob)
				j.running = true
				q.busy++
				req := a.request(j)
				a.wg.Add(1)
				go a.do(q, j, req)
			}
			if len(q.h) > 0 && q.busy < q.max && (next.IsZero() || q.h[0].at.Before(next)) {
				next = q.h[0].at
			}
		}
		a.mu.Unlock()
		var tc <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			tc = timer.C
		}
		select {
		case <-a.wake:
		case <-tc:
		case <-a.ctx.Done():
			return
		}
		timer.Stop()
	}
}

// do runs one announce and hands its outcome to finish.
func (a *parkAnnouncer) do(q *parkQueue, j *parkJob, req tracker.AnnounceRequest) {
	var res tracker.AnnounceResponse
	var err error
	if j.url == "" {
		ctx, cancel := context.WithTimeout(a.ctx, a.o.dhtTimeout)
		err = a.o.DHT(ctx, req.InfoHash, a.o.Port)
		cancel()
	} else {
		ctx, cancel := context.WithTimeout(a.ctx, a.o.timeout)
		res, err = a.announce(ctx, j.url, req)
		cancel()
	}
	ih, peers := a.finish(q, j, req, res, err)
	a.wg.Done()
	// Not waited for by close: the engine's OnLeechers waits for its
	// loop, which may be the one closing.
	if len(peers) > 0 {
		a.o.OnLeechers(ih, peers)
	}
}

// announce sends one announce through anacrolix's tracker client, which
// bounds and parses the response.
func (a *parkAnnouncer) announce(ctx context.Context, u string, req tracker.AnnounceRequest) (tracker.AnnounceResponse, error) {
	return tracker.Announce{
		TrackerUrl:   u,
		Request:      req,
		UserAgent:    a.o.UserAgent,
		DialContext:  a.o.DialContext,
		ListenPacket: a.o.ListenPacket,
		Context:      ctx,
		Slogger:      a.o.Log,
		// anacrolix sends numwant only over UDP.
		HttpRequestDirector: func(r *http.Request) error {
			r.URL.RawQuery += "&numwant=" + strconv.Itoa(int(req.NumWant))
			return nil
		},
	}.Do()
}

// finish records an announce's outcome and schedules the job's next one;
// it returns the peers to hand to OnLeechers, if any.
func (a *parkAnnouncer) finish(q *parkQueue, j *parkJob, req tracker.AnnounceRequest, res tracker.AnnounceResponse, err error) (InfoHash, []string) {
	a.mu.Lock()
	q.busy--
	j.running = false
	t := j.t
	now := time.Now()
	if err == nil && req.Event == tracker.Started {
		j.started = true
	}
	if a.closed {
		// close cancelled it. A started cut short may have reached the
		// tracker: close owes it a stopped too.
		if j.once || (j.url != "" && (j.started || req.Event == tracker.Started) && (!t.gone || t.stopping)) {
			a.late = append(a.late, parkStop{j.url, a.stopRequest(t)})
		}
		a.mu.Unlock()
		return InfoHash{}, nil
	}
	defer a.poke() // a slot is free
	switch {
	case j.once:
		if err != nil {
			a.o.Log.Debug("parked torrent: stopped announce failed", "infohash", t.ih, "tracker", j.url, "err", err)
		}
		a.mu.Unlock()
		return InfoHash{}, nil
	case t.gone:
		if t.stopping && j.started && j.url != "" {
			a.queueStopped(t, j.url)
		}
		a.mu.Unlock()
		return InfoHash{}, nil
	}
	var every time.Duration
	if err != nil {
		j.fails = min(j.fails+1, 32)
		every = a.o.backoffMin
		for i := uint8(1); i < j.fails && every < a.o.backoffMax; i++ {
			every *= 2
		}
		every = min(every, a.o.backoffMax)
		a.o.Log.Debug("parked torrent: announce failed", "infohash", t.ih, "tracker", j.url, "err", err, "retry", every)
	} else {
		j.fails = 0
		if j.url == "" {
			every = a.o.dhtEvery
		} else {
			every = a.interval(res.Interval)
		}
	}
	j.at = now.Add(every)
	heap.Push(&q.h, j)
	if j.url == "" {
		a.mu.Unlock()
		return InfoHash{}, nil
	}
	if a.o.Status != nil {
		a.o.Status(t.ih, j.url, err, int(res.Seeders)+int(res.Leechers), j.at)
		j.reported = true
	}
	var peers []string
	// A tracker that gives no counts (BEP 3 makes them optional) may be
	// returning leechers too.
	leechers := res.Leechers > 0 || res.Leechers == 0 && res.Seeders == 0
	if err == nil && leechers && len(res.Peers) > 0 && a.o.OnLeechers != nil && !now.Before(t.leechNext) {
		t.leechNext = now.Add(every)
		for _, p := range res.Peers {
			if len(peers) == parkNumWant {
				break
			}
			if p.Port > 0 && p.Port < 1<<16 && (len(p.IP) == net.IPv4len || len(p.IP) == net.IPv6len) {
				peers = append(peers, net.JoinHostPort(p.IP.String(), strconv.Itoa(p.Port)))
			}
		}
	}
	a.mu.Unlock()
	return t.ih, peers
}

// interval is a tracker's announce interval (seconds), clamped.
func (a *parkAnnouncer) interval(s int32) time.Duration {
	if s <= 0 {
		return a.o.defInterval
	}
	return min(max(time.Duration(s)*time.Second, a.o.minInterval), a.o.maxInterval)
}

func (a *parkAnnouncer) stopRequest(t *parkedTorrent) tracker.AnnounceRequest {
	return a.request(&parkJob{t: t, once: true})
}

// close stops the announcer: every parked torrent gets a stopped at each
// tracker that accepted an announce from us or had our started in flight,
// parkCloseInFlight at a time, until done or ctx is done. Later calls of
// any method do nothing.
func (a *parkAnnouncer) close(ctx context.Context) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	var stops []parkStop
	for _, t := range a.parked {
		for i := range t.jobs {
			if j := &t.jobs[i]; j.url != "" && j.started && !j.running {
				stops = append(stops, parkStop{j.url, a.stopRequest(t)})
			}
		}
	}
	for _, j := range a.trk.h {
		if j.once {
			stops = append(stops, parkStop{j.url, a.stopRequest(j.t)})
		}
	}
	a.parked, a.trk.h, a.dht.h = nil, nil, nil
	a.mu.Unlock()

	a.cancel() // announces in flight end now; finish collects what they owe
	<-a.done
	a.wg.Wait()
	stops = append(stops, a.late...)
	a.late = nil

	work := make(chan parkStop)
	var wg sync.WaitGroup
	for range min(parkCloseInFlight, len(stops)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				rctx, cancel := context.WithTimeout(ctx, a.o.timeout)
				if _, err := a.announce(rctx, s.url, s.req); err != nil {
					a.o.Log.Debug("parked torrent: stopped announce failed", "infohash", InfoHash(s.req.InfoHash), "tracker", s.url, "err", err)
				}
				cancel()
			}
		}()
	}
feed:
	for _, s := range stops {
		select {
		case work <- s:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

// dhtAnnounce is parkAnnounceOpts.DHT through ds: a get_peers traversal
// toward key ending in announce_peer with port; nil when ds is (the DHT
// is off).
func dhtAnnounce(ds *dht.Server) func(ctx context.Context, key [20]byte, port int) error {
	if ds == nil {
		return nil
	}
	return func(ctx context.Context, key [20]byte, port int) error {
		a, err := ds.AnnounceTraversal(key, dht.AnnouncePeer(dht.AnnouncePeerOpts{Port: port}))
		if err != nil {
			return err
		}
		defer a.Close()
		for {
			select {
			case _, ok := <-a.Peers:
				if !ok {
					return nil
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}
