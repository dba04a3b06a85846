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
	positiveOr(&o.Size, d.Size)
	positiveOr(&o.PieceLength, d.PieceLength)
	positiveOr(&o.Rate, d.Rate)
	positiveOr(&o.Round, d.Round)
	positiveOr(&o.Slots, d.Slots)
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
	positiveOr(&o.FirstIP, d.FirstIP)
	positiveOr(&o.TipTimeout, d.TipTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// positiveOr sets *v to d unless it is positive.
func positiveOr[T int | int64 | float64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
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
