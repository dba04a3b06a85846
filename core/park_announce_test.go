package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/tracker/udp"
)

// annReq is one announce as a test tracker decoded it.
type annReq struct {
	at                   time.Time
	event                string
	ih, peerID           [20]byte
	port                 int
	left, up, down       int64
	numwant, key, compct string
}

// annTracker is an HTTP tracker on loopback that records every announce
// and answers with reply's bencoded dict (an HTTP status other than 200
// when the status is set).
type annTracker struct {
	srv   *httptest.Server
	reply func(r annReq) (status int, body map[string]any)
	mu    sync.Mutex
	reqs  []annReq
	gotC  chan annReq
}

func newAnnTracker(t testing.TB, reply func(annReq) (int, map[string]any)) *annTracker {
	tr := &annTracker{reply: reply, gotC: make(chan annReq, 10000)}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var a annReq
		a.at = time.Now()
		a.event = q.Get("event")
		copy(a.ih[:], q.Get("info_hash"))
		copy(a.peerID[:], q.Get("peer_id"))
		a.port, _ = strconv.Atoi(q.Get("port"))
		a.left, _ = strconv.ParseInt(q.Get("left"), 10, 64)
		a.up, _ = strconv.ParseInt(q.Get("uploaded"), 10, 64)
		a.down, _ = strconv.ParseInt(q.Get("downloaded"), 10, 64)
		a.numwant, a.key, a.compct = q.Get("numwant"), q.Get("key"), q.Get("compact")
		if len(q.Get("info_hash")) != 20 || len(q.Get("peer_id")) != 20 {
			a.event = "malformed"
		}
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, a)
		tr.mu.Unlock()
		tr.gotC <- a
		status, body := http.StatusOK, map[string]any{"interval": 1, "peers": ""}
		if tr.reply != nil {
			status, body = tr.reply(a)
		}
		if status != http.StatusOK {
			http.Error(w, "no", status)
			return
		}
		b, err := bencode.Marshal(body)
		if err != nil {
			panic(err)
		}
		w.Write(b)
	}))
	t.Cleanup(tr.srv.Close)
	return tr
}

func (tr *annTracker) url() string { return tr.srv.URL + "/announce" }

// next returns the next announce, failing t after d.
func (tr *annTracker) next(t testing.TB, d time.Duration) annReq {
	t.Helper()
	select {
	case a := <-tr.gotC:
		return a
	case <-time.After(d):
		t.Fatalf("no announce at %s within %v", tr.url(), d)
		return annReq{}
	}
}

// none fails t if an announce arrives within d.
func (tr *annTracker) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case a := <-tr.gotC:
		t.Fatalf("unexpected announce at %s: event %q", tr.url(), a.event)
	case <-time.After(d):
	}
}

func (tr *annTracker) all() []annReq {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.reqs)
}

// compactPeers is the compact (BEP 23) form of addrs, "a.b.c.d:port".
func compactPeers(addrs ...string) string {
	var b []byte
	for _, s := range addrs {
		ap := netip.MustParseAddrPort(s)
		ip := ap.Addr().As4()
		b = append(b, ip[:]...)
		b = binary.BigEndian.AppendUint16(b, ap.Port())
	}
	return string(b)
}

// statusRec records what the announcer reports through Status, and passes
// it to a peerTable as the engine does.
type statusRec struct {
	facts *peerTable
	mu    sync.Mutex
	got   []statusEv
}

type statusEv struct {
	ih       InfoHash
	url      string
	err      error
	peers    int
	now, nxt time.Time
}

func newStatusRec() *statusRec { return &statusRec{facts: newPeerTable()} }

func (s *statusRec) status(ih InfoHash, url string, err error, peers int, next time.Time) {
	s.facts.parkedAnnounce(ih, url, err, peers, next)
	s.mu.Lock()
	s.got = append(s.got, statusEv{ih, url, err, peers, time.Now(), next})
	s.mu.Unlock()
}

func (s *statusRec) events() []statusEv {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

var testParkPeerID = [20]byte{'-', 'B', 'D', '0', '0', '0', '1', '-', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// testParkOpts is an announcer's options with a fast schedule.
func testParkOpts(st *statusRec) parkAnnounceOpts {
	o := parkAnnounceOpts{
		PeerID:      testParkPeerID,
		Port:        51413,
		UserAgent:   "bidtorrent test",
		FirstDelay:  time.Millisecond,
		spread:      time.Millisecond,
		minInterval: 10 * time.Millisecond,
		defInterval: 150 * time.Millisecond,
		maxInterval: 300 * time.Millisecond,
		backoffMin:  100 * time.Millisecond,
		backoffMax:  400 * time.Millisecond,
		timeout:     5 * time.Second,
	}
	if st != nil {
		o.Status = st.status
	}
	return o
}

func testIH(i int) (ih InfoHash, key [20]byte) {
	binary.BigEndian.PutUint32(ih[:], uint32(i))
	ih[19] = 0x11
	binary.BigEndian.PutUint32(key[:], uint32(i))
	key[19] = 0x22
	return
}

func closeParkAnn(t testing.TB, a *parkAnnouncer) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.close(ctx)
	})
}

// A parked torrent is announced started, then with no event at the
// interval the tracker gave (1 s, above the floor), as a complete seed
// with its counters, our port, peer id and key, and the info hash it was
// parked with; the snapshot's tracker status shows it until unpark.
func TestParkAnnounceStartedThenInterval(t *testing.T) {
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		return 200, map[string]any{"interval": 1, "complete": 3, "incomplete": 0, "peers": ""}
	})
	st := newStatusRec()
	o := testParkOpts(st)
	o.maxInterval = time.Hour
	a := newParkAnnouncer(o)
	closeParkAnn(t, a)
	ih, key := testIH(1)
	a.park(ih, key, []string{tr.url(), tr.url(), "wss://tracker.example/announce"}, true, 1234, 5678)

	first := tr.next(t, 5*time.Second)
	second := tr.next(t, 5*time.Second)
	if first.event != "started" || second.event != "" {
		t.Fatalf("events %q, %q; want started, none", first.event, second.event)
	}
	if gap := second.at.Sub(first.at); gap < 990*time.Millisecond || gap > 2500*time.Millisecond {
		t.Fatalf("second announce %v after the first; want the tracker's 1 s interval", gap)
	}
	wantKey := strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(testParkPeerID[16:]))), 10)
	for _, r := range []annReq{first, second} {
		if r.ih != key || r.peerID != testParkPeerID || r.port != 51413 || r.left != 0 || r.up != 1234 || r.down != 5678 ||
			r.numwant != "50" || r.compct != "1" || r.key != wantKey {
			t.Fatalf("announce %+v; want info_hash %x, our peer id, port 51413, left 0, up 1234, down 5678, numwant 50, compact, key %s", r, key, wantKey)
		}
	}
	time.Sleep(50 * time.Millisecond) // the second outcome recorded
	got := st.facts.tracker(ih, tr.url())
	if got.Status != "ok" || got.Peers != 3 || got.Next.Before(time.Now()) || got.LastSeen.IsZero() {
		t.Fatalf("tracker status %+v; want ok, 3 peers, a next announce", got)
	}

	// Counters are updated by parking again.
	a.park(ih, key, []string{tr.url()}, true, 2000, 6000)
	if r := tr.next(t, 5*time.Second); r.up != 2000 || r.down != 6000 || r.event != "" {
		t.Fatalf("after park again: %+v; want up 2000 down 6000, no event", r)
	}

	a.unpark(ih)
	if got := st.facts.tracker(ih, tr.url()); got.Status != "" || !got.Next.IsZero() {
		t.Fatalf("tracker status after unpark %+v; want the parked status forgotten", got)
	}
	tr.none(t, 1500*time.Millisecond)
}

// A tracker's own interval is raised to the floor.
func TestParkAnnounceMinIntervalFloor(t *testing.T) {
	tr := newAnnTracker(t, nil) // interval 1
	o := testParkOpts(nil)
	o.minInterval, o.maxInterval = 1500*time.Millisecond, time.Hour
	a := newParkAnnouncer(o)
	closeParkAnn(t, a)
	ih, key := testIH(1)
	a.park(ih, key, []string{tr.url()}, true, 0, 0)
	first := tr.next(t, 5*time.Second)
	second := tr.next(t, 5*time.Second)
	if gap := second.at.Sub(first.at); gap < 1490*time.Millisecond {
		t.Fatalf("second announce %v after the first; want at least the 1.5 s floor", gap)
	}
}

// A hostile tracker's intervals are clamped: 10^9 s and 2^31-1 s to the
// cap, 0 and negative to the default; the announcer keeps announcing.
func TestParkAnnounceHostileIntervalClamped(t *testing.T) {
	intervals := []int64{1e9, 0, -7, 1<<31 - 1, 1e9}
	var mu sync.Mutex
	n := 0
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		iv := intervals[min(n, len(intervals)-1)]
		n++
		return 200, map[string]any{"interval": iv, "peers": ""}
	})
	st := newStatusRec()
	a := newParkAnnouncer(testParkOpts(st)) // default 150 ms, cap 300 ms
	closeParkAnn(t, a)
	ih, key := testIH(1)
	a.park(ih, key, []string{tr.url()}, true, 0, 0)
	for range 5 {
		tr.next(t, 5*time.Second)
	}
	evs := st.events()
	want := []time.Duration{300 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond}
	for i, w := range want {
		ev := evs[i]
		if d := ev.nxt.Sub(ev.now); ev.err != nil || d > w || d < w-20*time.Millisecond {
			t.Fatalf("announce %d (interval %d): next in %v, err %v; want %v", i, intervals[i], d, ev.err, w)
		}
	}
}

// Hostile responses (not bencode, a peers string that is no list of
// addresses, a failure reason, a body over 4 MiB, a body that never
// ends) are failed announces: no crash, an error status, a retry after
// the back-off.
func TestParkAnnounceHostileResponses(t *testing.T) {
	bodies := map[string]func(w http.ResponseWriter, r *http.Request){
		"not bencode": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>hello</html>")) },
		"bad peers":   func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("d8:intervali1e5:peers7:garbagee")) },
		"failure":     func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("d14:failure reason6:bannede")) },
		"huge": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("d8:intervali1e5:peers99999999:"))
			w.Write(bytes.Repeat([]byte{1}, 5<<20))
		},
		"slow": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("d8:interval"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		},
	}
	for name, h := range bodies {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(h))
			defer srv.Close()
			st := newStatusRec()
			o := testParkOpts(st)
			o.timeout = 300 * time.Millisecond
			a := newParkAnnouncer(o)
			ih, key := testIH(1)
			u := srv.URL + "/announce"
			a.park(ih, key, []string{u}, true, 0, 0)
			deadline := time.Now().Add(5 * time.Second)
			for len(st.events()) < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			got := st.facts.tracker(ih, u)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			a.close(ctx)
			cancel()
			evs := st.events()
			if len(evs) < 2 {
				t.Fatalf("%d outcomes reported in 5 s; want a failure and its retry", len(evs))
			}
			for _, ev := range evs[:2] {
				if ev.err == nil {
					t.Fatalf("announce answered with %s reported a success", name)
				}
			}
			t.Logf("%s: %v", name, evs[0].err)
			if d := evs[0].nxt.Sub(evs[0].now); d < 80*time.Millisecond || d > 100*time.Millisecond {
				t.Fatalf("retry in %v after the first failure; want the 100 ms back-off", d)
			}
			if got.Status != "error" || got.LastErr == "" {
				t.Fatalf("tracker status %+v; want error", got)
			}
		})
	}
}

// A failing tracker is retried after 100 ms, 200 ms, 400 ms, 400 ms (the
// cap), always with started since none got through; once it answers, the
// next announce carries no event and comes at its interval.
func TestParkAnnounceBackoff(t *testing.T) {
	var mu sync.Mutex
	fail := 5
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			return http.StatusServiceUnavailable, nil
		}
		return 200, map[string]any{"interval": 1, "peers": ""}
	})
	st := newStatusRec()
	a := newParkAnnouncer(testParkOpts(st))
	closeParkAnn(t, a)
	ih, key := testIH(1)
	a.park(ih, key, []string{tr.url()}, true, 0, 0)
	var reqs []annReq
	for range 7 {
		reqs = append(reqs, tr.next(t, 5*time.Second))
	}
	for i, r := range reqs {
		want := "started"
		if i == 6 {
			want = ""
		}
		if r.event != want {
			t.Fatalf("announce %d: event %q; want %q", i, r.event, want)
		}
	}
	// ms; after the success, the 1 s interval capped at 300 ms.
	want := []time.Duration{100, 200, 400, 400, 400, 300}
	evs := st.events()
	for i, w := range want {
		w *= time.Millisecond
		if gap := reqs[i+1].at.Sub(reqs[i].at); gap < w-5*time.Millisecond || gap > w+700*time.Millisecond {
			t.Fatalf("announce %d came %v after the one before; want %v", i+1, gap, w)
		}
		if ev := evs[i]; (ev.err != nil) != (i < 5) || ev.nxt.Sub(ev.now) > w || ev.nxt.Sub(ev.now) < w-20*time.Millisecond {
			t.Fatalf("outcome %d: err %v, next in %v; want next in %v", i, ev.err, ev.nxt.Sub(ev.now), w)
		}
	}
}

// stop sends stopped to the trackers that accepted an announce from us,
// and to no other: not to one that always failed, not to one never
// announced to yet; unpark sends nothing at all.
func TestParkAnnounceStopAndUnpark(t *testing.T) {
	ok := newAnnTracker(t, func(annReq) (int, map[string]any) {
		return 200, map[string]any{"interval": 60, "peers": ""}
	})
	bad := newAnnTracker(t, func(annReq) (int, map[string]any) { return http.StatusInternalServerError, nil })
	st := newStatusRec()
	o := testParkOpts(st)
	o.backoffMin, o.maxInterval = time.Hour, time.Hour
	a := newParkAnnouncer(o)
	closeParkAnn(t, a)

	ih, key := testIH(1)
	a.park(ih, key, []string{ok.url(), bad.url()}, true, 10, 20)
	if r := ok.next(t, 5*time.Second); r.event != "started" {
		t.Fatalf("first announce %q; want started", r.event)
	}
	if r := bad.next(t, 5*time.Second); r.event != "started" {
		t.Fatalf("first announce %q; want started", r.event)
	}
	time.Sleep(50 * time.Millisecond) // both outcomes recorded
	a.stop(ih)
	if r := ok.next(t, 5*time.Second); r.event != "stopped" || r.ih != key || r.left != 0 || r.up != 10 || r.down != 20 {
		t.Fatalf("after stop: %+v; want stopped for %x", r, key)
	}
	bad.none(t, 300*time.Millisecond)
	ok.none(t, 10*time.Millisecond)
	if got := st.facts.tracker(ih, ok.url()); got.Status != "" {
		t.Fatalf("tracker status after stop %+v; want the parked status forgotten", got)
	}

	// Parked and stopped or unparked before the first announce: nothing.
	o2 := testParkOpts(nil)
	o2.FirstDelay = time.Hour
	b := newParkAnnouncer(o2)
	closeParkAnn(t, b)
	ih2, key2 := testIH(2)
	b.park(ih2, key2, []string{ok.url()}, true, 0, 0)
	b.stop(ih2)
	ih3, key3 := testIH(3)
	b.park(ih3, key3, []string{ok.url()}, true, 0, 0)
	b.unpark(ih3)
	ok.none(t, 200*time.Millisecond)

	// Unparked after announces: nothing more, not even a stopped.
	ih4, key4 := testIH(4)
	a.park(ih4, key4, []string{ok.url()}, true, 0, 0)
	if r := ok.next(t, 5*time.Second); r.event != "started" || r.ih != key4 {
		t.Fatalf("first announce %+v; want started", r)
	}
	a.unpark(ih4)
	ok.none(t, 300*time.Millisecond)

	// stop while the started is in flight: the stopped follows it.
	slow := newAnnTracker(t, func(annReq) (int, map[string]any) {
		time.Sleep(200 * time.Millisecond)
		return 200, map[string]any{"interval": 60, "peers": ""}
	})
	ih5, key5 := testIH(5)
	a.park(ih5, key5, []string{slow.url()}, true, 0, 0)
	first := slow.next(t, 5*time.Second)
	if first.event != "started" {
		t.Fatalf("first announce %q; want started", first.event)
	}
	a.stop(ih5)
	if r := slow.next(t, 5*time.Second); r.event != "stopped" || r.at.Sub(first.at) < 200*time.Millisecond {
		t.Fatalf("after stop during the started: %q %v after it; want stopped once it was answered", r.event, r.at.Sub(first.at))
	}
}

// A tracker that reports leechers and returns peers makes the announcer
// hand them over, once per interval per torrent even with two such
// trackers; a swarm of seeds only is not reported.
func TestParkAnnounceLeechers(t *testing.T) {
	leechy := func(annReq) (int, map[string]any) {
		return 200, map[string]any{"interval": 1, "complete": 1, "incomplete": 2,
			"peers": compactPeers("127.0.0.2:6881", "127.0.0.3:51413")}
	}
	t1, t2 := newAnnTracker(t, leechy), newAnnTracker(t, leechy)
	seeds := newAnnTracker(t, func(annReq) (int, map[string]any) {
		return 200, map[string]any{"interval": 1, "complete": 5, "incomplete": 0,
			"peers": compactPeers("127.0.0.4:6881")}
	})
	type call struct {
		at    time.Time
		ih    InfoHash
		peers []string
	}
	callC := make(chan call, 100)
	o := testParkOpts(nil)
	o.maxInterval = time.Hour
	o.OnLeechers = func(ih InfoHash, peers []string) { callC <- call{time.Now(), ih, peers} }
	a := newParkAnnouncer(o)
	closeParkAnn(t, a)
	ih, key := testIH(1)
	a.park(ih, key, []string{t1.url(), t2.url()}, true, 0, 0)
	ihSeeds, keySeeds := testIH(2)
	a.park(ihSeeds, keySeeds, []string{seeds.url()}, true, 0, 0)

	var c1 call
	select {
	case c1 = <-callC:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnLeechers in 5 s")
	}
	if c1.ih != ih || !slices.Equal(c1.peers, []string{"127.0.0.2:6881", "127.0.0.3:51413"}) {
		t.Fatalf("OnLeechers(%v, %v); want the leechy torrent and its two peers", c1.ih, c1.peers)
	}
	// Both trackers answer twice with leechers: two calls, 1 s apart.
	var c2 call
	select {
	case c2 = <-callC:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnLeechers at the next interval")
	}
	if gap := c2.at.Sub(c1.at); gap < 990*time.Millisecond || c2.ih != ih {
		t.Fatalf("second OnLeechers %v after the first, for %v; want one per 1 s interval", gap, c2.ih)
	}
	time.Sleep(100 * time.Millisecond)
	if n1, n2, ns := len(t1.all()), len(t2.all()), len(seeds.all()); n1 < 2 || n2 < 2 || ns < 2 {
		t.Fatalf("announces: %d, %d to the leechy trackers, %d to the seeds' one; want 2 each at least", n1, n2, ns)
	}
	select {
	case c := <-callC:
		t.Fatalf("third OnLeechers %v after the second, for %v", c.at.Sub(c2.at), c.ih)
	default:
	}
}

// The DHT is announced for a torrent that is not private, under its key
// and our port, every period; a private torrent never.
func TestParkAnnounceDHT(t *testing.T) {
	type ann struct {
		key  [20]byte
		port int
	}
	annC := make(chan ann, 100)
	o := testParkOpts(nil)
	o.dhtEvery = 200 * time.Millisecond
	o.DHT = func(ctx context.Context, key [20]byte, port int) error {
		annC <- ann{key, port}
		return nil
	}
	a := newParkAnnouncer(o)
	closeParkAnn(t, a)
	pub, pubKey := testIH(1)
	priv, privKey := testIH(2)
	a.park(priv, privKey, nil, true, 0, 0)
	a.park(pub, pubKey, nil, false, 0, 0)
	var at []time.Time
	for i := range 3 {
		select {
		case got := <-annC:
			if got.key != pubKey || got.port != 51413 {
				t.Fatalf("DHT announce %d: %x port %d; want %x port 51413", i, got.key, got.port, pubKey)
			}
			at = append(at, time.Now())
		case <-time.After(5 * time.Second):
			t.Fatalf("DHT announce %d missing", i)
		}
	}
	if d := at[2].Sub(at[0]); d < 390*time.Millisecond {
		t.Fatalf("three DHT announces in %v; want one per 200 ms", d)
	}
	a.unpark(pub)
	select {
	case got := <-annC:
		t.Fatalf("DHT announce %x after unpark", got.key)
	case <-time.After(400 * time.Millisecond):
	}
}

// close sends stopped for 2,000 parked torrents, all announced, well
// within its context; against a tracker that never answers, close
// returns when its context ends.
func TestParkAnnounceClose(t *testing.T) {
	const n = 2000
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		return 200, map[string]any{"interval": 1800, "peers": ""}
	})
	o := testParkOpts(nil)
	o.spread, o.maxInterval = 200*time.Millisecond, time.Hour
	a := newParkAnnouncer(o)
	for i := range n {
		ih, key := testIH(i)
		a.park(ih, key, []string{tr.url()}, true, 0, 0)
	}
	start := time.Now()
	for range n {
		if r := tr.next(t, 30*time.Second); r.event != "started" {
			t.Fatalf("event %q; want started", r.event)
		}
	}
	t.Logf("%d started announces in %v", n, time.Since(start))
	// Some outcomes may still be on their way: close owes those a
	// stopped too.
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	a.close(ctx)
	cancel()
	took := time.Since(start)
	seen := make(map[[20]byte]bool)
	for range n {
		r := tr.next(t, time.Second)
		if r.event != "stopped" || seen[r.ih] {
			t.Fatalf("event %q for %x (seen %v); want one stopped each", r.event, r.ih, seen[r.ih])
		}
		seen[r.ih] = true
	}
	t.Logf("close: %d stopped announces in %v", n, took)
	if took > 15*time.Second {
		t.Fatalf("close took %v", took)
	}
	// Nothing is accepted after close.
	ih, key := testIH(n + 1)
	a.park(ih, key, []string{tr.url()}, true, 0, 0)
	a.stop(ih)
	tr.none(t, 100*time.Millisecond)

	// A tracker that hangs on stopped: close ends with its context.
	release := make(chan struct{})
	hang := newAnnTracker(t, func(r annReq) (int, map[string]any) {
		if r.event == "stopped" {
			<-release
		}
		return 200, map[string]any{"interval": 1800, "peers": ""}
	})
	defer close(release)
	b := newParkAnnouncer(o)
	for i := range 100 {
		ih, key := testIH(i)
		b.park(ih, key, []string{hang.url()}, true, 0, 0)
	}
	for range 100 {
		hang.next(t, 10*time.Second)
	}
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	b.close(ctx)
	cancel()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("close against a hanging tracker took %v; want about its 300 ms context", took)
	}
}

// Parked torrents cost no goroutine and no timer each.
func TestParkAnnounceIdleCost(t *testing.T) {
	o := testParkOpts(nil)
	o.FirstDelay = time.Hour
	o.DHT = func(context.Context, [20]byte, int) error { return nil }
	before := runtime.NumGoroutine()
	a := newParkAnnouncer(o)
	for i := range 5000 {
		ih, key := testIH(i)
		a.park(ih, key, []string{"udp://tracker.example:6969/announce", "https://tracker.example/announce?pk=1"}, false, 0, 0)
	}
	time.Sleep(50 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > before+1 {
		t.Fatalf("%d goroutines with 5,000 parked torrents, %d before", g, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.close(ctx) // none announced: nothing to send
	if ctx.Err() != nil {
		t.Fatal("close of torrents never announced waited for its context")
	}
}

// BenchmarkParkAnnouncerPark parks b.N torrents (two trackers, the DHT)
// and reports the heap each keeps while parked.
func BenchmarkParkAnnouncerPark(b *testing.B) {
	o := testParkOpts(nil)
	o.FirstDelay = time.Hour
	o.DHT = func(context.Context, [20]byte, int) error { return nil }
	trackers := []string{"udp://tracker.example:6969/announce", "https://tracker.example/announce?pk=1"}
	a := newParkAnnouncer(o)
	defer a.close(context.Background())
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ih, key := testIH(i)
		a.park(ih, key, trackers, false, 0, 0)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))/float64(b.N), "heap-B/parked")
	runtime.KeepAlive(a)
}

// End to end: a seeding torrent with a tracker parks; after anacrolix's
// stopped, the engine's announcer announces it started then at the
// tracker's interval, as a seed on our port with our peer id, and the
// snapshot shows the tracker ok; Pause sends stopped. Resumed and parked
// again, a tracker reporting leechers wakes it: anacrolix announces it
// itself (no numwant: anacrolix sends none over HTTP; we send 50, and 0
// with stopped).
func TestParkAnnounceEngine(t *testing.T) {
	parkAnnounceTuning = func(o *parkAnnounceOpts) {
		o.FirstDelay, o.spread, o.minInterval = 200*time.Millisecond, time.Millisecond, 10*time.Millisecond
	}
	t.Cleanup(func() { parkAnnounceTuning = nil })
	var leechers sync.Mutex
	withLeechers := false
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		leechers.Lock()
		defer leechers.Unlock()
		if withLeechers {
			return 200, map[string]any{"interval": 1, "complete": 1, "incomplete": 1, "peers": compactPeers("127.0.0.9:9")}
		}
		return 200, map[string]any{"interval": 1, "complete": 1, "incomplete": 0, "peers": ""}
	})
	dir := t.TempDir()
	root, torrentPath, _ := payloadTorrent(t, dir, 1, testSizes, CreateOptions{PieceLength: 32 << 10, Trackers: []string{tr.url()}})
	ctx := context.Background()
	e := startEngine(t, "seeder", parkConfig("127.0.0.51", 300*time.Millisecond), filepath.Join(dir, "s"))
	port := e.tcp.Addr().(*net.TCPAddr).Port
	ih, err := e.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	// The data checked complete, its trackers are ours at once: anacrolix
	// never announces it, so it owes them no stopped when it parks.
	next := func(what string, ok func(annReq) bool) annReq {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case r := <-tr.gotC:
				if r.numwant == "" {
					t.Fatalf("while waiting for %s: an announce by anacrolix, event %q", what, r.event)
				}
				if ok(r) {
					return r
				}
				t.Logf("while waiting for %s: event %q numwant %q", what, r.event, r.numwant)
			case <-deadline:
				t.Fatalf("no %s announce in 20 s", what)
			}
		}
	}
	started := next("our started", func(r annReq) bool { return r.numwant == "50" })
	if started.event != "started" || started.left != 0 || started.port != port || started.peerID != e.cl.PeerID() || started.ih != [20]byte(ih) {
		t.Fatalf("first announce %+v; want started, left 0, port %d, our peer id and info hash", started, port)
	}
	waitFor(t, e.Engine, ih, 30*time.Second, "parked", isParked)
	if r := next("none", func(r annReq) bool { return true }); r.event != "" || r.numwant != "50" || r.at.Sub(started.at) < 990*time.Millisecond {
		t.Fatalf("second announce %q numwant %q %v after the first; want none at the 1 s interval", r.event, r.numwant, r.at.Sub(started.at))
	}
	waitFor(t, e.Engine, ih, 5*time.Second, "tracker ok in the snapshot", func(x Torrent) bool {
		return len(x.Trackers) == 1 && x.Trackers[0].Status == "ok" && x.Trackers[0].Peers == 1 && !x.Trackers[0].Next.IsZero()
	})

	if err := e.Pause(ctx, ih); err != nil {
		t.Fatal(err)
	}
	next("parked stopped", func(r annReq) bool { return r.event == "stopped" && r.numwant == "0" })
	tr.none(t, 1500*time.Millisecond)

	// Resumed, it is ours again (started: the tracker heard stopped), in
	// the client; the leechers it reports are dialled; it parks again,
	// and anacrolix never announces it.
	leechers.Lock()
	withLeechers = true
	leechers.Unlock()
	if err := e.Resume(ctx, ih); err != nil {
		t.Fatal(err)
	}
	next("started with leechers", func(r annReq) bool { return r.numwant == "50" && r.event == "started" })
	waitFor(t, e.Engine, ih, 30*time.Second, "parked after resume", isParked)
	next("none after resume", func(r annReq) bool { return r.event == "" })
}

// close does not wait for an OnLeechers that blocks: the engine's waits
// for its loop, and the loop is what closes the announcer.
func TestParkAnnounceCloseWhileOnLeechersBlocks(t *testing.T) {
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		return 200, map[string]any{"interval": 60, "incomplete": 1, "peers": compactPeers("127.0.0.2:6881")}
	})
	called, loopFree := make(chan struct{}), make(chan struct{})
	o := testParkOpts(nil)
	o.OnLeechers = func(InfoHash, []string) {
		close(called)
		<-loopFree
	}
	a := newParkAnnouncer(o)
	ih, key := testIH(1)
	a.park(ih, key, []string{tr.url()}, true, 0, 0)
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnLeechers")
	}
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		a.close(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Error("close waits for a blocked OnLeechers")
	}
	close(loopFree)
	<-done
}

// udpAnnTracker is a BEP 15 tracker on loopback: it answers connect and
// announce (interval 1 s, one leecher at 127.0.0.7:7000) and records each
// announce request.
func udpAnnTracker(t *testing.T) (url string, gotC chan udp.AnnounceRequest) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gotC = make(chan udp.AnnounceRequest, 100)
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		b := make([]byte, 2048)
		for {
			n, addr, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			r := bytes.NewReader(b[:n])
			var h udp.RequestHeader
			if udp.Read(r, &h) != nil {
				continue
			}
			var out bytes.Buffer
			switch h.Action {
			case udp.ActionConnect:
				udp.Write(&out, udp.ResponseHeader{Action: udp.ActionConnect, TransactionId: h.TransactionId})
				udp.Write(&out, udp.ConnectionResponse{ConnectionId: 42})
			case udp.ActionAnnounce:
				var req udp.AnnounceRequest
				if h.ConnectionId != 42 || udp.Read(r, &req) != nil {
					continue
				}
				gotC <- req
				udp.Write(&out, udp.ResponseHeader{Action: udp.ActionAnnounce, TransactionId: h.TransactionId})
				udp.Write(&out, udp.AnnounceResponseHeader{Interval: 1, Leechers: 1, Seeders: 2})
				out.Write([]byte{127, 0, 0, 7, 0x1b, 0x58})
			default:
				continue
			}
			pc.WriteTo(out.Bytes(), addr)
		}
	}()
	return "udp://" + pc.LocalAddr().String() + "/announce", gotC
}

// Over UDP (anacrolix's client, our loopback tracker): started, then none
// at the 1 s interval, as a seed with numwant 50 and the client's key;
// the leecher it returns is handed over; stop sends stopped.
func TestParkAnnounceUDP(t *testing.T) {
	u, gotC := udpAnnTracker(t)
	leechC := make(chan []string, 10)
	st := newStatusRec()
	o := testParkOpts(st)
	o.maxInterval = time.Hour
	o.OnLeechers = func(_ InfoHash, peers []string) { leechC <- peers }
	a := newParkAnnouncer(o)
	closeParkAnn(t, a)
	ih, key := testIH(1)
	a.park(ih, key, []string{u}, true, 7, 9)
	next := func() (udp.AnnounceRequest, time.Time) {
		t.Helper()
		select {
		case r := <-gotC:
			return r, time.Now()
		case <-time.After(5 * time.Second):
			t.Fatal("no UDP announce in 5 s")
			return udp.AnnounceRequest{}, time.Time{}
		}
	}
	first, at1 := next()
	second, at2 := next()
	wantKey := int32(binary.BigEndian.Uint32(testParkPeerID[16:]))
	for i, r := range []udp.AnnounceRequest{first, second} {
		wantEv := []udp.AnnounceEvent{tracker.Started, tracker.None}[i]
		if r.Event != wantEv || r.InfoHash != key || r.PeerId != testParkPeerID || r.Left != 0 || r.Uploaded != 7 ||
			r.Downloaded != 9 || r.NumWant != 50 || r.Port != 51413 || r.Key != wantKey {
			t.Fatalf("UDP announce %d: %+v; want event %v, our info hash, peer id, key, port, left 0, up 7, down 9, numwant 50", i, r, wantEv)
		}
	}
	if gap := at2.Sub(at1); gap < 990*time.Millisecond {
		t.Fatalf("second UDP announce %v after the first; want the 1 s interval", gap)
	}
	select {
	case p := <-leechC:
		if !slices.Equal(p, []string{"127.0.0.7:7000"}) {
			t.Fatalf("OnLeechers peers %v; want 127.0.0.7:7000", p)
		}
	case <-time.After(time.Second):
		t.Fatal("no OnLeechers for the UDP tracker's leecher")
	}
	time.Sleep(50 * time.Millisecond)
	if got := st.facts.tracker(ih, u); got.Status != "ok" || got.Peers != 3 {
		t.Fatalf("tracker status %+v; want ok, 3 peers", got)
	}
	a.stop(ih)
	if r, _ := next(); r.Event != tracker.Stopped || r.NumWant != 0 {
		t.Fatalf("after stop: event %v numwant %d; want stopped, 0", r.Event, r.NumWant)
	}
}

// At most 8 tracker and 4 DHT announces are in flight, and DHT announces
// that hang hold up no tracker announce.
func TestParkAnnounceConcurrencyBounded(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		cur--
		mu.Unlock()
		return 200, map[string]any{"interval": 1800, "peers": ""}
	})
	var dcur, dpeak int
	o := testParkOpts(nil)
	o.spread, o.dhtEvery, o.maxInterval = time.Millisecond, time.Millisecond, time.Hour
	o.DHT = func(ctx context.Context, _ [20]byte, _ int) error {
		mu.Lock()
		dcur++
		dpeak = max(dpeak, dcur)
		mu.Unlock()
		<-ctx.Done() // hangs until close
		mu.Lock()
		dcur--
		mu.Unlock()
		return ctx.Err()
	}
	a := newParkAnnouncer(o)
	closeParkAnn(t, a)
	for i := range 50 {
		ih, key := testIH(i)
		a.park(ih, key, []string{tr.url()}, false, 0, 0)
	}
	for range 50 {
		tr.next(t, 10*time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > parkTrackerInFlight || peak < 2 || dpeak != parkDHTInFlight {
		t.Fatalf("in flight at most: %d tracker, %d DHT announces; want 2..%d and %d", peak, dpeak, parkTrackerInFlight, parkDHTInFlight)
	}
}

// A tracker is told what a torrent our announcer announces moved in this
// run: its uploads reach the tracker once the torrent has served a
// leecher, and after a restart the first announce (started) says 0
// uploaded although the torrent's all-time total is the whole torrent.
// Sending the all-time totals, as before, a tracker that takes a
// started's counters as new traffic credited them again at every start.
func TestParkAnnounceSessionCounters(t *testing.T) {
	parkAnnounceTuning = func(o *parkAnnounceOpts) {
		o.FirstDelay, o.spread, o.minInterval = 200*time.Millisecond, time.Millisecond, 10*time.Millisecond
	}
	t.Cleanup(func() { parkAnnounceTuning = nil })
	tr := newAnnTracker(t, func(annReq) (int, map[string]any) {
		return 200, map[string]any{"interval": 1, "complete": 1, "incomplete": 0, "peers": ""}
	})
	dir := t.TempDir()
	root, torrentPath, tf := payloadTorrent(t, dir, 2, testSizes, CreateOptions{PieceLength: 32 << 10, Trackers: []string{tr.url()}})
	state := filepath.Join(dir, "s")
	cfg := parkConfig("127.0.0.55", 300*time.Millisecond)
	seeder, seeded := seedEngine(t, "seeder", cfg, state, torrentPath, filepath.Dir(root), "parked", isParked)
	ih := seeded.InfoHash
	leecher := startEngine(t, "leecher", testConfig("127.0.0.56"), filepath.Join(dir, "l"))
	out := filepath.Join(dir, "out")
	if _, err := leecher.Add(context.Background(), AddSpec{Source: torrentPath, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, leecher.Engine, ih, 60*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))
	if err := leecher.stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for r := range tr.gotC {
		if r.ih == [20]byte(ih) && r.up >= tf.Size {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("no announce with %d bytes uploaded in 30 s", tf.Size)
		default:
		}
	}
	if err := seeder.stop(); err != nil {
		t.Fatal(err)
	}
	for len(tr.gotC) > 0 {
		<-tr.gotC
	}
	seeder = startEngine(t, "seeder2", cfg, state)
	if got := waitFor(t, seeder.Engine, ih, 10*time.Second, "restored", isComplete); got.Uploaded < tf.Size {
		t.Fatalf("all-time uploaded %d after the restart, want >= %d", got.Uploaded, tf.Size)
	}
	r := tr.next(t, 10*time.Second)
	if r.event != "started" || r.up != 0 || r.down != 0 {
		t.Fatalf("first announce after the restart: event %q, uploaded %d, downloaded %d; want started, 0, 0", r.event, r.up, r.down)
	}
}
