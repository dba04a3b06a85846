package core

// What the engine knows of peer connections: the facts anacrolix's
// callbacks record (peerTable), the match of a PeerConn to our own
// connection (connOf), and the snapshot's peers (pollPeers).

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// peerTable records what anacrolix callbacks tell us about peer
// connections. Callbacks run under the client lock, so they only update
// these maps (under mu, which guards them) and never call the client.
type peerTable struct {
	mu       sync.Mutex
	peers    map[*torrent.PeerConn]*peerFacts
	trackers map[trackerKey]*Tracker
	hosts    map[string]hostStatus // by host:port
}

type peerFacts struct {
	peerChoking, peerInterested bool
	exts                        []string
	client                      string
}

type trackerKey struct{ ih, url string }

// hostStatus is the outcome of the last dial to a tracker host.
type hostStatus struct {
	err  string
	when time.Time
}

func newPeerTable() *peerTable {
	return &peerTable{
		peers:    make(map[*torrent.PeerConn]*peerFacts),
		trackers: make(map[trackerKey]*Tracker),
		hosts:    make(map[string]hostStatus),
	}
}

func (p *peerTable) get(pc *torrent.PeerConn) *peerFacts {
	f := p.peers[pc]
	if f == nil {
		f = &peerFacts{peerChoking: true}
		p.peers[pc] = f
	}
	return f
}

func (p *peerTable) install(cb *torrent.Callbacks) {
	cb.ReadMessage = func(pc *torrent.PeerConn, m *pp.Message) {
		if m.Keepalive {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		f := p.get(pc)
		switch m.Type {
		case pp.Choke:
			f.peerChoking = true
		case pp.Unchoke:
			f.peerChoking = false
		case pp.Interested:
			f.peerInterested = true
		case pp.NotInterested:
			f.peerInterested = false
		}
	}
	cb.ReadExtendedHandshake = func(pc *torrent.PeerConn, m *pp.ExtendedHandshakeMessage) {
		exts := make([]string, 0, len(m.M))
		for name, id := range m.M {
			if id != 0 {
				exts = append(exts, string(name))
			}
		}
		slices.Sort(exts)
		p.mu.Lock()
		defer p.mu.Unlock()
		f := p.get(pc)
		f.exts = exts
		f.client = m.V
	}
	cb.PeerConnClosed = func(pc *torrent.PeerConn) {
		p.mu.Lock()
		delete(p.peers, pc)
		p.mu.Unlock()
	}
	cb.StatusUpdated = append(cb.StatusUpdated, func(ev torrent.StatusUpdatedEvent) {
		if ev.Url == "" || ev.InfoHash == "" {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		k := trackerKey{ev.InfoHash, ev.Url}
		tr := p.trackers[k]
		if tr == nil {
			tr = &Tracker{URL: ev.Url}
			p.trackers[k] = tr
		}
		switch ev.Event {
		case torrent.TrackerAnnounceSuccessful:
			tr.Status, tr.LastErr, tr.LastSeen = "ok", "", time.Now()
		case torrent.TrackerAnnounceError:
			tr.Status = "error"
			if ev.Error != nil {
				tr.LastErr = ev.Error.Error()
			}
		case torrent.TrackerConnected:
			tr.Status = "connected"
		case torrent.TrackerDisconnected:
			tr.Status = "disconnected"
		}
	})
}

// lookup returns a copy of what is known about pc.
func (p *peerTable) lookup(pc *torrent.PeerConn) peerFacts {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.peers[pc]; ok {
		return *f
	}
	return peerFacts{peerChoking: true}
}

func (p *peerTable) trackerDialed(addr string, err error) {
	st := hostStatus{when: time.Now()}
	if err != nil {
		st.err = err.Error()
	}
	p.mu.Lock()
	p.hosts[addr] = st
	p.mu.Unlock()
}

// parkedAnnounce records the outcome of an announce the park announcer
// made for torrent ih, out of anacrolix (park_announce.go: its Status).
// errParkOver forgets it: the torrent is back in anacrolix, or stopped.
func (p *peerTable) parkedAnnounce(ih InfoHash, rawURL string, err error, peers int, next time.Time) {
	k := trackerKey{ih.String(), rawURL}
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(err, errParkOver) {
		delete(p.trackers, k)
		return
	}
	tr := p.trackers[k]
	if tr == nil {
		tr = &Tracker{URL: rawURL}
		p.trackers[k] = tr
	}
	if err != nil {
		tr.Status, tr.LastErr, tr.Next = "error", err.Error(), next
	} else {
		tr.Status, tr.LastErr, tr.Peers, tr.Next, tr.LastSeen = "ok", "", peers, next, time.Now()
	}
}

func (p *peerTable) tracker(ih InfoHash, rawURL string) Tracker {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tr, ok := p.trackers[trackerKey{ih.String(), rawURL}]; ok {
		return *tr
	}
	tr := Tracker{URL: rawURL}
	if u, err := url.Parse(rawURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
		if st, ok := p.hosts[host]; ok {
			if st.err != "" {
				tr.Status, tr.LastErr = "error", st.err
			} else {
				tr.Status, tr.LastSeen = "contacted", st.when
			}
		}
	}
	return tr
}

// connOf returns our wrapped connection carrying pc, once it is known
// which one that is; nil until then, or when pc is not on one of ours
// (anacrolix does not expose a PeerConn's net.Conn). A PeerConn is
// matched by its remote address to the one live connection of the same
// direction and transport not matched to another PeerConn; the match is
// kept until pc closes. Cheap and lock-free: anacrolix callbacks call it.
func (e *Engine) connOf(pc *torrent.PeerConn) *Conn {
	if v, ok := e.connByPeer.Load(pc); ok {
		return v.(*Conn)
	}
	var found *Conn
	for _, c := range e.peerConnCandidates(pc) {
		if found != nil {
			return nil // ambiguous: see matchConn
		}
		found = c
	}
	return e.bindConn(pc, found)
}

// matchConn is connOf that also settles the ambiguous case, two
// connections to one remote address (two torrents of one peer, both
// dialled by us): the one whose byte counts equal pc's (anacrolix counts
// every byte through the connection, its handshakes included) while both
// are still. Not from a callback: PeerConn.Stats takes the client lock.
func (e *Engine) matchConn(pc *torrent.PeerConn) *Conn {
	if c := e.connOf(pc); c != nil {
		return c
	}
	cands := e.peerConnCandidates(pc)
	if len(cands) < 2 {
		return nil
	}
	type counts struct{ read, written int64 }
	before := make([]counts, len(cands))
	for i, c := range cands {
		before[i] = counts{c.BytesRead(), c.BytesWritten()}
	}
	st := pc.Stats()
	want := counts{st.BytesRead.Int64(), st.BytesWritten.Int64()}
	var found *Conn
	for i, c := range cands {
		if before[i] != want || (counts{c.BytesRead(), c.BytesWritten()}) != want {
			continue
		}
		if found != nil {
			return nil // still ambiguous: the next look may tell
		}
		found = c
	}
	return e.bindConn(pc, found)
}

// peerConnCandidates are the live connections that may carry pc: the
// same remote address, direction and transport, not matched yet.
func (e *Engine) peerConnCandidates(pc *torrent.PeerConn) []*Conn {
	remote := pc.RemoteAddr.String()
	outgoing := pc.Discovery != torrent.PeerSourceIncoming
	transport := "tcp"
	if strings.Contains(pc.Network, "udp") {
		transport = "utp"
	}
	var out []*Conn
	for _, c := range e.conns.Conns() {
		if c.key.Remote == remote && c.outgoing == outgoing && c.transport == transport && !c.claimed.Load() {
			out = append(out, c)
		}
	}
	return out
}

// bindConn records that c carries pc (nil: nothing to record).
func (e *Engine) bindConn(pc *torrent.PeerConn, c *Conn) *Conn {
	if c == nil || !c.claimed.CompareAndSwap(false, true) {
		return nil
	}
	if v, loaded := e.connByPeer.LoadOrStore(pc, c); loaded {
		c.claimed.Store(false) // matched meanwhile, on another goroutine
		return v.(*Conn)
	}
	return c
}

// unbindConn forgets pc's connection (PeerConnClosed).
func (e *Engine) unbindConn(pc *torrent.PeerConn) { e.connByPeer.Delete(pc) }

func (e *Engine) pollPeers(ts *tstate, out *Torrent, dt time.Duration) {
	conns := ts.t.PeerConns()
	seen := make(map[*torrent.PeerConn]bool, len(conns))
	for _, pc := range conns {
		seen[pc] = true
		st := pc.Stats()
		pr := ts.peers[pc]
		if pr == nil {
			pr = &peerRate{}
			ts.peers[pc] = pr
		}
		down, up := st.BytesReadData.Int64(), st.BytesWrittenData.Int64()
		pr.downRate = ewma(pr.downRate, down-pr.down, dt)
		pr.upRate = ewma(pr.upRate, up-pr.up, dt)
		pr.down, pr.up = down, up

		f := e.facts.lookup(pc)
		c := e.matchConn(pc)
		p := Peer{
			Key:          PeerKey(pc.RemoteAddr.String()),
			PeerID:       fmt.Sprintf("%x", pc.PeerID[:]),
			Incoming:     pc.Discovery == torrent.PeerSourceIncoming,
			Transport:    "tcp",
			PeerChoking:  f.peerChoking,
			PeerInterest: f.peerInterested,
			// anacrolix keeps our choke/interest state private: with
			// Seed on it unchokes every interested peer, and we are
			// interested while the peer has pieces we still want.
			AmChoking:  !f.peerInterested,
			Extensions: f.exts,
			DownRate:   int64(pr.downRate),
			UpRate:     int64(pr.upRate),
			Downloaded: down,
			Uploaded:   up,
		}
		if c != nil {
			// The connection's own flags (a PeerConn not matched yet: by
			// what anacrolix says of it, and not known to be encrypted).
			p.Incoming, p.Transport, p.Encrypted = !c.Outgoing(), c.Transport(), c.Encrypted()
		} else if strings.Contains(pc.Network, "udp") {
			p.Transport = "utp"
		}
		p.Client = f.client
		if p.Client == "" {
			p.Client = clientFromPeerID(pc.PeerID)
		}
		if out.NumPieces > 0 {
			p.Progress = float64(st.RemotePieceCount) / float64(out.NumPieces)
			if p.Progress >= 1 {
				out.SeedCount++
			}
			p.AmInterested = out.Done < out.Size && p.Progress > 0 && !peerHasOnlyWhatWeHave(pc, out.Pieces)
		}
		if c != nil {
			if cur, ok := c.InfoHash(); !ok || cur != out.InfoHash {
				c.setTorrent(out.InfoHash, ts.down, ts.up)
			}
		}
		out.Peers = append(out.Peers, p)
	}
	for pc := range ts.peers {
		if !seen[pc] {
			delete(ts.peers, pc)
		}
	}
	out.PeerCount = len(out.Peers)
}

// peerHasOnlyWhatWeHave reports whether every piece the peer has is one we
// have too.
func peerHasOnlyWhatWeHave(pc *torrent.PeerConn, ours []byte) bool {
	bm := pc.PeerPieces()
	it := bm.Iterator()
	for it.HasNext() {
		i := int(it.Next())
		if i < len(ours) && ours[i] != 2 {
			return false
		}
	}
	return true
}

// clientFromPeerID names the client from an Azureus-style peer ID
// ("-TR3000-…").
func clientFromPeerID(id [20]byte) string {
	if id[0] == '-' && id[7] == '-' {
		names := map[string]string{
			"TR": "Transmission", "qB": "qBittorrent", "LT": "libtorrent", "lt": "rTorrent",
			"UT": "µTorrent", "DE": "Deluge", "AZ": "Vuze", "BD": "bidtorrent", "GT": "anacrolix",
			"BT": "BitTorrent", "KT": "KTorrent", "BC": "BitComet",
		}
		code := string(id[1:3])
		if n, ok := names[code]; ok {
			return n + " " + string(id[3:7])
		}
		return string(id[1:7])
	}
	if bytes.HasPrefix(id[:], []byte("A2-")) {
		return "aria2 " + strings.ReplaceAll(strings.TrimRight(string(id[3:10]), "-"), "-", ".")
	}
	return ""
}
