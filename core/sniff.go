package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/torrent/mse"
)

// Incoming connections pass through a sniffer before anacrolix sees them
// (issue 19). It reads the start of each handshake to learn which torrent
// the peer asks for, so that a parked torrent (park.go) is back in the
// client before anacrolix, which drops a connection for a torrent it does
// not hold, reads the handshake. A plaintext handshake (BEP 3) names the
// torrent in its first 48 bytes. An MSE one proves that the peer knows
// the torrent's key: the sniffer answers it itself, with anacrolix's own
// mse package, and hands anacrolix the decrypted stream, so anacrolix only
// ever receives plaintext on incoming connections. Peers see no
// difference. Our *Conn underneath still counts and limits the bytes on
// the wire and tells plaintext from MSE (Conn.Encrypted).

const (
	// sniffTimeout bounds the time from accept to hand-over: the peer's
	// handshake start and the wake-up of its torrent.
	sniffTimeout = 15 * time.Second
	// sniffInFlight is the most connections sniffed at once, and
	// sniffPerIP the most from one IP address: a connection accepted
	// beyond either is closed. Without the second, one host holding
	// sniffInFlight silent connections would keep every other peer out.
	sniffInFlight = 1024
	sniffPerIP    = 8
)

// acceptor is the listener a sniffer reads: tcpListener or utpTransport.
type acceptor interface {
	Accept() (net.Conn, error)
	Addr() net.Addr
}

// sniffer is a net.Listener whose Accept returns connections whose
// handshake start has been read, for a torrent of ours that is in the
// anacrolix client.
type sniffer struct {
	inner      acceptor
	closeInner func() error
	keys       *hashIndex
	wake       func(context.Context, InfoHash) error
	plain, mse bool          // incoming plaintext, MSE handshakes accepted
	timeout    time.Duration // from accept to hand-over, at most
	log        *slog.Logger

	ctx    context.Context // done when the sniffer is closed
	cancel context.CancelFunc
	slots  chan struct{} // one per connection being sniffed
	ipMu   sync.Mutex
	perIP  map[netip.Addr]int // connections being sniffed, by remote IP
	readyC chan net.Conn
	wg     sync.WaitGroup // the pump and every sniff

	pumpDone chan struct{} // closed when the pump stops; then pumpErr is set
	pumpErr  error
}

// newSniffer starts reading inner's connections. encryption is the
// engine's policy (Config.Encryption): "require" refuses plaintext
// handshakes, "disable" refuses MSE. A connection not ready for hand-over
// within timeout is closed; log gets a line at debug level for each.
// Close closes inner with closeInner.
func newSniffer(inner acceptor, closeInner func() error, keys *hashIndex, wake func(context.Context, InfoHash) error, encryption string, timeout time.Duration, log *slog.Logger) *sniffer {
	s := &sniffer{
		inner:      inner,
		closeInner: closeInner,
		keys:       keys,
		wake:       wake,
		plain:      encryption != "require",
		mse:        encryption != "disable",
		timeout:    timeout,
		log:        log,
		slots:      make(chan struct{}, sniffInFlight),
		perIP:      make(map[netip.Addr]int),
		readyC:     make(chan net.Conn),
		pumpDone:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.pump()
	return s
}

// sniff wraps one of the engine's listeners (closed by closeL).
func (e *Engine) sniff(l acceptor, closeL func() error) *sniffer {
	return newSniffer(l, closeL, e.keys, e.wakeFor, e.cfg.Encryption, sniffTimeout, e.log.With("module", "sniff"))
}

// Accept returns the next connection ready for anacrolix.
func (s *sniffer) Accept() (net.Conn, error) {
	select {
	case c := <-s.readyC:
		return c, nil
	case <-s.ctx.Done():
		return nil, net.ErrClosed
	case <-s.pumpDone:
		return nil, s.pumpErr
	}
}

// Addr returns the inner listener's address.
func (s *sniffer) Addr() net.Addr { return s.inner.Addr() }

// Close closes the inner listener and every connection not handed over
// yet, and returns once the sniffer's goroutines have.
func (s *sniffer) Close() error {
	s.cancel()
	var err error
	if s.closeInner != nil {
		err = s.closeInner()
	}
	s.wg.Wait()
	return err
}

// pump accepts from the inner listener and starts a sniff for each
// connection, while a slot is free.
func (s *sniffer) pump() {
	defer s.wg.Done()
	defer close(s.pumpDone)
	var delay time.Duration
	for {
		nc, err := s.inner.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				s.pumpErr = err
				return
			}
			// Out of file descriptors, say: wait as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
			}
			continue
		}
		delay = 0
		ip := remoteIP(nc)
		if !s.takeIP(ip) {
			_ = nc.Close()
			s.log.Debug("incoming connection closed: too many handshakes in flight from its address", "remote", nc.RemoteAddr().String())
			continue
		}
		select {
		case s.slots <- struct{}{}:
			s.wg.Add(1)
			go s.sniff(nc, ip)
		default:
			s.releaseIP(ip)
			_ = nc.Close()
			s.log.Debug("incoming connection closed: too many handshakes in flight", "remote", nc.RemoteAddr().String())
		}
	}
}

// remoteIP is what sniffPerIP counts nc by: its remote IPv4 address, or
// the /64 of its IPv6 address (one host's usual share: counting single
// IPv6 addresses would give it 2^64 quotas); the zero Addr if it has
// none.
func remoteIP(nc net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ipQuotaKey(ap.Addr())
}

func ipQuotaKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// takeIP counts a connection from ip being sniffed; false when ip has
// sniffPerIP already.
func (s *sniffer) takeIP(ip netip.Addr) bool {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.perIP[ip] >= sniffPerIP {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *sniffer) releaseIP(ip netip.Addr) {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// sniff reads nc's handshake start and hands nc over, or closes it.
// Past the timeout (or when the sniffer closes) nc is closed, which ends
// any read.
func (s *sniffer) sniff(nc net.Conn, ip netip.Addr) {
	defer s.wg.Done()
	defer func() { <-s.slots; s.releaseIP(ip) }()
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	c, err := s.handshake(ctx, nc)
	if err != nil {
		_ = nc.Close()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("handshake not done within %s", s.timeout)
		}
		s.log.Debug("incoming connection closed", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	if !stop() {
		return // closed meanwhile
	}
	select {
	case s.readyC <- c:
	case <-ctx.Done():
		_ = nc.Close()
	}
}

// errRefused: the handshake is not one the sniffer hands over.
var errRefused = errors.New("handshake refused")

// handshake reads the start of nc's handshake and wakes the torrent it
// names. It returns the connection anacrolix is to read: a plaintext
// handshake from its first byte.
func (s *sniffer) handshake(ctx context.Context, nc net.Conn) (net.Conn, error) {
	head := make([]byte, 68) // a BEP 3 handshake: protocol, reserved, infohash, peer id
	if _, err := io.ReadFull(nc, head[:len(btProtocol)]); err != nil {
		return nil, err
	}
	if string(head[:len(btProtocol)]) == btProtocol {
		if !s.plain {
			return nil, fmt.Errorf("%w: plaintext, encryption required", errRefused)
		}
		if _, err := io.ReadFull(nc, head[len(btProtocol):]); err != nil {
			return nil, err
		}
		ih, ok := s.keys.lookup([20]byte(head[28:48]))
		if !ok {
			return nil, fmt.Errorf("%w: unknown infohash %x", errRefused, head[28:48])
		}
		if err := s.wake(ctx, ih); err != nil {
			return nil, err
		}
		return &sniffedConn{Conn: nc, r: io.MultiReader(bytes.NewReader(head), nc), w: nc}, nil
	}
	if !s.mse {
		return nil, fmt.Errorf("%w: MSE, encryption disabled", errRefused)
	}
	// The peer's Diffie-Hellman key (96 bytes) began with what was read.
	rw := struct {
		io.Reader
		io.Writer
	}{io.MultiReader(bytes.NewReader(head[:len(btProtocol)]), nc), nc}
	// Each key of ours is a secret key the peer may have used: the
	// handshake stops at the one it used, so key holds it on success.
	var key [20]byte
	keys := func(try func(skey []byte) bool) {
		s.keys.each(func(k [20]byte) bool {
			key = k
			return try(key[:])
		})
	}
	// The selector anacrolix's client uses (NewDefaultClientConfig).
	stream, _, err := mse.ReceiveHandshake(ctx, rw, keys, mse.DefaultCryptoSelector)
	if err != nil {
		return nil, err
	}
	ih, ok := s.keys.lookup(key)
	if !ok {
		return nil, fmt.Errorf("%w: torrent %x removed", errRefused, key)
	}
	if err := s.wake(ctx, ih); err != nil {
		return nil, err
	}
	return &sniffedConn{Conn: nc, r: stream, w: stream}, nil
}

// sniffedConn is an accepted connection whose handshake start the
// sniffer read: Read and Write go through r and w (the bytes read, then
// the connection; or the decrypted MSE stream); addresses, deadlines and
// Close are the connection's own.
type sniffedConn struct {
	net.Conn
	r io.Reader
	w io.Writer
}

func (c *sniffedConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *sniffedConn) Write(p []byte) (int, error) { return c.w.Write(p) }
