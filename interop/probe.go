//go:build linux

package interop

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
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

// FetchV1 downloads every piece of the torrent ti from the peer at addr
// as a plain BitTorrent v1 leecher would (BEP 3 handshake on the v1
// infohash, no extension or v2 bits; interested, then 16 KiB requests),
// checks each piece's SHA-1 against ti.Hashes and returns the payload.
// The harness's own v1 client: aria2 1.36 and Transmission 3.00 cannot
// read hybrid torrents.
func FetchV1(from netip.Addr, addr netip.AddrPort, ti TorrentInfo, timeout time.Duration) ([]byte, error) {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: from.AsSlice()}}
	c, err := d.Dial("tcp4", addr.String())
	if err != nil {
		return nil, fmt.Errorf("cannot dial %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout)) //nolint:errcheck // a fresh TCP conn
	var hs bytes.Buffer
	hs.WriteByte(19)
	hs.WriteString("BitTorrent protocol")
	hs.Write(make([]byte, 8))
	hs.Write(ti.InfoHash[:])
	id := make([]byte, 20)
	copy(id, "-IP0001-")
	rand.Read(id[8:])
	hs.Write(id)
	hs.Write([]byte{0, 0, 0, 1, 2}) // interested
	if _, err := c.Write(hs.Bytes()); err != nil {
		return nil, err
	}
	reply := make([]byte, 68)
	if _, err := io.ReadFull(c, reply); err != nil {
		return nil, fmt.Errorf("no handshake: %w", err)
	}
	if !bytes.Equal(reply[28:48], ti.InfoHash[:]) {
		return nil, errors.New("answered for another infohash")
	}
	const block = 16 << 10
	data := make([]byte, ti.Length)
	requested := false
	got := int64(0)
	for got < ti.Length {
		var n uint32
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return nil, fmt.Errorf("after %d of %d bytes: %w", got, ti.Length, err)
		}
		if n > 1<<20 {
			return nil, fmt.Errorf("a %d-byte message", n)
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(c, msg); err != nil {
			return nil, fmt.Errorf("after %d of %d bytes: %w", got, ti.Length, err)
		}
		switch {
		case n == 0:
		case msg[0] == 1 && !requested: // unchoke: ask for everything
			requested = true
			var req bytes.Buffer
			for off := int64(0); off < ti.Length; off += block {
				piece, begin := off/ti.PieceLength, off%ti.PieceLength
				ln := min(block, ti.PieceLength-begin, ti.Length-off)
				binary.Write(&req, binary.BigEndian, []uint32{13}) //nolint:errcheck // a buffer
				req.WriteByte(6)
				binary.Write(&req, binary.BigEndian, []uint32{uint32(piece), uint32(begin), uint32(ln)}) //nolint:errcheck
			}
			if _, err := c.Write(req.Bytes()); err != nil {
				return nil, err
			}
		case msg[0] == 7 && n > 9: // piece
			off := int64(binary.BigEndian.Uint32(msg[1:]))*ti.PieceLength + int64(binary.BigEndian.Uint32(msg[5:]))
			if off+int64(n-9) > ti.Length {
				return nil, fmt.Errorf("a block past the end at %d", off)
			}
			got += int64(copy(data[off:], msg[9:]))
		}
	}
	for i := 0; i < ti.Pieces; i++ {
		end := min(int64(i+1)*ti.PieceLength, ti.Length)
		if sum := sha1.Sum(data[int64(i)*ti.PieceLength : end]); string(sum[:]) != ti.Hashes[i*20:i*20+20] {
			return nil, fmt.Errorf("piece %d fails its v1 SHA-1", i)
		}
	}
	return data, nil
}
