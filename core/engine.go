// Package core is bidtorrent's engine: it owns the BitTorrent client
// (anacrolix/torrent, imported nowhere else), every torrent, the peer
// connections (through our own listener and dialer, see conn.go), the rate
// limits and the persistent state. The UI and the CLI talk to it through
// Engine's methods and read immutable Snapshots.
//
// Lifetime: New opens the data dir, binds the listen address and creates
// the client; Run blocks until its context is cancelled and then shuts
// down in this order: the loop persists every torrent's state, background
// work (rechecks, balance refreshes) ends, the market (with a wallet) pays
// its final cheques and settles received ones, the anacrolix client is
// closed (closing every peer connection), then our listeners, the state
// database (which also holds piece completion) and the log file.
package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2"
	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/storage"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// ErrClosed is returned by commands sent after the engine stopped.
var ErrClosed = errors.New("engine stopped")

// ErrUnknownTorrent is returned for an infohash the engine does not have.
var ErrUnknownTorrent = errors.New("no such torrent")

// ErrNoWallet is returned by Settle and the payment commands of an engine
// built without WithWallet.
var ErrNoWallet = errors.New("no wallet is open: settlement needs a wallet")

// Option changes how New builds an Engine.
type Option func(*options)

type options struct {
	logger        *slog.Logger
	interval      time.Duration
	clientVersion string
	wallet        Wallet // the bandwidth market's wallet; nil = plain BitTorrent (market_money.go)
	noTCPDial     bool   // tests: dial over uTP only
}

// WithLogger sends the engine's and anacrolix's logs to l instead of
// DATA_DIR/bidtorrent.log.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithSnapshotInterval sets how often stats are polled and a Snapshot is
// published (default 500ms).
func WithSnapshotInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithClientVersion sets the client name and version sent to peers in the
// extended handshake, e.g. "bidtorrent 0.1.0".
func WithClientVersion(v string) Option { return func(o *options) { o.clientVersion = v } }

// Engine is the BitTorrent engine. Create it with New, then call Run.
// Every exported method is safe for concurrent use; commands are handed
// to one loop goroutine that owns all mutable state.
type Engine struct {
	cfg         Config
	dataDir     string
	downloadDir string
	log         *slog.Logger
	logFile     io.Closer
	interval    time.Duration

	st    *store
	pc    completionDB
	cl    *torrent.Client
	conns *ConnRegistry
	tcp   net.Listener // our TCP listener behind the sniffer (sniff.go)
	utp   utpSocket    // nil unless uTP is on
	utpIn *sniffer     // the sniffer on utp's incoming connections
	dht   *dht.Server  // nil unless DHT is on
	facts *peerTable
	mkt   *marketState // the bandwidth market; nil without a wallet (market_loop.go)
	gates gateTable    // upload gates of paid torrents (gate.go)
	keys  *hashIndex   // every key a peer may name a torrent by (park_index.go)

	// Parking (park.go): parkAnn announces parked torrents (nil: none is
	// announced); parkedN counts them, read by wakeFor off the loop;
	// freed counts parks since memory was last returned (loop only).
	parkAnn parkAnnouncing
	parkedN atomic.Int64
	freed   int
	// complete is the all-complete piece map parked torrents share.
	complete []byte
	// storages holds the file storage of each data dir (storageFor;
	// clientConfig, then the loop).
	storages map[string]storage.ClientImplCloser
	// freeAt is when to return freed memory to the system after a wave
	// of parks (park.go); zero when none is due. Loop only.
	freeAt time.Time

	// udp is the UDP port when uTP is off: it answers uTP SYNs with a
	// reset (utpreset.go) and carries the DHT when that is on.
	udp     net.PacketConn
	udpDone chan struct{} // closed when refuseUTP stops (DHT off)

	// auths holds what the upload gate knows of each connection: the
	// presentations it checked, the peer's version, our HELLO nonce
	// (*torrent.PeerConn → *connAuth; market_commerce.go).
	auths sync.Map

	// shared maps InfoHash to *tshared, what callbacks see of a torrent
	// (its limiters, its change counters: poll.go); the loop stores and
	// deletes entries.
	shared sync.Map
	// connByPeer maps a *torrent.PeerConn to the *Conn carrying it, once
	// matched (connOf, torrents.go); PeerConnClosed deletes entries.
	connByPeer sync.Map

	cmdC    chan func()
	stopped chan struct{} // closed when the loop has returned
	started atomic.Bool

	// g runs background work (rechecks, metadata waits); set before the
	// loop starts.
	g    *errgroup.Group
	gctx context.Context

	subMu   sync.Mutex // guards subs, nextSub, last, subDone
	subs    map[int]chan Snapshot
	nextSub int
	last    Snapshot
	subDone bool

	// Owned by the loop goroutine.
	torrents map[InfoHash]*tstate
	order    []InfoHash
	limits   Limits
	market   marketRec
	lastErr  string
	errTime  time.Time
	session  struct{ down, up int64 } // totals of torrents removed this session
	// refreshed is when every torrent was last polled in full (poll.go).
	refreshed time.Time
}

// New validates cfg, opens the state in dataDir (created if missing),
// binds the listen address and creates the BitTorrent client. Torrents
// saved by an earlier run are restored when Run starts. If New succeeds,
// Run must be called to release what New opened.
func New(cfg Config, dataDir string, opts ...Option) (_ *Engine, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid engine config: %w", err)
	}
	o := options{interval: 500 * time.Millisecond, clientVersion: "bidtorrent dev"}
	for _, f := range opts {
		f(&o)
	}
	if dataDir == "" {
		return nil, errors.New("no data dir given")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data dir: %w", err)
	}
	e := &Engine{
		cfg:      cfg,
		dataDir:  dataDir,
		interval: o.interval,
		conns:    newConnRegistry(),
		facts:    newPeerTable(),
		cmdC:     make(chan func()),
		stopped:  make(chan struct{}),
		subs:     make(map[int]chan Snapshot),
		torrents: make(map[InfoHash]*tstate),
		storages: make(map[string]storage.ClientImplCloser),
	}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()
	e.log = o.logger
	if e.log == nil {
		f, err := os.OpenFile(filepath.Join(dataDir, "bidtorrent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("cannot open log file: %w", err)
		}
		sink := &logSink{f: f}
		closers = append(closers, sink.Close)
		e.logFile = sink
		e.log = slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelInfo}))
		captureLibraryLogs(e.log, sink)
	}
	e.downloadDir = cfg.DownloadDir
	if e.downloadDir == "" {
		e.downloadDir = filepath.Join(dataDir, "downloads")
	}

	if e.st, err = openStore(dataDir); err != nil {
		return nil, err
	}
	closers = append(closers, e.st.close)
	if st, err := e.st.settings(); err != nil {
		return nil, err
	} else {
		if st.Limits != nil {
			e.limits = *st.Limits
		} else {
			e.limits = Limits{Down: int64(cfg.DownloadLimit), Up: int64(cfg.UploadLimit)}
		}
		if st.Market != nil {
			e.market = *st.Market
		}
	}
	setLimiter(e.conns.down, e.limits.Down)
	setLimiter(e.conns.up, e.limits.Up)

	e.pc = newCompletionDB(e.st.db)
	e.keys = newHashIndex()
	e.conns.requireMSE = cfg.Encryption == "require"

	tcp, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, listenError("tcp", cfg.ListenAddr, err)
	}
	e.tcp = e.sniff(tcpListener{Listener: tcp, reg: e.conns}, tcp.Close)
	closers = append(closers, e.tcp.Close)
	port := tcp.Addr().(*net.TCPAddr).Port
	host, _, _ := net.SplitHostPort(cfg.ListenAddr)
	udpAddr := net.JoinHostPort(host, strconv.Itoa(port))
	if cfg.UTP {
		s, err := torrent.NewUtpSocketSlogger("udp", udpAddr, nil, e.log.With("module", "utp"))
		if err != nil {
			return nil, listenError("utp", udpAddr, err)
		}
		e.utp = s
		e.utpIn = e.sniff(utpTransport{s: s, reg: e.conns}, s.Close)
		closers = append(closers, e.utpIn.Close)
	} else {
		// The port a uTP-first peer tries: answer it (utpreset.go).
		pc, err := net.ListenPacket("udp", udpAddr)
		switch {
		case err == nil:
			e.udp = pc
			closers = append(closers, pc.Close)
		case cfg.DHT:
			return nil, listenError("udp (DHT)", udpAddr, err)
		default:
			e.log.Warn("no UDP port: peers that try uTP first will wait before using TCP", "addr", udpAddr, "err", err)
		}
	}
	dialer, err := newTCPDialer(e.conns, cfg.DialAddr)
	if err != nil {
		return nil, err
	}

	// The bandwidth market, before the client so its hooks are installed.
	if e.mkt, err = newMarketState(cfg.Market, o.wallet, e.limits.Up); err != nil {
		return nil, err
	}
	cc := e.clientConfig(o.clientVersion)
	if e.cl, err = torrent.NewClient(cc); err != nil {
		return nil, fmt.Errorf("cannot start BitTorrent client: %w", err)
	}
	closers = append(closers, func() error { e.cl.Close(); return nil })
	e.cl.AddListener(e.tcp)
	if !o.noTCPDial {
		e.cl.AddDialer(dialer)
	}
	if e.utp != nil {
		e.cl.AddListener(e.utpIn)
		e.cl.AddDialer(utpTransport{s: e.utp, reg: e.conns})
	}
	if cfg.DHT {
		var pc net.PacketConn = e.utp
		if pc == nil {
			pc = utpRefuser{e.udp}
		}
		ds, err := e.cl.NewAnacrolixDhtServer(pc)
		if err != nil {
			return nil, fmt.Errorf("cannot start DHT: %w", err)
		}
		e.dht = ds
		closers = append(closers, func() error { ds.Close(); return nil })
		e.cl.AddDhtServer(torrent.AnacrolixDhtServerWrapper{Server: ds})
	} else if e.udp != nil {
		e.udpDone = make(chan struct{})
		go refuseUTP(e.udp, e.log, e.udpDone)
	}
	if cfg.ParkAfter > 0 { // parked torrents' announces (park_announce.go); the loop closes it
		e.parkAnn = newParkAnnouncer(parkAnnounceOpts{
			PeerID: e.cl.PeerID(), Port: port, UserAgent: o.clientVersion,
			DHT:        dhtAnnounce(e.dht),
			OnLeechers: e.wakeWithPeers, Status: e.facts.parkedAnnounce,
			DialContext: cc.TrackerDialContext, ListenPacket: cc.TrackerListenPacket,
			Log: e.log.With("module", "park-announce"),
		})
	}
	e.log.Info("engine ready", "listen", e.tcp.Addr().String(), "utp", cfg.UTP, "dht", cfg.DHT, "data_dir", dataDir)
	return e, nil
}

// clientConfig builds the anacrolix config: no built-in sockets (ours are
// added after), our own rate limiters, bolt piece completion, the engine's
// switches and callbacks that only record facts.
func (e *Engine) clientConfig(clientVersion string) *torrent.ClientConfig {
	cfg := e.cfg
	cc := torrent.NewDefaultClientConfig()
	cc.DataDir = e.downloadDir
	cc.DisableTCP = true
	cc.DisableUTP = true
	cc.ListenPort = e.tcp.Addr().(*net.TCPAddr).Port
	cc.NoDHT = true // our DHT server is added by New, on our own socket
	cc.DisablePEX = !cfg.PEX
	cc.NoDefaultPortForwarding = !cfg.PortForwarding
	if cfg.LSD {
		cc.LocalServiceDiscovery = &torrent.LocalServiceDiscoveryConfig{}
	}
	cc.DisableWebtorrent = true
	cc.Seed = cfg.Seed
	// Our own limiters, never the package-wide default. Limits are applied
	// in conn.go, so these stay unlimited. The burst must be positive:
	// anacrolix opens no connection while the download limiter has no
	// tokens, and an unlimited limiter's tokens are capped at its burst.
	cc.UploadRateLimiter = rate.NewLimiter(rate.Inf, 1<<20)
	cc.DownloadRateLimiter = rate.NewLimiter(rate.Inf, 1<<20)
	cc.DialRateLimiter = rate.NewLimiter(20, 20)
	cc.DefaultStorage = e.storageFor(e.downloadDir)
	// anacrolix receives incoming connections decrypted (sniff.go), so
	// each policy accepts plaintext and sets only how it dials: "require"
	// dials like "prefer", and conn.go refuses the plaintext fallback.
	switch cfg.Encryption {
	case "prefer", "require":
		cc.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{Preferred: true}
	case "allow":
		cc.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{}
	case "disable":
		cc.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{RequirePreferred: true}
	}
	// anacrolix sizes each torrent's connection map for twice this
	// (2.3 KiB a torrent at 50, most of them idle): start() raises it to
	// MaxPeersPerTorrent on each torrent as it is added.
	cc.EstablishedConnsPerTorrent = 1
	// Each torrent's logger is derived from this one: lazily (lazylog.go).
	cc.Slogger = slog.New(newLazyHandler(e.log.With("module", "anacrolix").Handler()))
	cc.ExtendedHandshakeClientVersion = clientVersion
	cc.Bep20 = "-BD0001-"
	cc.HTTPUserAgent = clientVersion
	e.facts.install(&cc.Callbacks)
	e.installMarket(&cc.Callbacks) // BEP 10 hooks of btt_bid (market_hooks.go)
	// Before anacrolix crashes on an empty file of a v2 magnet (bep52.go).
	installEmptyFileGuard(&cc.Callbacks)
	e.gates.install(&cc.Callbacks) // purchase gate, first to read each message (gate.go)
	prevClosed := cc.Callbacks.PeerConnClosed
	cc.Callbacks.PeerConnClosed = func(pc *torrent.PeerConn) {
		if prevClosed != nil {
			prevClosed(pc)
		}
		e.unbindConn(pc)
		if t := pc.Torrent(); t != nil {
			e.poke(InfoHash(t.InfoHash()), true)
		}
	}
	// A tracker event changes the torrent's snapshot (poll.go).
	cc.Callbacks.StatusUpdated = append(cc.Callbacks.StatusUpdated, func(ev torrent.StatusUpdatedEvent) {
		if ih, err := ParseInfoHash(ev.InfoHash); err == nil {
			e.poke(ih, false)
		}
	})
	// With the market on, market_loop.go drops connections between two
	// seeds itself, once the last cheque is acknowledged.
	cc.DropMutuallyCompletePeers = e.mkt == nil
	// Match each new peer connection to its torrent's limiters at once
	// (the loop re-checks on every poll) and poke the torrent. Runs under
	// the client lock: only atomics and the registry's own lock.
	cc.Callbacks.PeerConnAdded = append(cc.Callbacks.PeerConnAdded, func(pc *torrent.PeerConn) {
		ih := InfoHash(pc.Torrent().InfoHash())
		e.poke(ih, true)
		if v, ok := e.shared.Load(ih); ok {
			if c := e.connOf(pc); c != nil {
				l := v.(*tshared)
				c.setTorrent(ih, l.down, l.up)
			}
		}
	})
	// Trackers are contacted from the dial address too, so they record the
	// address peers can reach us on; each dial's outcome is the tracker's
	// status in the snapshot (anacrolix reports announces only for
	// WebSocket trackers).
	td := net.Dialer{}
	var local net.IP
	if cfg.DialAddr != "" {
		local = net.ParseIP(cfg.DialAddr)
		td.LocalAddr = &net.TCPAddr{IP: local}
	}
	cc.TrackerDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := td.DialContext(ctx, network, addr)
		e.facts.trackerDialed(addr, err)
		return c, err
	}
	cc.TrackerListenPacket = func(network, addr string) (net.PacketConn, error) {
		if local != nil {
			addr = net.JoinHostPort(local.String(), "0")
		}
		return net.ListenPacket(network, addr)
	}
	return cc
}

var captureOnce sync.Once

// captureLibraryLogs sends what libraries log through process-wide
// loggers (anacrolix/log's Default prints warnings to stderr; the standard
// log package) to the engine's log file, once per process: a CLI's
// terminal shows only its own output.
func captureLibraryLogs(l *slog.Logger, w io.Writer) {
	captureOnce.Do(func() {
		alog.Default.Handlers = []alog.Handler{alog.SlogHandlerAsHandler{SlogHandler: l.Handler()}}
		stdlog.SetOutput(w)
	})
}

// logSink is the log file. Writes after Close are dropped: some anacrolix
// goroutines (the DHT's table maintainer) log after the client is closed,
// and its slog bridge panics on a write error. mu guards f.
type logSink struct {
	mu sync.Mutex
	f  *os.File
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_, _ = s.f.Write(p)
	}
	return len(p), nil
}

func (s *logSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// ListenAddr returns the TCP address actually bound (useful with port 0).
func (e *Engine) ListenAddr() net.Addr { return e.tcp.Addr() }

// Conns returns the registry of live peer connections (the shaper's hook).
func (e *Engine) Conns() *ConnRegistry { return e.conns }

// DataDir returns the engine's data dir.
func (e *Engine) DataDir() string { return e.dataDir }

// Run runs the engine until ctx is cancelled, then shuts down in the order
// of the package comment. It returns nil after a clean shutdown.
func (e *Engine) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("engine already ran")
	}
	g, gctx := errgroup.WithContext(ctx)
	e.g, e.gctx = g, gctx
	e.readOwnVault(gctx) // before any HELLO is sent (the loop sends them)
	g.Go(func() error { return e.loop(gctx) })
	if e.mkt != nil {
		g.Go(func() error { return e.runMoneyWriter(gctx) }) // market_store.go
	}
	err := g.Wait()
	e.marketShutdown() // money first: final cheques and settlement, then the client
	e.shutdown()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (e *Engine) shutdown() {
	for _, err := range e.cl.Close() {
		e.log.Warn("closing client", "err", err)
	}
	// Data written since the last verified piece: record the files as
	// they are now, or the next start would hash them again (filecheck.go).
	for _, ts := range e.torrents {
		if ts.t != nil && ts.sessDown > 0 {
			e.restamp(ts)
		}
	}
	if e.dht != nil {
		e.dht.Close() // before its socket, or its reader panics
	}
	_ = e.tcp.Close()
	if e.utpIn != nil {
		_ = e.utpIn.Close() // and the socket
	}
	if e.udp != nil {
		_ = e.udp.Close()
		if e.udpDone != nil {
			<-e.udpDone
		}
	}
	if err := e.st.close(); err != nil {
		e.log.Warn("closing state", "err", err)
	}
	e.subMu.Lock()
	for id, ch := range e.subs {
		close(ch)
		delete(e.subs, id)
	}
	e.subDone = true
	e.subMu.Unlock()
	e.log.Info("engine stopped")
	if e.logFile != nil {
		_ = e.logFile.Close()
	}
}

// do runs fn on the loop and returns its error.
func (e *Engine) do(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	select {
	case e.cmdC <- func() { done <- fn() }:
	case <-e.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doTorrent runs fn on the loop with the state of torrent ih, or returns
// ErrUnknownTorrent. A parked torrent is woken first: fn may need the
// client (park.go).
func (e *Engine) doTorrent(ctx context.Context, ih InfoHash, fn func(ts *tstate) error) error {
	return e.doRecord(ctx, ih, func(ts *tstate) error {
		if err := e.wake(ts); err != nil {
			return err
		}
		return fn(ts)
	})
}

// doRecord is doTorrent for a command that needs only our own state of
// the torrent, parked or not.
func (e *Engine) doRecord(ctx context.Context, ih InfoHash, fn func(ts *tstate) error) error {
	return e.do(ctx, func() error {
		ts, err := e.lookup(ih)
		if err != nil {
			return err
		}
		return fn(ts)
	})
}

// post hands fn to the loop from background work; it is dropped if the
// engine has stopped.
func (e *Engine) post(fn func()) {
	select {
	case e.cmdC <- fn:
	case <-e.stopped:
	}
}

// Subscribe returns a channel of snapshots (latest value wins: a slow
// reader misses intermediate snapshots and never blocks the engine) and a
// function that ends the subscription. The channel holds the latest
// snapshot at once and is closed when the engine stops or cancel is called.
func (e *Engine) Subscribe() (<-chan Snapshot, func()) {
	ch := make(chan Snapshot, 1)
	e.subMu.Lock()
	defer e.subMu.Unlock()
	if e.subDone {
		close(ch)
		return ch, func() {}
	}
	id := e.nextSub
	e.nextSub++
	e.subs[id] = ch
	if !e.last.Time.IsZero() {
		ch <- e.last
	}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			e.subMu.Lock()
			if c, ok := e.subs[id]; ok {
				delete(e.subs, id)
				close(c)
			}
			e.subMu.Unlock()
		})
	}
}

func (e *Engine) publish(s Snapshot) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	e.last = s
	for _, ch := range e.subs {
		select {
		case <-ch: // drop the stale one
		default:
		}
		ch <- s
	}
}

// Snapshot returns the latest published snapshot.
func (e *Engine) Snapshot() Snapshot {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	return e.last
}
