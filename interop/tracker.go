//go:build linux

package interop

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// InfoHash is a torrent's v1 infohash: the SHA-1 of its bencoded info dict.
type InfoHash [20]byte

// String returns the infohash in lower-case hex, as magnet links write it.
func (h InfoHash) String() string { return fmt.Sprintf("%x", h[:]) }

// Announce is one announce the tracker received.
type Announce struct {
	InfoHash InfoHash
	PeerID   string
	Addr     netip.AddrPort // where the tracker will tell others to dial
	Event    string
	Left     int64
}

// Tracker is a minimal HTTP BitTorrent tracker (BEP 3, compact peer lists,
// BEP 23) for loopback tests. It answers every infohash; a peer's address is
// the announce's ip parameter when it is an IPv4 address, otherwise the
// connection's source address. Peers can also be added by hand, for clients
// whose announces name the wrong address.
type Tracker struct {
	// URL is the announce URL, http://HOST:PORT/announce.
	URL string

	srv *http.Server
	ln  net.Listener

	mu        sync.Mutex // guards the fields below
	peers     map[InfoHash]map[netip.AddrPort]string
	announces []Announce
}

// StartTracker serves a tracker on addr (HOST:PORT, port 0 picks one).
func StartTracker(addr string) (*Tracker, error) {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot start tracker on %s: %w", addr, err)
	}
	t := &Tracker{
		URL:   "http://" + ln.Addr().String() + "/announce",
		ln:    ln,
		peers: make(map[InfoHash]map[netip.AddrPort]string),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/announce", t.announce)
	t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go t.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return t, nil
}

// Close stops the tracker.
func (t *Tracker) Close() error { return t.srv.Close() }

// AddPeer makes the tracker hand out addr for ih, as if it had announced.
func (t *Tracker) AddPeer(ih InfoHash, addr netip.AddrPort) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addLocked(ih, addr, "")
}

func (t *Tracker) addLocked(ih InfoHash, addr netip.AddrPort, peerID string) {
	m := t.peers[ih]
	if m == nil {
		m = make(map[netip.AddrPort]string)
		t.peers[ih] = m
	}
	m[addr] = peerID
}

// Forget drops every peer of ih, so the next swarm starts clean.
func (t *Tracker) Forget(ih InfoHash) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.peers, ih)
}

// Announces returns every announce received so far, oldest first.
func (t *Tracker) Announces() []Announce {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Announce(nil), t.announces...)
}

func (t *Tracker) announce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ih InfoHash
	if raw := q.Get("info_hash"); len(raw) == len(ih) {
		copy(ih[:], raw)
	} else {
		trackerFailure(w, "bad info_hash")
		return
	}
	port, err := strconv.ParseUint(q.Get("port"), 10, 16)
	if err != nil || port == 0 {
		trackerFailure(w, "bad port")
		return
	}
	ip, err := netip.ParseAddr(q.Get("ip"))
	if err != nil || !ip.Is4() {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip, err = netip.ParseAddr(host)
		if err != nil {
			trackerFailure(w, "cannot tell the peer's address")
			return
		}
	}
	ip = ip.Unmap()
	left, _ := strconv.ParseInt(q.Get("left"), 10, 64)
	a := Announce{
		InfoHash: ih,
		PeerID:   q.Get("peer_id"),
		Addr:     netip.AddrPortFrom(ip, uint16(port)),
		Event:    q.Get("event"),
		Left:     left,
	}

	t.mu.Lock()
	t.announces = append(t.announces, a)
	if a.Event == "stopped" {
		delete(t.peers[ih], a.Addr)
	} else {
		t.addLocked(ih, a.Addr, a.PeerID)
	}
	var compact []byte
	for addr, id := range t.peers[ih] {
		if addr == a.Addr || (id != "" && id == a.PeerID) || !addr.Addr().Is4() {
			continue
		}
		compact = binary.BigEndian.AppendUint32(compact, binary.BigEndian.Uint32(addr.Addr().AsSlice()))
		compact = binary.BigEndian.AppendUint16(compact, addr.Port())
	}
	t.mu.Unlock()

	var b bytes.Buffer
	fmt.Fprintf(&b, "d8:intervali30e12:min intervali5e5:peers%d:", len(compact))
	b.Write(compact)
	b.WriteString("e")
	w.Header().Set("Content-Type", "text/plain")
	w.Write(b.Bytes()) //nolint:errcheck // the client reads what it can
}

func trackerFailure(w http.ResponseWriter, reason string) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "d14:failure reason%d:%se", len(reason), reason)
}
