//go:build linux

package interop

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// HasAll connects to the peer at addr from the local address from, does a
// plain BitTorrent handshake for ih (no extensions), and reports whether
// the peer announces all pieces (by bitfield and have messages) within a
// second. It is the harness's client-neutral "is this seeder ready" check.
func HasAll(from netip.Addr, addr netip.AddrPort, ih InfoHash, pieces int) (bool, error) {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: from.AsSlice()}}
	c, err := d.Dial("tcp4", addr.String())
	if err != nil {
		return false, fmt.Errorf("cannot dial %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second)) //nolint:errcheck // a fresh TCP conn
	var hs bytes.Buffer
	hs.WriteByte(19)
	hs.WriteString("BitTorrent protocol")
	hs.Write(make([]byte, 8))
	hs.Write(ih[:])
	id := make([]byte, 20)
	copy(id, "-IP0001-")
	rand.Read(id[8:])
	hs.Write(id)
	if _, err := c.Write(hs.Bytes()); err != nil {
		return false, fmt.Errorf("cannot send handshake to %s: %w", addr, err)
	}
	reply := make([]byte, 68)
	if _, err := io.ReadFull(c, reply); err != nil {
		return false, fmt.Errorf("no handshake from %s: %w", addr, err)
	}
	if !bytes.Equal(reply[28:48], ih[:]) {
		return false, fmt.Errorf("%s answered for another infohash", addr)
	}
	have := make([]bool, pieces)
	count := 0
	c.SetDeadline(time.Now().Add(time.Second)) //nolint:errcheck
	for count < pieces {
		var n uint32
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			break // timeout or close: judge what we have
		}
		if n > 1<<20 {
			return false, fmt.Errorf("%s sent a %d-byte message", addr, n)
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(c, msg); err != nil {
			break
		}
		if n == 0 {
			continue // keep-alive
		}
		switch msg[0] {
		case 4: // have
			if n == 5 {
				if i := binary.BigEndian.Uint32(msg[1:]); int(i) < pieces && !have[i] {
					have[i] = true
					count++
				}
			}
		case 5: // bitfield
			for i := 0; i < pieces && 1+i/8 < len(msg); i++ {
				if msg[1+i/8]&(0x80>>(i%8)) != 0 && !have[i] {
					have[i] = true
					count++
				}
			}
		}
	}
	return count == pieces, nil
}

// WaitHasAll polls HasAll until it reports true or timeout passes.
func WaitHasAll(from netip.Addr, addr netip.AddrPort, ih InfoHash, pieces int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := HasAll(from, addr, ih, pieces)
		if ok {
			return nil
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	if last == nil {
		last = errors.New("it does not have every piece")
	}
	return fmt.Errorf("seeder %s not ready after %v: %w", addr, timeout, last)
}
