package core

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// With uTP off, a uTP connection request (BEP 29 ST_SYN) to our UDP port
// would go unanswered, and a peer that tries uTP first (libtorrent's and
// so qBittorrent's default) would wait out its uTP connect timeout, about
// 3 s, before falling back to TCP. utpRefuser answers each SYN with an
// ST_RESET instead, so the peer falls back at once. The DHT shares the
// socket: its messages are bencoded dictionaries (first byte 'd'), which
// no uTP header starts with, and reach the DHT server untouched.

const (
	utpHeaderLen = 20
	utpVersion   = 1
	utpStReset   = 3
	utpStSyn     = 4
)

// utpReset returns the ST_RESET answering pkt if pkt is a uTP version-1
// ST_SYN, and ok false otherwise. The reset carries the SYN's connection
// id (the initiator's receive id) and acknowledges its sequence number;
// timestamps, window and our own sequence number are zero, as nothing
// follows it.
func utpReset(pkt []byte) (reset [utpHeaderLen]byte, ok bool) {
	if len(pkt) < utpHeaderLen || pkt[0] != utpStSyn<<4|utpVersion {
		return reset, false
	}
	reset[0] = utpStReset<<4 | utpVersion
	copy(reset[2:4], pkt[2:4])     // connection_id
	copy(reset[18:20], pkt[16:18]) // ack_nr = the SYN's seq_nr
	return reset, true
}

// utpRefuser is a PacketConn whose reads answer uTP SYNs with a reset and
// pass every other datagram on (to the DHT server, when it is on).
type utpRefuser struct {
	net.PacketConn
}

// ReadFrom returns the next datagram that is not a uTP SYN.
func (c utpRefuser) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		reset, ok := utpReset(b[:n])
		if !ok {
			return n, addr, nil
		}
		// A lost reset costs the peer its timeout, as before: nothing to retry.
		_, _ = c.PacketConn.WriteTo(reset[:], addr)
	}
}

// refuseUTP serves pc when nothing else reads it (DHT off): it answers
// SYNs and drops every other datagram until pc is closed. done is closed
// when it returns. Other read errors (Windows reports an ICMP unreachable
// on the next read) are logged once and skipped.
func refuseUTP(pc net.PacketConn, log *slog.Logger, done chan<- struct{}) {
	defer close(done)
	r := utpRefuser{pc}
	b := make([]byte, 2048)
	logged := false
	for {
		_, _, err := r.ReadFrom(b)
		switch {
		case err == nil:
		case errors.Is(err, net.ErrClosed):
			return
		default:
			if !logged {
				log.Warn("reading the UDP port", "err", err)
				logged = true
			}
			time.Sleep(10 * time.Millisecond) // no spin on a persistent error
		}
	}
}
