package core

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// gatedWallet is a seller's wallet whose store of received cheques waits
// for the test: each store (AcceptAll, or AcceptCheque and AcceptTip,
// which an engine that stores on its loop calls) announces its size on
// entered and proceeds when gate yields, failing when fail is set.
type gatedWallet struct {
	*wallet.Wallet
	entered chan int
	gate    chan struct{}
	fail    atomic.Bool
}

func newGatedWallet(w *wallet.Wallet) *gatedWallet {
	return &gatedWallet{Wallet: w, entered: make(chan int, 100), gate: make(chan struct{})}
}

var errDiskFull = errors.New("disk full (test)")

func (g *gatedWallet) wait(n int) error {
	g.entered <- n
	<-g.gate
	if g.fail.Load() {
		return errDiskFull
	}
	return nil
}

func (g *gatedWallet) AcceptAll(in []wallet.Incoming) ([]wallet.Accepted, error) {
	if err := g.wait(len(in)); err != nil {
		return nil, err
	}
	return g.Wallet.AcceptAll(in)
}

func (g *gatedWallet) AcceptCheque(c wallet.Cheque) (wallet.Amount, error) {
	if err := g.wait(1); err != nil {
		return wallet.Amount{}, err
	}
	return g.Wallet.AcceptCheque(c)
}

func (g *gatedWallet) AcceptTip(c wallet.Cheque, n wallet.TipNote) (wallet.Amount, error) {
	if err := g.wait(1); err != nil {
		return wallet.Amount{}, err
	}
	return g.Wallet.AcceptTip(c, n)
}

// marketPeer is a hand-made btt_bid buyer on a raw connection: it sends
// the payloads the test makes and collects every btt_bid message the
// seller sends, in order.
type marketPeer struct {
	c      net.Conn
	bttbid byte
	k      *wallet.Key
	seller wallet.Address
	chain  uint64
	token  wallet.Address
	msgs   chan bttbid.Message
}

// dialMarket connects to the seller of ih as k (a version 2 HELLO: READY
// without AUTH) and waits for the seller's ASK.
func dialMarket(t *testing.T, addr string, ih InfoHash, k *wallet.Key, seller *wallet.Wallet) *marketPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var id [20]byte
	copy(id[:], "-MS0001-storetest000")
	hs := append([]byte("\x13BitTorrent protocol"), 0, 0, 0, 0, 0, 0x10, 0, 0)
	hs = append(append(hs, ih[:]...), id[:]...)
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	theirs := make([]byte, 68)
	if _, err := io.ReadFull(c, theirs); err != nil {
		t.Fatalf("no handshake from the seller: %v", err)
	}
	p := &marketPeer{c: c, k: k, seller: seller.Address(), chain: seller.ChainID(), token: seller.Token(), msgs: make(chan bttbid.Message, 1000)}
	ext := make(chan byte, 1)
	go func() { // the reader: the seller's extended handshake, then btt_bid
		defer close(p.msgs)
		for {
			var n uint32
			if err := binary.Read(c, binary.BigEndian, &n); err != nil {
				return
			}
			msg := make([]byte, n)
			if _, err := io.ReadFull(c, msg); err != nil {
				return
			}
			switch {
			case n < 2 || msg[0] != 20:
			case msg[1] == 0:
				var eh pp.ExtendedHandshakeMessage
				if bencode.Unmarshal(msg[2:], &eh) == nil {
					if id := eh.M[pp.ExtensionName(bttbid.ExtensionName)]; id > 0 {
						select {
						case ext <- byte(id):
						default:
						}
					}
				}
			case msg[1] == 3: // our btt_bid id
				if m, err := bttbid.Decode(msg[2:]); err == nil {
					p.msgs <- m
				}
			}
		}
	}()
	p.write(t, 0, []byte("d1:md7:btt_bidi3eee"))
	select {
	case p.bttbid = <-ext:
	case <-time.After(20 * time.Second):
		t.Fatal("the seller sent no btt_bid handshake")
	}
	h := &bttbid.Hello{Version: 2, ChainID: p.chain, Token: bttbid.Address(p.token), Address: bttbid.Address(k.Address()), Time: time.Now().Unix()}
	sig, err := k.SignMessage(bttbid.HelloSigningBytes(h, ih, id, [20]byte(theirs[48:])))
	if err != nil {
		t.Fatal(err)
	}
	h.Sig = bttbid.Signature(sig)
	p.send(t, h)
	p.await(t, "the seller's ASK", func(m bttbid.Message) bool { _, ok := m.(*bttbid.Ask); return ok })
	return p
}

func (p *marketPeer) write(t *testing.T, ext byte, payload []byte) {
	t.Helper()
	b := binary.BigEndian.AppendUint32(nil, uint32(2+len(payload)))
	if _, err := p.c.Write(append(append(b, 20, ext), payload...)); err != nil {
		t.Fatal(err)
	}
}

func (p *marketPeer) send(t *testing.T, m bttbid.Message) {
	t.Helper()
	b, err := bttbid.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, p.bttbid, b)
}

// cheque signs a cheque of cumulative cum to the seller.
func (p *marketPeer) cheque(t *testing.T, cum uint64) *bttbid.Cheque {
	t.Helper()
	c, err := wallet.SignCheque(p.k, p.chain, p.token, p.seller, wallet.NewAmount(cum))
	if err != nil {
		t.Fatal(err)
	}
	return &bttbid.Cheque{ChainID: c.ChainID, Token: bttbid.Address(c.Token), Payer: bttbid.Address(c.Payer),
		Beneficiary: bttbid.Address(c.Beneficiary), Payout: c.Cumulative, Sig: bttbid.Signature(c.Signature)}
}

// await returns the first message from the seller that ok accepts,
// failing the test on a RECEIPT it was not waiting for that names more
// than allowed (an acknowledgement of a cheque not yet durable).
func (p *marketPeer) await(t *testing.T, what string, ok func(bttbid.Message) bool) bttbid.Message {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, open := <-p.msgs:
			if !open {
				t.Fatalf("the seller closed the connection before %s", what)
			}
			if ok(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s from the seller", what)
		}
	}
}

// receiptOf accepts a RECEIPT naming payout, and fails on any RECEIPT
// above the highest payout the test knows durable.
func receiptOf(t *testing.T, payout uint64, durable *uint64) func(bttbid.Message) bool {
	return func(m bttbid.Message) bool {
		r, ok := m.(*bttbid.Receipt)
		if !ok {
			return false
		}
		if r.Payout.Cmp(wallet.NewAmount(*durable)) > 0 {
			t.Fatalf("RECEIPT for %s while only %d was stored: acknowledged before durable", r.Payout, *durable)
		}
		return r.Payout.Cmp(wallet.NewAmount(payout)) == 0
	}
}

// accepted is what the seller's market counts as accepted from payer.
func accepted(t *testing.T, e *Engine, payer wallet.Address) wallet.Amount {
	t.Helper()
	var got wallet.Amount
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := e.do(ctx, func() error {
		for _, a := range e.mkt.m.Accounts() {
			if a.Address == payer {
				got = a.Accepted
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the loop did not answer while a cheque was being stored: %v", err)
	}
	return got
}

// storeSeller starts a seller with wallet g selling a small torrent at
// askPrice, and a raw buyer bidding the ask on it.
func storeSeller(t *testing.T, ip string, g func(*wallet.Wallet) Wallet) (*runningEngine, *wallet.Wallet, *marketPeer) {
	t.Helper()
	dir := t.TempDir()
	root := makePayload(t, filepath.Join(dir, "src"), "payload", 5, map[string]int{"data.bin": 1 << 20})
	tf, err := CreateTorrent(CreateOptions{Path: root, PieceLength: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(dir, "p.torrent")
	if err := writeFile(tp, tf.Bytes); err != nil {
		t.Fatal(err)
	}
	l := testLedger(t, dir)
	sw := testWallet(t, l, dir, 61, 0)
	seller := startMarketEngine(t, "seller", marketTestConfig(ip, 0), filepath.Join(dir, "seller"), g(sw))
	ih, err := seller.Add(context.Background(), AddSpec{Source: tp, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, seller.Engine, ih, 30*time.Second, "seller verified", isComplete)
	setMarket(t, seller.Engine, ih, MarketSettings{Ask: ptr(wallet.NewAmount(askPrice))})
	p := dialMarket(t, seller.ListenAddr().String(), ih, testKey(t, 62), sw)
	p.send(t, &bttbid.Bid{Seq: 1, Price: wallet.NewAmount(askPrice)})
	return seller, sw, p
}

// TestReceiptWaitsForDurableStore is what an attacker (or a full disk)
// tries against the seller's cheque path (PROTOCOL.md §8.4): the store
// of a received cheque is held; meanwhile the engine's loop still
// answers (it never waits on the store), the cheque does not count, and
// no RECEIPT names it (a RECEIPT the seller sends meanwhile, for a
// duplicate, names the old total). Released, it is acknowledged. A store
// that fails is answered with ERROR 500, never with RECEIPT, and counts
// nothing; the payer's resent cheque is then stored and acknowledged.
// A flood of one-unit cheques behind a held store is stored in one batch.
// (An engine storing on its loop fails at the first check: the loop
// waits for the store.)
func TestReceiptWaitsForDurableStore(t *testing.T) {
	var g *gatedWallet
	seller, _, p := storeSeller(t, ipN(150), func(w *wallet.Wallet) Wallet { g = newGatedWallet(w); return g })
	t.Cleanup(func() { close(g.gate) }) // before the engine stops
	payer := p.k.Address()
	var durable uint64

	// A cheque of 1000, its store held.
	p.send(t, p.cheque(t, 1000))
	if n := <-g.entered; n != 1 {
		t.Fatalf("first store of %d cheques, want 1", n)
	}
	if a := accepted(t, seller.Engine, payer); !a.IsZero() {
		t.Fatalf("a cheque being stored counts %s", a)
	}
	// A duplicate of the durable total (none: 0) is answered at once,
	// with the durable total.
	p.send(t, p.cheque(t, 0))
	p.await(t, "a RECEIPT of the durable total 0", receiptOf(t, 0, &durable))
	// Seventy one-unit cheques behind the held store: the payer's queue
	// holds 64 writes, the rest are refused unstored (ERROR 500).
	for cum := uint64(1001); cum <= 1070; cum++ {
		p.send(t, p.cheque(t, cum))
	}
	for i := range 7 {
		p.await(t, fmt.Sprintf("ERROR 500 for a cheque past the queue (%d)", i+1), func(m bttbid.Message) bool {
			receiptOf(t, 0, &durable)(m)
			e, ok := m.(*bttbid.ErrorMsg)
			return ok && e.Code == bttbid.CodeInternal && !e.Disable
		})
	}
	var n int
	if err := seller.do(context.Background(), func() error { n = seller.mkt.m.Writing(); return nil }); err != nil || n != 64 {
		t.Fatalf("%d writes queued (%v), want 64", n, err)
	}
	if a := accepted(t, seller.Engine, payer); !a.IsZero() {
		t.Fatalf("cheques being stored count %s", a)
	}
	durable = 1000
	g.gate <- struct{}{}
	p.await(t, "the RECEIPT of 1000", receiptOf(t, 1000, &durable))
	// The 63 cheques queued meanwhile: one store (one fsync) for all.
	if n := <-g.entered; n != 63 {
		t.Fatalf("the queued cheques were stored %d at a time, want 63 in one batch", n)
	}
	durable = 1063
	g.gate <- struct{}{}
	p.await(t, "the RECEIPT of 1063", receiptOf(t, 1063, &durable))
	if a := accepted(t, seller.Engine, payer); a.Cmp(wallet.NewAmount(1063)) != 0 {
		t.Fatalf("accepted %s after the stores, want 1063", a)
	}

	// A store that fails: ERROR 500, no RECEIPT, nothing counted.
	g.fail.Store(true)
	p.send(t, p.cheque(t, 1500))
	<-g.entered
	g.gate <- struct{}{}
	e := p.await(t, "ERROR 500", func(m bttbid.Message) bool {
		receiptOf(t, 0, &durable)(m)
		e, ok := m.(*bttbid.ErrorMsg)
		return ok && e.Code == bttbid.CodeInternal
	}).(*bttbid.ErrorMsg)
	if e.Disable {
		t.Fatal("a failed store turned the market off for the payer")
	}
	if a := accepted(t, seller.Engine, payer); a.Cmp(wallet.NewAmount(1063)) != 0 {
		t.Fatalf("accepted %s after a failed store, want 1063", a)
	}
	if r, _, _ := g.Wallet.Highest(wallet.Received, payer); r.Cheque.Cumulative.Cmp(wallet.NewAmount(1063)) != 0 {
		t.Fatalf("the book holds %s after a failed store, want 1063", r.Cheque.Cumulative)
	}
	// The payer sends it again: stored and acknowledged.
	g.fail.Store(false)
	p.send(t, p.cheque(t, 1500))
	<-g.entered
	durable = 1500
	g.gate <- struct{}{}
	p.await(t, "the RECEIPT of 1500", receiptOf(t, 1500, &durable))
	if r, _, _ := g.Wallet.Highest(wallet.Received, payer); r.Cheque.Cumulative.Cmp(wallet.NewAmount(1500)) != 0 || r.Cheque.Verify() != nil {
		t.Fatalf("the book holds %+v, want the payer's cheque of 1500", r.Cheque)
	}
}

// TestStoppedSellerKeepsQueuedCheque: the seller stops while a received
// cheque is being stored; the writer finishes it before the engine
// returns, and the reopened cheque book holds it, signed by the payer.
func TestStoppedSellerKeepsQueuedCheque(t *testing.T) {
	var g *gatedWallet
	seller, sw, p := storeSeller(t, ipN(151), func(w *wallet.Wallet) Wallet { g = newGatedWallet(w); return g })
	t.Cleanup(func() { close(g.gate) })
	p.send(t, p.cheque(t, 1234))
	<-g.entered
	stopped := make(chan error, 1)
	go func() { stopped <- seller.stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("the engine stopped (%v) before its cheque was stored", err)
	case <-time.After(200 * time.Millisecond):
	}
	g.gate <- struct{}{}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	book, err := wallet.OpenChequeBook(sw.ChequeBook().Path(), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, ok, err := book.Highest(wallet.Received, sw.ChainID(), sw.Token(), p.k.Address())
	if err != nil || !ok || r.Cheque.Cumulative.Cmp(wallet.NewAmount(1234)) != 0 || r.Cheque.Verify() != nil {
		t.Fatalf("reopened book: %+v %v %v, want the cheque of 1234", r.Cheque, ok, err)
	}
}
