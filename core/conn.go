package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// This file is the one place every peer connection passes through: our own
// TCP listener and dialer (and the uTP socket) hand anacrolix wrapped
// net.Conns. Rate limits (global and per torrent) are applied here, and the
// upload shaper of the bandwidth market plugs in here too (Conn.SetShaper).

// ConnKey identifies a live connection by its address pair.
type ConnKey struct {
	Local, Remote string // host:port
}

// String returns "local-remote".
func (k ConnKey) String() string { return k.Local + "-" + k.Remote }

// Waiter is what a connection waits on before writing or after reading n
// bytes. *rate.Limiter satisfies it. WaitN must return an error when ctx is
// done; n never exceeds MaxN.
type Waiter interface {
	WaitN(ctx context.Context, n int) error
}

// Conn is a peer connection carried by one of our transports. Its Write
// passes through, in order, the per-torrent upload limiter, the shaper and
// the global upload limiter; its Read is followed by the matching download
// waits. All setters are safe from any goroutine.
type Conn struct {
	net.Conn
	key       ConnKey
	transport string // "tcp" or "utp"
	outgoing  bool
	reg       *ConnRegistry

	ctx    context.Context // done when the conn is closed
	cancel context.CancelFunc

	torrentUp   atomic.Pointer[rate.Limiter]
	torrentDown atomic.Pointer[rate.Limiter]
	shaper      atomic.Pointer[Waiter]
	infoHash    atomic.Pointer[InfoHash]

	read      atomic.Int64
	written   *tripwire   // bytes written; the market arms it (ArmWritten)
	opening   opening     // the initiator's first bytes: plaintext or MSE
	claimed   atomic.Bool // matched to an anacrolix PeerConn (torrents.go)
	closeOnce sync.Once
}

// Key returns the connection's address pair.
func (c *Conn) Key() ConnKey { return c.key }

// Transport returns "tcp" or "utp".
func (c *Conn) Transport() string { return c.transport }

// Outgoing reports whether we dialled the connection.
func (c *Conn) Outgoing() bool { return c.outgoing }

// Encrypted reports whether the connection uses protocol encryption
// (Message Stream Encryption, of the header at least), as its
// initiator's first bytes show; false until they are seen.
func (c *Conn) Encrypted() bool { return c.opening.done.Load() && c.opening.mse.Load() }

// btProtocol opens a plaintext BitTorrent handshake (BEP 3). The
// initiator of an MSE connection opens with its Diffie-Hellman key
// instead.
const btProtocol = "\x13BitTorrent protocol"

// opening watches the initiator's first bytes (what we write on an
// outgoing connection, what we read on an incoming one) until they tell
// a plaintext handshake from MSE. mu guards buf.
type opening struct {
	mu   sync.Mutex
	buf  []byte
	done atomic.Bool
	mse  atomic.Bool
}

func (o *opening) note(p []byte) {
	if o.done.Load() || len(p) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p[:min(len(btProtocol)-len(o.buf), len(p))]...)
	if len(o.buf) == len(btProtocol) || !strings.HasPrefix(btProtocol, string(o.buf)) {
		o.mse.Store(string(o.buf) != btProtocol)
		o.done.Store(true)
		o.buf = nil
	}
}

// plainWith reports whether p, written next, completes a plaintext
// opening.
func (o *opening) plainWith(p []byte) bool {
	if o.done.Load() {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	need := len(btProtocol) - len(o.buf)
	return len(p) >= need && string(o.buf)+string(p[:need]) == btProtocol
}

// InfoHash returns the torrent the connection was matched to, if any yet.
func (c *Conn) InfoHash() (InfoHash, bool) {
	if p := c.infoHash.Load(); p != nil {
		return *p, true
	}
	return InfoHash{}, false
}

// BytesRead and BytesWritten count raw bytes on the wire.
func (c *Conn) BytesRead() int64 { return c.read.Load() }

// BytesWritten counts raw bytes written to the wire.
func (c *Conn) BytesWritten() int64 { return c.written.load() }

// ArmWritten makes *f run once, on the writing goroutine, when the bytes
// written reach total (at once if they have). It must not block.
func (c *Conn) ArmWritten(total int64, f *func()) { c.written.arm(total, f) }

// SetShaper installs w as the connection's upload shaper (nil removes it).
// The shaper is waited on before every write, in pieces of at most
// shaperChunk bytes, after the per-torrent limit and before the global one.
// A shaper must never hold a connection at zero forever: extension messages
// queue behind piece data on the same conn.
func (c *Conn) SetShaper(w Waiter) {
	if w == nil {
		c.shaper.Store(nil)
		return
	}
	c.shaper.Store(&w)
}

func (c *Conn) setTorrent(ih InfoHash, down, up *rate.Limiter) {
	c.infoHash.Store(&ih)
	c.torrentDown.Store(down)
	c.torrentUp.Store(up)
}

// shaperChunk is the most a shaper is asked for at once.
const shaperChunk = 16 << 10

func waitLimiter(ctx context.Context, l *rate.Limiter, n int) error {
	if l == nil || l.Limit() == rate.Inf {
		return nil
	}
	for n > 0 {
		k := min(n, max(l.Burst(), 1))
		if err := l.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func (c *Conn) waitUp(n int) error {
	if err := waitLimiter(c.ctx, c.torrentUp.Load(), n); err != nil {
		return err
	}
	if w := c.shaper.Load(); w != nil {
		for left := n; left > 0; {
			k := min(left, shaperChunk)
			if err := (*w).WaitN(c.ctx, k); err != nil {
				return err
			}
			left -= k
		}
	}
	return waitLimiter(c.ctx, c.reg.up, n)
}

func (c *Conn) waitDown(n int) error {
	if err := waitLimiter(c.ctx, c.torrentDown.Load(), n); err != nil {
		return err
	}
	return waitLimiter(c.ctx, c.reg.down, n)
}

// Write waits on the limiters, then writes.
func (c *Conn) Write(p []byte) (int, error) {
	const chunk = 64 << 10
	var done int
	for done < len(p) {
		k := min(len(p)-done, chunk)
		if err := c.waitUp(k); err != nil {
			return done, fmt.Errorf("write to %s: %w", c.key.Remote, net.ErrClosed)
		}
		if c.outgoing && c.reg.requireMSE && c.opening.plainWith(p[done:done+k]) {
			_ = c.Close()
			return done, fmt.Errorf("write to %s: plaintext handshake refused, encryption is required", c.key.Remote)
		}
		n, err := c.Conn.Write(p[done : done+k])
		if c.outgoing {
			c.opening.note(p[done : done+n])
		}
		done += n
		c.written.add(int64(n))
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// Read reads, then waits on the download limiters for what it read.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if !c.outgoing {
			c.opening.note(p[:n])
		}
		c.read.Add(int64(n))
		if werr := c.waitDown(n); werr != nil && err == nil {
			err = fmt.Errorf("read from %s: %w", c.key.Remote, net.ErrClosed)
		}
	}
	return n, err
}

// Close closes the connection and removes it from the registry.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.reg.remove(c)
	})
	return c.Conn.Close()
}

// ConnRegistry holds every live wrapped connection, keyed by address pair,
// and the global rate limiters they share. Its mutex guards the map only.
type ConnRegistry struct {
	up, down *rate.Limiter // global limits; never nil
	// requireMSE refuses an outgoing plaintext handshake (encryption
	// "require": anacrolix itself would fall back to one); set before
	// the first connection.
	requireMSE bool

	mu    sync.Mutex
	conns map[ConnKey]*Conn
	onNew func(*Conn)
}

func newConnRegistry() *ConnRegistry {
	return &ConnRegistry{
		up:    newLimiter(0),
		down:  newLimiter(0),
		conns: make(map[ConnKey]*Conn),
	}
}

// OnConn sets a function called (outside the registry lock, from the
// accepting or dialling goroutine) for every new connection before any
// byte is exchanged; the shaper uses it to attach itself. It must not block.
func (r *ConnRegistry) OnConn(f func(*Conn)) {
	r.mu.Lock()
	r.onNew = f
	r.mu.Unlock()
}

// Lookup returns the live connection with the address pair.
func (r *ConnRegistry) Lookup(k ConnKey) (*Conn, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.conns[k]
	return c, ok
}

// Conns returns the live connections, in no particular order.
func (r *ConnRegistry) Conns() []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Conn, 0, len(r.conns))
	for _, c := range r.conns {
		out = append(out, c)
	}
	return out
}

// Len returns the number of live connections.
func (r *ConnRegistry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

func (r *ConnRegistry) wrap(nc net.Conn, transport string, outgoing bool) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		Conn:      nc,
		key:       ConnKey{Local: nc.LocalAddr().String(), Remote: nc.RemoteAddr().String()},
		transport: transport,
		outgoing:  outgoing,
		reg:       r,
		written:   newTripwire(),
		ctx:       ctx,
		cancel:    cancel,
	}
	r.mu.Lock()
	r.conns[c.key] = c
	f := r.onNew
	r.mu.Unlock()
	if f != nil {
		f(c)
	}
	return c
}

func (r *ConnRegistry) remove(c *Conn) {
	r.mu.Lock()
	if r.conns[c.key] == c {
		delete(r.conns, c.key)
	}
	r.mu.Unlock()
}

// newLimiter returns a limiter for bytesPerSec (0 = unlimited) whose burst
// fits a 16 KiB chunk and a read buffer.
func newLimiter(bytesPerSec int64) *rate.Limiter {
	l := rate.NewLimiter(rate.Inf, 0)
	setLimiter(l, bytesPerSec)
	return l
}

func setLimiter(l *rate.Limiter, bytesPerSec int64) {
	if bytesPerSec <= 0 {
		l.SetLimit(rate.Inf)
		l.SetBurst(1 << 20)
		return
	}
	l.SetLimit(rate.Limit(bytesPerSec))
	l.SetBurst(int(max(min(bytesPerSec/4, 1<<20), 32<<10)))
}

func limiterRate(l *rate.Limiter) int64 {
	if l == nil || l.Limit() == rate.Inf {
		return 0
	}
	return int64(l.Limit())
}

// tcpListener accepts TCP connections and wraps them.
type tcpListener struct {
	net.Listener
	reg *ConnRegistry
}

func (l tcpListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return l.reg.wrap(nc, "tcp", false), nil
}

// tcpDialer dials TCP from a fixed local address (port 0) and wraps the
// connection. It satisfies anacrolix's Dialer.
type tcpDialer struct {
	d   net.Dialer
	reg *ConnRegistry
}

func newTCPDialer(reg *ConnRegistry, localIP string) (*tcpDialer, error) {
	d := &tcpDialer{reg: reg}
	d.d.KeepAlive = -1 // BitTorrent sends its own keep-alives
	d.d.FallbackDelay = -1
	if localIP != "" {
		ip := net.ParseIP(localIP)
		if ip == nil {
			return nil, &InputError{What: "dial address", Value: localIP, Reason: "not an IP address"}
		}
		d.d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return d, nil
}

func (d *tcpDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	nc, err := d.d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return d.reg.wrap(nc, "tcp", true), nil
}

func (d *tcpDialer) DialerNetwork() string { return "tcp" }

// utpSocket is the surface of anacrolix's uTP socket we use.
type utpSocket interface {
	net.PacketConn
	Accept() (net.Conn, error)
	Addr() net.Addr
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// utpTransport serves as both listener and dialer over one uTP socket.
type utpTransport struct {
	s   utpSocket
	reg *ConnRegistry
}

func (u utpTransport) Accept() (net.Conn, error) {
	nc, err := u.s.Accept()
	if err != nil {
		return nil, err
	}
	return u.reg.wrap(nc, "utp", false), nil
}

func (u utpTransport) Addr() net.Addr { return u.s.Addr() }

func (u utpTransport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	nc, err := u.s.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	return u.reg.wrap(nc, "utp", true), nil
}

func (u utpTransport) DialerNetwork() string { return "udp" }

// listenError turns a listen failure into a message naming the address.
func listenError(network, addr string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return fmt.Errorf("cannot listen on %s (%s): %w", addr, network, err)
}
