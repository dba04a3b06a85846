// Package daemon runs the engine without a terminal of its own: an SSH
// server on which every session with a terminal gets its own TUI on the
// shared engine, and sessions with a command run one remote command (add,
// list, pause, resume, rm, stats) for scripts; optionally a Prometheus
// /metrics endpoint.
//
// Only public keys listed in an authorized_keys file may log in; passwords
// are never accepted. Sessions come and go without touching the transfers:
// the engine's lifetime is the caller's, not the server's.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"charm.land/wish/v2"
	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Engine is what the daemon needs from core.Engine for remote commands and
// metrics. Every method but the payments (Tip, Buy, Pledge, which wait for
// the receiver until ctx ends) returns quickly.
type Engine interface {
	core.Subscriber
	core.Runner
	core.Payer
	AddPeer(ctx context.Context, ih core.InfoHash, addr string) error
	Remove(ctx context.Context, ih core.InfoHash, deleteData bool) error
	// SetMarket changes a torrent's market settings, or the global ones
	// with the zero InfoHash.
	SetMarket(ctx context.Context, ih core.InfoHash, m core.MarketSettings) error
}

// Wallet is the daemon's own wallet as remote commands use it.
type Wallet interface {
	// WalletState is "unlocked", "locked" or "none".
	WalletState() string
	// Unlock decrypts the keystore with passphrase and turns the market
	// on. The passphrase is never logged.
	Unlock(ctx context.Context, passphrase string) error
	// Wallet returns the open wallet, or an error saying it is locked or
	// absent.
	Wallet() (*wallet.Wallet, error)
	// Address is the wallet's address, readable while locked.
	Address() (wallet.Address, error)
}

// UI runs one interactive UI on a terminal until the user quits or ctx is
// done (the session ended or the server is stopping). It must return
// promptly once ctx is done, and must never stop the engine.
type UI func(ctx context.Context, t Terminal) error

// Terminal is one SSH session's terminal.
type Terminal struct {
	In      io.Reader
	Out     io.Writer
	Term    string   // the client's $TERM
	Environ []string // the client's environment, with TERM
	Width   int
	Height  int
	// Resize delivers the terminal's new size when the client's window
	// changes; it is never closed.
	Resize <-chan WindowSize
	// User is the SSH user name; Remote the client's address.
	User, Remote string
}

// WindowSize is a terminal size in cells.
type WindowSize struct{ Width, Height int }

// Options are the daemon's collaborators.
type Options struct {
	// DataDir holds the default host key and authorized_keys files.
	DataDir string
	// UI serves sessions that ask for a terminal; nil refuses them.
	UI UI
	// Logger receives connection and error logs; nil means slog.Default().
	Logger *slog.Logger
	// Version is shown in the SSH server banner and in stats.
	Version string
	// Wallet is the daemon's own wallet; nil means none.
	Wallet Wallet
	// Confinement, when set, replaces the one New makes from the config's
	// download_roots (give the same one to Confined for the UI's engine).
	Confinement *Confinement
	// DownloadDir is the engine's default download dir (used when a
	// session gives none); it must lie inside the download roots. Empty
	// means DATA_DIR/downloads.
	DownloadDir string
}

// Server is the SSH server (and metrics endpoint) in front of one engine.
type Server struct {
	cfg      Config
	eng      Engine
	ui       UI
	log      *slog.Logger
	keysPath string
	signer   gossh.Signer
	hostPEM  []byte
	version  string
	wallet   Wallet
	confine  *Confinement

	mu    sync.Mutex // guards snap, have, ready
	snap  core.Snapshot
	have  bool
	ready chan struct{} // closed at the first snapshot

	smu      sync.Mutex // guards closing and the sessions count going up
	closing  bool
	sessions sync.WaitGroup
}

// New checks cfg and loads (or, on first start, generates) the host key.
func New(cfg Config, eng Engine, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start the daemon: [daemon] %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "daemon")
	hostKey := expandHome(cfg.HostKey)
	if hostKey == "" {
		if opts.DataDir == "" {
			return nil, errors.New("cannot start the daemon: no data dir for the SSH host key")
		}
		hostKey = filepath.Join(opts.DataDir, "ssh_host_ed25519_key")
	}
	keys := expandHome(cfg.AuthorizedKeys)
	if keys == "" {
		if opts.DataDir == "" {
			return nil, errors.New("cannot start the daemon: no data dir for authorized_keys")
		}
		keys = filepath.Join(opts.DataDir, "authorized_keys")
	}
	pem, signer, err := loadHostKey(hostKey, log)
	if err != nil {
		return nil, fmt.Errorf("cannot start the daemon: %w", err)
	}
	dl := opts.DownloadDir
	if dl == "" {
		if opts.DataDir == "" {
			return nil, errors.New("cannot start the daemon: no data dir for downloads")
		}
		dl = filepath.Join(opts.DataDir, "downloads")
	}
	roots := cfg.DownloadRoots
	if len(roots) == 0 {
		roots = []string{dl}
	}
	confine := opts.Confinement
	if confine == nil {
		confine, err = NewConfinement(roots, cfg.AllowPrivateURLs)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot start the daemon: [daemon] download_roots: %w", err)
	}
	if _, err := confine.Dir(dl); err != nil {
		return nil, fmt.Errorf("cannot start the daemon: the download dir %w: add it to [daemon] download_roots", err)
	}
	return &Server{
		cfg:      cfg,
		eng:      eng,
		ui:       opts.UI,
		log:      log,
		keysPath: keys,
		signer:   signer,
		hostPEM:  pem,
		version:  opts.Version,
		wallet:   opts.Wallet,
		confine:  confine,
		ready:    make(chan struct{}),
	}, nil
}

// Confinement returns what remote sessions are confined to.
func (s *Server) Confinement() *Confinement { return s.confine }

// HostKey returns the server's public host key.
func (s *Server) HostKey() gossh.PublicKey { return s.signer.PublicKey() }

// AuthorizedKeysPath returns the authorized_keys file in use.
func (s *Server) AuthorizedKeysPath() string { return s.keysPath }

// Run listens on the configured addresses and serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	sshLn, err := net.Listen("tcp", s.cfg.SSHListen)
	if err != nil {
		return fmt.Errorf("cannot listen for SSH: %w", err)
	}
	var metricsLn net.Listener
	if s.cfg.MetricsListen != "" {
		metricsLn, err = net.Listen("tcp", s.cfg.MetricsListen)
		if err != nil {
			sshLn.Close()
			return fmt.Errorf("cannot listen for metrics: %w", err)
		}
	}
	if s.cfg.PprofListen != "" {
		pprofLn, err := net.Listen("tcp", s.cfg.PprofListen)
		if err != nil {
			sshLn.Close()
			if metricsLn != nil {
				metricsLn.Close()
			}
			return fmt.Errorf("cannot listen for pprof: %w", err)
		}
		pctx, stop := context.WithCancel(ctx)
		pdone := make(chan struct{})
		go func() {
			defer close(pdone)
			s.servePprof(pctx, pprofLn)
		}()
		defer func() { stop(); <-pdone }()
	}
	return s.Serve(ctx, sshLn, metricsLn)
}

// Serve serves SSH on sshLn and, when metricsLn is not nil, /metrics on it,
// until ctx is done; it closes both listeners. Open sessions are told to end
// (their UIs see their context done) and given a few seconds to restore
// their terminals before their connections are closed.
func (s *Server) Serve(ctx context.Context, sshLn, metricsLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.smu.Lock()
	s.closing = false
	s.smu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.follow(ctx)
	}()

	srv, err := wish.NewServer(
		wish.WithVersion(sshVersion(s.version)),
		wish.WithHostKeyPEM(s.hostPEM),
		// Public keys only: no password or keyboard-interactive handler.
		wish.WithPublicKeyAuth(s.allow),
		ssh.WrapConn(s.limitHandshake),
		wish.WithMiddleware(func(ssh.Handler) ssh.Handler {
			return func(sess ssh.Session) { s.handle(ctx, sess) }
		}),
	)
	if err != nil {
		sshLn.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
		return fmt.Errorf("cannot set up the SSH server: %w", err)
	}

	errC := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(sshLn); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
			errC <- fmt.Errorf("SSH server failed: %w", err)
		}
	}()
	s.log.Info("SSH server listening", "addr", sshLn.Addr().String(),
		"host_key", gossh.FingerprintSHA256(s.signer.PublicKey()), "authorized_keys", s.keysPath)

	var hsrv *http.Server
	if metricsLn != nil {
		hsrv = &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hsrv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errC <- fmt.Errorf("metrics server failed: %w", err)
			}
		}()
		s.log.Info("metrics listening", "addr", metricsLn.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err = <-errC:
	}
	cancel()
	// Sessions watch ctx: give their UIs a moment to restore the
	// terminals, then close every connection.
	s.smu.Lock()
	s.closing = true
	s.smu.Unlock()
	idle := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-time.After(3 * time.Second):
		s.log.Warn("sessions still open after 3s; closing them")
	}
	srv.Close()
	<-idle
	if hsrv != nil {
		shutCtx, shutCancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer shutCancel()
		if herr := hsrv.Shutdown(shutCtx); herr != nil {
			hsrv.Close()
		}
	}
	return err
}

// sshVersion is the software version in the SSH identification string:
// printable ASCII without spaces or minus signs (RFC 4253, 4.2).
func sshVersion(v string) string {
	out := []byte("bidtorrent")
	if v != "" {
		out = append(out, '_')
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c > '~' || c == '-' {
			c = '_'
		}
		out = append(out, c)
	}
	return string(out)
}

// follow keeps the latest snapshot for commands and metrics.
func (s *Server) follow(ctx context.Context) {
	ch, unsub := s.eng.Subscribe()
	defer unsub()
	receive(ctx, ch, func(snap core.Snapshot) {
		s.mu.Lock()
		s.snap = snap
		if !s.have {
			s.have = true
			close(s.ready)
		}
		s.mu.Unlock()
	})
}

// receive calls f with each value from c until c is closed or ctx is done.
func receive[T any](ctx context.Context, c <-chan T, f func(T)) {
	for {
		select {
		case <-ctx.Done():
			return
		case v, ok := <-c:
			if !ok {
				return
			}
			f(v)
		}
	}
}

// snapshot returns the latest snapshot, waiting a while for the first one.
func (s *Server) snapshot(ctx context.Context) (core.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	select {
	case <-s.ready:
	case <-ctx.Done():
		return core.Snapshot{}, fmt.Errorf("no status from the engine yet: %w", ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, nil
}

// latest returns the latest snapshot, if any, without waiting.
func (s *Server) latest() (core.Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, s.have
}

// handshakeTimeout bounds how long a connection may take to log in.
var handshakeTimeout = 30 * time.Second

type handshakeTimerKey struct{}

// limitHandshake gives a new connection handshakeTimeout to log in and
// open a session (handle stops the timer), so that silent or stalling
// clients cannot hold connections open. Stopping it in allow would be
// wrong: clients may ask whether a key is acceptable without proving they
// hold it. (A deadline on the conn would not do: the
// SSH library resets deadlines at every read.)
func (s *Server) limitHandshake(ctx ssh.Context, c net.Conn) net.Conn {
	timer := time.AfterFunc(handshakeTimeout, func() { c.Close() })
	ctx.SetValue(handshakeTimerKey{}, timer)
	return c
}

func (s *Server) allow(ctx ssh.Context, key ssh.PublicKey) bool {
	ok := authorized(s.keysPath, key, s.log)
	if !ok {
		s.log.Info("refused SSH key", "user", ctx.User(), "remote", ctx.RemoteAddr().String(),
			"key", gossh.FingerprintSHA256(key))
	}
	return ok
}

// handle serves one session: a command, or a UI on its terminal.
func (s *Server) handle(srvCtx context.Context, sess ssh.Session) {
	s.smu.Lock()
	if s.closing {
		s.smu.Unlock()
		fmt.Fprintln(sess.Stderr(), "bidtorrent: the daemon is stopping")
		_ = sess.Exit(1)
		return
	}
	s.sessions.Add(1)
	s.smu.Unlock()
	defer s.sessions.Done()
	if timer, ok := sess.Context().Value(handshakeTimerKey{}).(*time.Timer); ok {
		timer.Stop()
	}
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	stop := context.AfterFunc(srvCtx, cancel)
	defer stop()

	start := time.Now()
	log := s.log.With("user", sess.User(), "remote", sess.RemoteAddr().String())
	if k := sess.PublicKey(); k != nil {
		log = log.With("key", gossh.FingerprintSHA256(k))
	}
	code := 0
	defer func() {
		if r := recover(); r != nil {
			log.Error("session panicked", "panic", r)
			code = 1
		}
		log.Info("session ended", "exit", code, "took", time.Since(start).Round(time.Millisecond))
		_ = sess.Exit(code)
	}()

	if args := sess.Command(); len(args) > 0 {
		log.Info("remote command", "command", strings.Join(args, " "))
		code = s.command(ctx, args, sess, sess, sess.Stderr())
		return
	}
	pty, winC, ok := sess.Pty()
	if !ok {
		fmt.Fprintln(sess.Stderr(), "bidtorrent: no terminal: connect with a terminal (ssh -t) for the UI, or give a command ("+commandNames()+")")
		code = 2
		return
	}
	if s.ui == nil {
		fmt.Fprintln(sess.Stderr(), "bidtorrent: this daemon serves no UI; give a command ("+commandNames()+")")
		code = 1
		return
	}
	resize := make(chan WindowSize, 1)
	go receive(ctx, winC, func(w ssh.Window) {
		select {
		case <-resize: // latest size wins
		default:
		}
		resize <- WindowSize{Width: w.Width, Height: w.Height}
	})
	env := append(sess.Environ(), "TERM="+pty.Term)
	log.Info("UI attached", "term", pty.Term, "width", pty.Window.Width, "height", pty.Window.Height)
	err := s.ui(ctx, Terminal{
		In: sess, Out: sess,
		Term: pty.Term, Environ: env,
		Width: pty.Window.Width, Height: pty.Window.Height,
		Resize: resize,
		User:   sess.User(), Remote: sess.RemoteAddr().String(),
	})
	if err != nil {
		log.Error("UI failed", "err", err)
		fmt.Fprintf(sess.Stderr(), "bidtorrent: %v\r\n", err)
		code = 1
	}
}
