// Command market benchmarks bidtorrent's bandwidth market in one run and
// prints three tables:
//
//		go run ./bench/market [-size 12MiB] [-rate 1MiB] [-big 256MiB]
//
//	 1. The contended swarm: one seller whose upload is capped at -rate, two
//	    bidders (5000 and 2000 base units per MiB, one paid slot) and one
//	    legacy leecher without the extension, in a star on loopback, first
//	    with the seller's market on (uniform auction) and then with the
//	    `free` strategy. For each peer: its download time and the bytes it
//	    had when the high bidder completed; and the bidder/legacy speed
//	    ratio over that contended stretch.
//	 2. The shaper's overhead: one uncontended -big transfer between two
//	    engines, the seller with its upload limit set very high, with the
//	    market's shaper (a wallet open) and without (no wallet).
//	 3. The cost of payments: the same -big transfer paid (ask 1000, bid
//	    2000) and unpaid (wallets open, seller strategy free), and cheques
//	    per MiB.
//
// Engines run in-process, each on its own 127.0.0.x with DHT, LSD, PEX
// and uTP off, and share one local ledger file. Nothing here runs in CI.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

func main() {
	size := flag.String("size", "12MiB", "payload of the contended swarm")
	rate := flag.String("rate", "1MiB", "the contended seller's upload capacity per second")
	big := flag.String("big", "256MiB", "payload of the uncontended transfers")
	keep := flag.Bool("keep", false, "keep the work dir")
	only = flag.String("only", "", "run only the uncontended scenarios whose name contains this")
	swarm = flag.Bool("swarm", true, "run the contended swarm")
	flag.Parse()
	if err := run(*size, *rate, *big, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "market:", err)
		os.Exit(1)
	}
}

var (
	only  *string
	swarm *bool
)

type bench struct {
	dir    string
	ledger *local.Ledger
	nextIP int
	seed   byte
}

func run(sizeS, rateS, bigS string, keep bool) error {
	size, err := core.ParseRate(sizeS)
	if err != nil {
		return err
	}
	rate, err := core.ParseRate(rateS)
	if err != nil {
		return err
	}
	big, err := core.ParseRate(bigS)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-market-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("work dir:", dir)
	}
	l, err := local.Open(filepath.Join(dir, "ledger.json"), wallet.MustParseAddress(wallet.DefaultBTTContract), 5*time.Second)
	if err != nil {
		return err
	}
	b := &bench{dir: dir, ledger: l, nextIP: 40}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "contended swarm: %s at %s/s\tseller\tpeer\tdownload time\tbytes when high done\tbidder/legacy\t\n", bytesize.Format(int64(size)), bytesize.Format(int64(rate)))
	for _, s := range []string{strategy.SellerUniform, strategy.SellerFree} {
		if !*swarm {
			break
		}
		rows, err := b.contended(s, int64(size), int64(rate))
		if err != nil {
			return fmt.Errorf("contended swarm (%s): %w", s, err)
		}
		for _, r := range rows {
			fmt.Fprintf(tw, "\t%s\t%s\t%.1fs\t%d\t%s\t\n", s, r.name, r.time.Seconds(), r.bytes, r.ratio)
		}
	}
	tw.Flush()
	fmt.Println()
	fmt.Fprintf(tw, "uncontended %s\tMiB/s\tdownloaded\tpaid (buyer)\tpaid (seller)\tcheques\tcheques/MiB paid\tspent\tearned\t\n", bytesize.Format(int64(big)))
	for _, sc := range []transfer{{name: "no shaper (no wallet)"}, {name: "shaper (market on, free)", wallets: true},
		{name: "paid (ask 1000, bid 2000)", wallets: true, paid: true}} {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		res, err := b.transfer(sc, int64(big))
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		mib := float64(big) / (1 << 20)
		perMiB := "-"
		if res.bought > 0 {
			perMiB = fmt.Sprintf("%.3f", float64(res.cheques)/(float64(res.bought)/(1<<20)))
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n", sc.name, mib/res.time.Seconds(), bytesize.Format(res.down),
			bytesize.Format(res.bought), bytesize.Format(res.sold), res.cheques, perMiB, res.spent, res.earned)
	}
	return tw.Flush()
}

func (b *bench) ip() string {
	b.nextIP++
	return fmt.Sprintf("127.0.0.%d", b.nextIP)
}

// countingWallet counts the cheques it signs.
type countingWallet struct {
	*wallet.Wallet
	n *atomic.Int64
}

func (w countingWallet) SignCheque(token, beneficiary wallet.Address, cumulative wallet.Amount, chainID uint64) (wallet.Cheque, error) {
	w.n.Add(1)
	return w.Wallet.SignCheque(token, beneficiary, cumulative, chainID)
}

func (b *bench) wallet(fund uint64) (*wallet.Wallet, error) {
	b.seed++
	k := make([]byte, 32)
	k[0], k[31] = 9, b.seed
	key, err := wallet.KeyFromBytes(k)
	if err != nil {
		return nil, err
	}
	book, err := wallet.OpenChequeBook(filepath.Join(b.dir, fmt.Sprintf("cheques-%d.db", b.seed)), 5*time.Second)
	if err != nil {
		return nil, err
	}
	w := wallet.New(key, book, b.ledger)
	if fund > 0 {
		if err := w.Faucet(context.Background(), wallet.NewAmount(fund)); err != nil {
			return nil, err
		}
	}
	return w, nil
}

type engine struct {
	*core.Engine
	stop func() error
}

func (b *bench) engine(name string, upload int64, w core.Wallet) (*engine, error) {
	ip := b.ip()
	cfg := core.DefaultConfig()
	cfg.ListenAddr, cfg.DialAddr = ip+":0", ip
	cfg.DHT, cfg.PEX, cfg.LSD, cfg.UTP = false, false, false, false
	cfg.UploadLimit = core.Rate(upload)
	cfg.Market.Round = time.Second
	cfg.Market.Slots = 1
	opts := []core.Option{core.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), core.WithSnapshotInterval(100 * time.Millisecond)}
	if w != nil {
		opts = append(opts, core.WithWallet(w))
	}
	e, err := core.New(cfg, filepath.Join(b.dir, name+"-"+ip), opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return &engine{Engine: e, stop: func() error { cancel(); return <-done }}, nil
}

func (b *bench) payload(name string, size int64) (root, torrentPath string, ih core.InfoHash, err error) {
	root = filepath.Join(b.dir, "src-"+name, "payload")
	if err = os.MkdirAll(root, 0o755); err != nil {
		return
	}
	f, err := os.Create(filepath.Join(root, "data.bin"))
	if err != nil {
		return
	}
	r := rand.New(rand.NewPCG(uint64(size), 7))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		for i := 0; i+8 <= len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
		}
		if _, err = f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			f.Close()
			return
		}
	}
	if err = f.Close(); err != nil {
		return
	}
	tf, err := core.CreateTorrent(core.CreateOptions{Path: root, PieceLength: 256 << 10})
	if err != nil {
		return
	}
	torrentPath = filepath.Join(b.dir, name+".torrent")
	err = os.WriteFile(torrentPath, tf.Bytes, 0o644)
	return root, torrentPath, tf.InfoHash, err
}

func waitComplete(e *engine, ih core.InfoHash, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last core.Torrent
	for time.Now().Before(deadline) {
		t, ok := e.Snapshot().Torrent(ih)
		if ok && t.Complete() {
			return nil
		}
		last = t
		time.Sleep(50 * time.Millisecond)
	}
	msg := fmt.Sprintf("timed out at %d/%d bytes, state %s, %d peers", last.Done, last.Size, last.State, len(last.Peers))
	for _, p := range last.Peers {
		msg += fmt.Sprintf("; peer %s market %+v", p.Key, p.Market)
	}
	return errors.New(msg)
}

func ptr[T any](v T) *T { return &v }

type row struct {
	name  string
	time  time.Duration
	bytes int64
	ratio string
}

func (b *bench) contended(sellerStrategy string, size, rate int64) ([]row, error) {
	root, tp, ih, err := b.payload("swarm-"+sellerStrategy, size)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	sw, err := b.wallet(0)
	if err != nil {
		return nil, err
	}
	seller, err := b.engine("seller", rate, sw)
	if err != nil {
		return nil, err
	}
	defer seller.stop()
	if _, err := seller.Add(ctx, core.AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		return nil, err
	}
	if err := seller.SetMarket(ctx, ih, core.MarketSettings{Ask: ptr(wallet.NewAmount(1000)), SellerStrategy: ptr(sellerStrategy)}); err != nil {
		return nil, err
	}
	if err := waitComplete(seller, ih, time.Minute); err != nil {
		return nil, fmt.Errorf("seller check: %w", err)
	}
	names := []string{"high bidder (5000)", "low bidder (2000)", "legacy"}
	bids := []uint64{5000, 2000, 0}
	var es []*engine
	for i, name := range names {
		var w core.Wallet
		if bids[i] > 0 {
			ww, err := b.wallet(1e15)
			if err != nil {
				return nil, err
			}
			w = ww
		}
		e, err := b.engine(fmt.Sprint("leech", i), 0, w)
		if err != nil {
			return nil, err
		}
		defer e.stop()
		if _, err := e.Add(ctx, core.AddSpec{Source: tp, DataDir: filepath.Join(b.dir, fmt.Sprintf("out-%s-%d", sellerStrategy, i)), Paused: true}); err != nil {
			return nil, err
		}
		if bids[i] > 0 {
			if err := e.SetMarket(ctx, ih, core.MarketSettings{Bid: ptr(wallet.NewAmount(bids[i])), BuyerStrategy: ptr(strategy.BuyerFixed)}); err != nil {
				return nil, err
			}
		}
		es = append(es, e)
		_ = name
	}
	start := time.Now()
	for _, e := range es {
		if err := e.Resume(ctx, ih); err != nil {
			return nil, err
		}
		if err := e.AddPeer(ctx, ih, seller.ListenAddr().String()); err != nil {
			return nil, err
		}
	}
	rows := make([]row, len(es))
	for i := range rows {
		rows[i].name = names[i]
	}
	firstDone := false
	for n := 0; n < len(es); {
		if time.Since(start) > 5*time.Minute {
			return nil, errors.New("timed out")
		}
		time.Sleep(20 * time.Millisecond)
		for i, e := range es {
			t, _ := e.Snapshot().Torrent(ih)
			if rows[i].time == 0 && t.Complete() {
				rows[i].time = time.Since(start)
				n++
				if i == 0 && !firstDone {
					firstDone = true
					for j, e2 := range es {
						t2, _ := e2.Snapshot().Torrent(ih)
						rows[j].bytes = t2.Done
					}
				}
			}
		}
	}
	if rows[2].bytes > 0 {
		rows[0].ratio = fmt.Sprintf("%.2f", float64(rows[0].bytes)/float64(rows[2].bytes))
	}
	return rows, nil
}

type transfer struct {
	name          string
	wallets, paid bool
}

type transferResult struct {
	time    time.Duration
	cheques int64
	bought  int64 // bytes received while awarded (the buyer's count)
	sold    int64 // bytes served while awarding (the seller's count)
	down    int64 // payload bytes the buyer downloaded
	spent   wallet.Amount
	earned  wallet.Amount
}

func (b *bench) transfer(sc transfer, size int64) (transferResult, error) {
	var res transferResult
	root, tp, ih, err := b.payload(fmt.Sprintf("big-%d", b.nextIP), size)
	if err != nil {
		return res, err
	}
	ctx := context.Background()
	var sw, bw core.Wallet
	var n atomic.Int64
	if sc.wallets {
		w1, err := b.wallet(0)
		if err != nil {
			return res, err
		}
		w2, err := b.wallet(1e18)
		if err != nil {
			return res, err
		}
		sw, bw = w1, countingWallet{w2, &n}
	}
	seller, err := b.engine("big-seller", 16<<30, sw)
	if err != nil {
		return res, err
	}
	defer seller.stop()
	if _, err := seller.Add(ctx, core.AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		return res, err
	}
	if sc.paid {
		if err := seller.SetMarket(ctx, ih, core.MarketSettings{Ask: ptr(wallet.NewAmount(1000)), SellerStrategy: ptr(strategy.SellerUniform)}); err != nil {
			return res, err
		}
	}
	if err := waitComplete(seller, ih, 5*time.Minute); err != nil {
		return res, fmt.Errorf("seller check: %w", err)
	}
	buyer, err := b.engine("big-buyer", 0, bw)
	if err != nil {
		return res, err
	}
	defer buyer.stop()
	if _, err := buyer.Add(ctx, core.AddSpec{Source: tp, DataDir: filepath.Join(b.dir, fmt.Sprintf("big-out-%d", b.nextIP)), Paused: true}); err != nil {
		return res, err
	}
	if sc.paid {
		if err := buyer.SetMarket(ctx, ih, core.MarketSettings{Bid: ptr(wallet.NewAmount(2000)), BuyerStrategy: ptr(strategy.BuyerFixed)}); err != nil {
			return res, err
		}
		// Let HELLO, ASK, BID and the first AWARD happen before timing,
		// with the seller's upload throttled meanwhile.
		if err := seller.SetLimits(ctx, core.InfoHash{}, core.Limits{Up: 256 << 10}); err != nil {
			return res, err
		}
		if err := buyer.Resume(ctx, ih); err != nil {
			return res, err
		}
		if err := buyer.AddPeer(ctx, ih, seller.ListenAddr().String()); err != nil {
			return res, err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			t, _ := buyer.Snapshot().Torrent(ih)
			if len(t.Peers) == 1 && t.Peers[0].Market.AwardedU {
				break
			}
			if time.Now().After(deadline) {
				return res, fmt.Errorf("no award within 30 s: %+v", t.Peers)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := seller.SetLimits(ctx, core.InfoHash{}, core.Limits{}); err != nil {
			return res, err
		}
	}
	start := time.Now()
	if !sc.paid {
		if err := buyer.Resume(ctx, ih); err != nil {
			return res, err
		}
		if err := buyer.AddPeer(ctx, ih, seller.ListenAddr().String()); err != nil {
			return res, err
		}
	}
	if err := waitComplete(buyer, ih, 2*time.Minute); err != nil {
		return res, err
	}
	res.time = time.Since(start)
	time.Sleep(300 * time.Millisecond) // the final cheque
	res.cheques = n.Load()
	if t, ok := buyer.Snapshot().Torrent(ih); ok {
		res.bought, res.down, res.spent = t.Market.Bought, t.Downloaded, t.Market.Spent
	}
	if t, ok := seller.Snapshot().Torrent(ih); ok {
		res.sold, res.earned = t.Market.Sold, t.Market.Earned
	}
	_ = os.RemoveAll(filepath.Join(b.dir, fmt.Sprintf("big-out-%d", b.nextIP)))
	return res, nil
}
