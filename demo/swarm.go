// Package demo builds bidtorrent's demonstration swarm in one process: one
// or more seeders with a capped upload, bidders with different buyer
// strategies and prices, and legacy leechers without the market, each
// engine on its own 127.0.0.x address, trading a generated torrent with
// wallets funded on a throw-away local ledger. A bidder that finishes tips
// the seeder that served it most (PROTOCOL.md §16.9), and leechers that
// finish can be replaced by fresh ones so the market keeps moving.
//
// The demo verb shows a Swarm in the TUI (Switcher lets the user look
// through any node's eyes), or runs it headless and prints a Report; the
// market benchmark (Bench) runs the contended swarm with the market on and
// off and compares completion times.
package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

// Role is what a node does in the swarm.
type Role string

// Roles.
const (
	RoleSeeder Role = "seeder" // has the data, sells upload
	RoleBidder Role = "bidder" // downloads and pays for bandwidth
	RoleLegacy Role = "legacy" // downloads with the market extension off
)

// Spec describes one node. Prices are base units per MiB.
type Spec struct {
	Name     string
	Role     Role
	Strategy string        // buyer strategy of bidders, seller strategy of seeders
	Bid      wallet.Amount // bidders: the most they pay per MiB
	Budget   wallet.Amount // bidders with the budget strategy: the most they spend
}

// Options configure a Swarm. Zero fields take the defaults of
// DefaultOptions, except Tip: zero means no tips.
type Options struct {
	// Dir is the work dir: ledger, payload, every node's data dir. The
	// caller creates and removes it.
	Dir string
	// Size is the torrent's payload in bytes.
	Size int64
	// PieceLength is the torrent's piece length.
	PieceLength int64
	// Rate caps each seeder's upload, bytes per second.
	Rate int64
	// Round is the sellers' market round.
	Round time.Duration
	// Slots is the number of paid slots per seller round.
	Slots int
	// FreeShare is the sellers' share of upload kept for peers without an
	// award; 0 is the engine's default.
	FreeShare float64
	// Ask is the seeders' reserve price per MiB.
	Ask wallet.Amount
	// Fund is what each bidder's wallet gets from the ledger's faucet.
	Fund wallet.Amount
	// Seeders and Leechers are the nodes; seeders' Strategy is their
	// seller strategy.
	Seeders, Leechers []Spec
	// Replace starts a fresh node (new data dir, engine and wallet) in
	// place of each leecher that completes.
	Replace bool
	// Tip is what each bidder that completes tips the seeder it
	// downloaded most from, with the memo TipMemo, before it is replaced
	// (at most TipTimeout; a tip that fails is logged). Zero: no tips.
	Tip        wallet.Amount
	TipMemo    string
	TipTimeout time.Duration
	// FirstIP is the last octet of the first node's 127.0.0.x address.
	FirstIP int
	// Logger receives every engine's log; nil discards.
	Logger *slog.Logger
}

// BTT converts whole tokens to base units.
func BTT(s string) wallet.Amount {
	a, err := wallet.ParseAmount(s, wallet.BTTDecimals)
	if err != nil {
		panic(err)
	}
	return a
}

// DefaultOptions is the demo swarm: two seeders capped at 4 MiB/s selling
// two paid slots with the uniform-price auction at 1 BTT/MiB, three bidders (fixed at 5,
// adaptive up to 4, budget of 150 BTT up to 4 BTT/MiB), two legacy
// leechers, a 64 MiB torrent and 2 s rounds; a bidder that completes
// tips its best seeder 0.05 BTT.
func DefaultOptions() Options {
	return Options{
		Size:        64 << 20,
		PieceLength: 256 << 10,
		Rate:        4 << 20,
		Round:       2 * time.Second,
		Slots:       2,
		Ask:         BTT("1"),
		Fund:        BTT("100000"),
		Seeders: []Spec{
			{Name: "seeder-1", Role: RoleSeeder, Strategy: strategy.SellerUniform},
			{Name: "seeder-2", Role: RoleSeeder, Strategy: strategy.SellerUniform},
		},
		Leechers: []Spec{
			{Name: "you (fixed)", Role: RoleBidder, Strategy: strategy.BuyerFixed, Bid: BTT("5")},
			{Name: "adaptive", Role: RoleBidder, Strategy: strategy.BuyerAdaptive, Bid: BTT("4")},
			{Name: "budget", Role: RoleBidder, Strategy: strategy.BuyerBudget, Bid: BTT("4"), Budget: BTT("150")},
			{Name: "legacy-1", Role: RoleLegacy},
			{Name: "legacy-2", Role: RoleLegacy},
		},
		Replace:    true,
		Tip:        BTT("0.05"),
		TipMemo:    "thanks for the fast seed!",
		TipTimeout: 10 * time.Second,
		FirstIP:    100,
	}
}

func (o *Options) fill() {
	d := DefaultOptions()
	if o.Size <= 0 {
		o.Size = d.Size
	}
	if o.PieceLength <= 0 {
		o.PieceLength = d.PieceLength
	}
	if o.Rate <= 0 {
		o.Rate = d.Rate
	}
	if o.Round <= 0 {
		o.Round = d.Round
	}
	if o.Slots <= 0 {
		o.Slots = d.Slots
	}
	if o.Ask.IsZero() {
		o.Ask = d.Ask
	}
	if o.Fund.IsZero() {
		o.Fund = d.Fund
	}
	if o.Seeders == nil {
		o.Seeders = d.Seeders
	}
	if o.Leechers == nil {
		o.Leechers = d.Leechers
	}
	if o.FirstIP <= 0 {
		o.FirstIP = d.FirstIP
	}
	if o.TipTimeout <= 0 {
		o.TipTimeout = d.TipTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Node is one engine of the swarm. A leecher replaced after completing is
// kept (retired) for the report; its successor is a new Node with the
// same Spec and Gen+1.
type Node struct {
	Spec
	Gen     int // incarnation of the slot, from 1
	Slot    int // index among the live nodes
	IP      string
	Engine  *core.Engine
	Wallet  *wallet.Wallet // nil for legacy leechers
	Funding wallet.Amount  // what the faucet gave the wallet
	Started time.Time

	dir  string
	stop func() error

	mu       sync.Mutex
	finished time.Time
	retired  bool
	last     core.Torrent // the torrent's row when the node stopped
	tippedTo string       // peer key of the seeder it tipped
	// served is, by peer key, the most payload each btt_bid peer had sent
	// it, as last seen: a connection between two complete peers closes
	// soon after the last piece, maybe before the completion is seen.
	served map[core.PeerKey]int64
}

// noteServed records the payload tr's btt_bid peers sent n so far.
func (n *Node) noteServed(tr core.Torrent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range tr.Peers {
		if !p.Market.Enabled {
			continue
		}
		if n.served == nil {
			n.served = map[core.PeerKey]int64{}
		}
		n.served[p.Key] = max(n.served[p.Key], p.Downloaded)
	}
}

// bestServer returns the btt_bid peer that sent n the most payload, and
// how much.
func (n *Node) bestServer() (core.PeerKey, int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var best core.PeerKey
	var most int64
	for k, d := range n.served {
		if d > most || d == most && d > 0 && k < best {
			best, most = k, d
		}
	}
	return best, most
}

// Label is the node's name with its incarnation: "legacy-1 #2".
func (n *Node) Label() string {
	if n.Gen <= 1 {
		return n.Name
	}
	return fmt.Sprintf("%s #%d", n.Name, n.Gen)
}

// Finished returns when the node completed the torrent (zero if not).
func (n *Node) Finished() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.finished
}

// TippedTo returns the peer key (host:port) of the seeder the node tipped
// when it completed, "" if it did not (yet, or the tip failed).
func (n *Node) TippedTo() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.tippedTo
}

// Torrent returns the node's row of the demo torrent: live while it runs,
// its last one once it stopped.
func (n *Node) Torrent() core.Torrent {
	n.mu.Lock()
	retired, last := n.retired, n.last
	n.mu.Unlock()
	if retired {
		return last
	}
	for _, t := range n.Engine.Snapshot().Torrents {
		return t
	}
	return core.Torrent{}
}

// halt stops n's engine and keeps its last row of the torrent.
func (n *Node) halt() error {
	tr := n.Torrent()
	err := n.stop()
	for _, t := range n.Engine.Snapshot().Torrents {
		tr = t // the final one, with the last cheques
	}
	n.mu.Lock()
	n.last, n.retired = tr, true
	n.mu.Unlock()
	return err
}

// Swarm is a running demo swarm.
type Swarm struct {
	opts     Options
	ledger   *local.Ledger
	ih       core.InfoHash
	torrent  string // path of the .torrent
	payload  string // dir holding the payload root
	seedAddr []string
	start    time.Time

	mu      sync.Mutex
	live    []*Node // seeders then leechers, by slot
	all     []*Node // every node ever started, in start order
	nextIP  int
	closed  bool
	changed chan struct{} // closed and replaced when live changes

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start generates the payload and torrent in opts.Dir, opens the ledger,
// starts the seeders and waits until they have verified the data, then
// starts the leechers. Close stops everything.
func Start(ctx context.Context, opts Options) (_ *Swarm, err error) {
	opts.fill()
	if opts.Dir == "" {
		return nil, errors.New("cannot start the demo swarm: no work dir")
	}
	s := &Swarm{opts: opts, nextIP: opts.FirstIP, changed: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	s.ledger, err = local.Open(filepath.Join(opts.Dir, "ledger.json"), wallet.MustParseAddress(wallet.DefaultBTTContract), 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot open the demo ledger: %w", err)
	}
	if err := s.makeTorrent(); err != nil {
		return nil, fmt.Errorf("cannot generate the demo torrent: %w", err)
	}
	for i, sp := range opts.Seeders {
		n, err := s.startNode(ctx, sp, i, 1)
		if err != nil {
			return nil, err
		}
		s.seedAddr = append(s.seedAddr, n.Engine.ListenAddr().String())
	}
	for _, n := range s.live {
		if err := waitDone(ctx, n.Engine, 5*time.Minute); err != nil {
			return nil, fmt.Errorf("seeder %s did not verify the payload: %w", n.Name, err)
		}
	}
	s.start = time.Now()
	for i, sp := range opts.Leechers {
		if _, err := s.startNode(ctx, sp, len(opts.Seeders)+i, 1); err != nil {
			return nil, err
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.watch(wctx)
	return s, nil
}

// InfoHash is the demo torrent's.
func (s *Swarm) InfoHash() core.InfoHash { return s.ih }

// Ledger is the swarm's local ledger.
func (s *Swarm) Ledger() *local.Ledger { return s.ledger }

// Options returns the options in force (defaults filled in).
func (s *Swarm) Options() Options { return s.opts }

// Live returns the running nodes, seeders first, in slot order.
func (s *Swarm) Live() []*Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Node(nil), s.live...)
}

// All returns every node started so far, retired ones included.
func (s *Swarm) All() []*Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Node(nil), s.all...)
}

// Changed returns a channel closed the next time a node is replaced.
func (s *Swarm) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Swarm) makeTorrent() error {
	s.payload = filepath.Join(s.opts.Dir, "payload")
	root := filepath.Join(s.payload, "bidtorrent-demo")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(root, "random.bin"))
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	buf := make([]byte, 1<<20)
	for left := s.opts.Size; left > 0; left -= int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
		}
		if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	tf, err := core.CreateTorrent(core.CreateOptions{Path: root, PieceLength: s.opts.PieceLength})
	if err != nil {
		return err
	}
	s.ih = tf.InfoHash
	s.torrent = filepath.Join(s.opts.Dir, "bidtorrent-demo.torrent")
	return os.WriteFile(s.torrent, tf.Bytes, 0o644)
}

func (s *Swarm) newWallet(name string, fund wallet.Amount) (*wallet.Wallet, error) {
	key, err := wallet.GenerateKey()
	if err != nil {
		return nil, err
	}
	book, err := wallet.OpenChequeBook(filepath.Join(s.opts.Dir, "cheques", name+".db"), 5*time.Second)
	if err != nil {
		return nil, err
	}
	w := wallet.New(key, book, s.ledger)
	if !fund.IsZero() {
		if err := w.Faucet(context.Background(), fund); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// startNode starts the engine of sp in slot, incarnation gen, and adds
// the demo torrent.
func (s *Swarm) startNode(ctx context.Context, sp Spec, slot, gen int) (*Node, error) {
	s.mu.Lock()
	s.nextIP++
	ip := fmt.Sprintf("127.0.0.%d", s.nextIP%254+1)
	s.mu.Unlock()
	n := &Node{Spec: sp, Gen: gen, Slot: slot, IP: ip, Started: time.Now()}
	n.dir = filepath.Join(s.opts.Dir, "nodes", fmt.Sprintf("%02d-%d-%s", slot, gen, ip))
	if err := os.MkdirAll(filepath.Join(s.opts.Dir, "cheques"), 0o755); err != nil {
		return nil, err
	}
	var w core.Wallet
	switch sp.Role {
	case RoleSeeder:
		ww, err := s.newWallet(fmt.Sprintf("%02d-%d", slot, gen), wallet.Amount{})
		if err != nil {
			return nil, fmt.Errorf("cannot open %s's wallet: %w", sp.Name, err)
		}
		n.Wallet, w = ww, ww
	case RoleBidder:
		ww, err := s.newWallet(fmt.Sprintf("%02d-%d", slot, gen), s.opts.Fund)
		if err != nil {
			return nil, fmt.Errorf("cannot open %s's wallet: %w", sp.Name, err)
		}
		n.Wallet, w, n.Funding = ww, ww, s.opts.Fund
	}
	cfg := core.DefaultConfig()
	cfg.ListenAddr, cfg.DialAddr = ip+":0", ip
	cfg.DHT, cfg.PEX, cfg.LSD, cfg.UTP = false, false, false, false
	cfg.Market.Round = s.opts.Round
	cfg.Market.Slots = s.opts.Slots
	if s.opts.FreeShare > 0 {
		cfg.Market.FreeShare = s.opts.FreeShare
	}
	switch {
	case sp.Role == RoleSeeder:
		cfg.UploadLimit = core.Rate(s.opts.Rate)
	case sp.Role == RoleBidder && !s.opts.Tip.IsZero():
		// A bidder tips once complete, maybe on a connection it dials
		// again (see tip): anacrolix opens none for a complete torrent it
		// does not seed. Nobody else knows its address, so it uploads
		// nothing.
	default:
		cfg.Seed = false
	}
	opts := []core.Option{core.WithLogger(s.opts.Logger.With("node", n.Label(), "ip", ip)),
		core.WithSnapshotInterval(250 * time.Millisecond), core.WithClientVersion("bidtorrent demo")}
	if w != nil {
		opts = append(opts, core.WithWallet(w))
	}
	e, err := core.New(cfg, filepath.Join(n.dir, "state"), opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot start node %s: %w", n.Label(), err)
	}
	n.Engine = e
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(rctx) }()
	var once sync.Once
	var runErr error
	n.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	s.mu.Lock()
	s.all = append(s.all, n)
	if slot < len(s.live) {
		s.live[slot] = n
	} else {
		s.live = append(s.live, n)
	}
	s.mu.Unlock()

	dataDir := s.payload
	if sp.Role != RoleSeeder {
		dataDir = filepath.Join(n.dir, "download")
	}
	add := core.AddSpec{Source: s.torrent, DataDir: dataDir, Paused: sp.Role != RoleSeeder}
	if _, err := e.Add(ctx, add); err != nil {
		return nil, fmt.Errorf("cannot add the demo torrent to %s: %w", n.Label(), err)
	}
	m := core.MarketSettings{}
	switch sp.Role {
	case RoleSeeder:
		st := sp.Strategy
		if st == "" {
			st = strategy.SellerUniform
		}
		m.Ask, m.SellerStrategy = &s.opts.Ask, &st
	case RoleBidder:
		st := sp.Strategy
		bid := sp.Bid
		m.Bid, m.BuyerStrategy = &bid, &st
		if !sp.Budget.IsZero() {
			b := sp.Budget
			m.Budget = &b
		}
	}
	if sp.Role != RoleLegacy {
		if err := e.SetMarket(ctx, s.ih, m); err != nil {
			return nil, fmt.Errorf("cannot set %s's market: %w", n.Label(), err)
		}
	}
	if sp.Role != RoleSeeder {
		if err := e.Resume(ctx, s.ih); err != nil {
			return nil, fmt.Errorf("cannot start %s's download: %w", n.Label(), err)
		}
		for _, a := range s.seedAddr {
			if err := e.AddPeer(ctx, s.ih, a); err != nil {
				return nil, fmt.Errorf("cannot connect %s to a seeder: %w", n.Label(), err)
			}
		}
	}
	return n, nil
}

// watch notes completions and hands each completed leecher to complete,
// in its own goroutine so that a slow tip or start never holds up the
// others.
func (s *Swarm) watch(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range s.Live() {
			if n.Role == RoleSeeder || !n.Finished().IsZero() {
				continue
			}
			tr := n.Torrent()
			n.noteServed(tr)
			if tr.Size == 0 || tr.Done < tr.Size {
				continue
			}
			n.mu.Lock()
			n.finished = time.Now()
			n.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.complete(ctx, n)
			}()
		}
	}
}

// complete follows n's completion: a bidder tips, and with Replace n is
// retired and a fresh node started in its slot.
func (s *Swarm) complete(ctx context.Context, n *Node) {
	if n.Role == RoleBidder && !s.opts.Tip.IsZero() {
		s.tip(ctx, n)
	}
	if !s.opts.Replace || ctx.Err() != nil {
		return
	}
	s.retire(n)
	if ctx.Err() != nil {
		return
	}
	if _, err := s.startNode(ctx, n.Spec, n.Slot, n.Gen+1); err != nil {
		s.opts.Logger.Error("cannot replace a finished demo node", "node", n.Label(), "err", err)
		return
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// tip pays Options.Tip to the btt_bid peer n downloaded most from,
// waiting at most TipTimeout for its acknowledgement. Two complete peers
// close their connection once the last cheque is squared, often before
// the completion is seen here: until a payment is recorded, tip dials
// the seeder again and retries. A failure is logged: the swarm goes on.
func (s *Swarm) tip(ctx context.Context, n *Node) {
	log := s.opts.Logger.With("node", n.Label())
	to, most := n.bestServer()
	if to == "" {
		log.Warn("demo bidder completed without a btt_bid peer to tip")
		return
	}
	amount := s.opts.Tip.Format(wallet.BTTDecimals)
	tctx, cancel := context.WithTimeout(ctx, s.opts.TipTimeout)
	defer cancel()
	before, err := issuedTips(n.Wallet)
	dials, dialed := 0, time.Time{}
	for err == nil {
		if err = n.Engine.Tip(tctx, s.ih, string(to), s.opts.Tip, s.opts.TipMemo); err == nil {
			break
		}
		if tctx.Err() != nil {
			break
		}
		if after, perr := issuedTips(n.Wallet); perr != nil || after != before {
			// Paid and refused (or unreadable): never pay twice.
			err = errors.Join(err, perr)
			break
		}
		// Not connected (any more): dial it again, once a second (a
		// dial on loopback takes milliseconds; the connection then
		// needs its btt_bid handshake).
		if time.Since(dialed) >= time.Second {
			dials++
			dialed = time.Now()
			if aerr := n.Engine.AddPeer(tctx, s.ih, string(to)); aerr != nil {
				err = aerr
				break
			}
		}
		select {
		case <-tctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
		err = nil
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("demo bidder could not tip its seeder", "peer", to, "amount", amount, "err", err)
		}
		return
	}
	n.mu.Lock()
	n.tippedTo = string(to)
	n.mu.Unlock()
	log.Info("demo bidder tipped its seeder", "peer", to, "downloaded", most, "amount", amount, "memo", s.opts.TipMemo, "redials", dials)
}

// issuedTips counts the tips w recorded as paid.
func issuedTips(w *wallet.Wallet) (int, error) {
	ps, err := w.Payments()
	if err != nil {
		return 0, err
	}
	k := 0
	for _, p := range ps {
		if p.Direction == wallet.Issued && p.For == wallet.ForTip {
			k++
		}
	}
	return k, nil
}

// retire stops n's engine, keeps its last torrent row and removes its
// downloaded copy of the payload.
func (s *Swarm) retire(n *Node) {
	if err := n.halt(); err != nil {
		s.opts.Logger.Warn("demo node stopped with an error", "node", n.Label(), "err", err)
	}
	_ = os.RemoveAll(filepath.Join(n.dir, "download"))
}

// Close stops the watcher and every engine (leechers first, so their
// last cheques reach the seeders). It is safe to call more than once.
func (s *Swarm) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	live := s.Live()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	stopAll := func(seeders bool) {
		for _, n := range live {
			if (n.Role == RoleSeeder) != seeders || n.stop == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := n.halt(); err != nil {
					emu.Lock()
					errs = append(errs, fmt.Errorf("node %s: %w", n.Label(), err))
					emu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	stopAll(false)
	stopAll(true)
	return errors.Join(errs...)
}

// waitDone waits until e has the whole of its (only) torrent.
func waitDone(ctx context.Context, e *core.Engine, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, t := range e.Snapshot().Torrents {
			if t.Complete() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("timed out")
}
