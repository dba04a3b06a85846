package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// One node of the swarm: its engine, wallet and what it has seen.

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
	tipErr   error        // why it did not tip, if it tried and failed
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

// TipError returns why the node's tip failed, nil if it tipped or has
// not tried.
func (n *Node) TipError() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.tipErr
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
