package core

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// hostilePeer is a raw BitTorrent + BEP 10 peer of our own that speaks
// btt_bid only to flood: one connection at a time per worker, a fresh
// wallet key per connection (addresses are free), a valid version 2
// HELLO so the session is READY (a version 3 HELLO needs a nonce and
// AUTH: without them the seeder turns btt_bid off at the HELLO, and the
// flood never reaches the market), then btt_bid messages of every type
// at rate per second: valid and replayed BIDs, CHEQUEs one base unit apart, TIPs at
// the minimum, PLEDGEs, FUNDED proofs of foreign pledges, maximum-size
// and oversized payloads, malformed and unknown messages, second HELLOs.
// A message that turns btt_bid off for the connection (or a close) makes
// the worker reconnect.
type hostilePeer struct {
	addr      string
	ih        InfoHash
	chainID   uint64
	token     wallet.Address
	payee     wallet.Address // the seeder's wallet
	from      string         // local IP to dial from
	rate      int            // messages per second per connection
	sent      atomic.Int64
	conns     atomic.Int64
	disabled  atomic.Int64 // ERROR disable received
	keySeed   atomic.Int64
	foreign   []bttbid.Pledge
	lastError atomic.Value // string
}

const ourBTTID = 7 // our local extension id for btt_bid

// run floods until stop is closed.
func (h *hostilePeer) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if err := h.session(stop); err != nil {
			h.lastError.Store(err.Error())
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func (h *hostilePeer) key() *wallet.Key {
	n := h.keySeed.Add(1)
	b := make([]byte, 32)
	b[0], b[1] = 9, 0x55
	binary.BigEndian.PutUint64(b[24:], uint64(n))
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		panic(err)
	}
	return k
}

// session is one connection: handshakes, then the flood.
func (h *hostilePeer) session(stop <-chan struct{}) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(h.from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	h.conns.Add(1)
	var ourID [20]byte
	copy(ourID[:], fmt.Sprintf("-HX0001-%012d", h.conns.Load()))
	hs := make([]byte, 0, 68)
	hs = append(hs, 19)
	hs = append(hs, "BitTorrent protocol"...)
	hs = append(hs, 0, 0, 0, 0, 0, 0x10, 0, 0)
	hs = append(hs, h.ih[:]...)
	hs = append(hs, ourID[:]...)
	if _, err := c.Write(hs); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	theirs := make([]byte, 68)
	if _, err := io.ReadFull(br, theirs); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	var theirID [20]byte
	copy(theirID[:], theirs[48:])
	w := bufio.NewWriter(c)
	writeMsg := func(id byte, payload ...[]byte) error {
		n := 1
		for _, p := range payload {
			n += len(p)
		}
		var hdr [5]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(n))
		hdr[4] = id
		w.Write(hdr[:])
		for _, p := range payload {
			w.Write(p)
		}
		return w.Flush()
	}
	if err := writeMsg(20, []byte{0}, []byte(fmt.Sprintf("d1:md%d:%si%dee1:v7:hostilee", len(bttbid.ExtensionName), bttbid.ExtensionName, ourBTTID))); err != nil {
		return err
	}
	// The reader learns the seeder's btt_bid id and watches for ERROR
	// disable; everything else is discarded.
	theirExt := make(chan byte, 1)
	off := make(chan struct{})
	go func() {
		defer close(off)
		var sentID bool
		for {
			var lb [4]byte
			if _, err := io.ReadFull(br, lb[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(lb[:])
			if n == 0 {
				continue
			}
			if n > 1<<20 {
				return
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(br, b); err != nil {
				return
			}
			if b[0] != 20 || len(b) < 2 {
				continue
			}
			switch b[1] {
			case 0:
				var m struct {
					M map[string]int `bencode:"m"`
				}
				if bencode.Unmarshal(b[2:], &m) == nil && !sentID {
					if id := m.M[bttbid.ExtensionName]; id > 0 && id < 256 {
						theirExt <- byte(id)
						sentID = true
					}
				}
			case ourBTTID:
				if msg, err := bttbid.Decode(b[2:]); err == nil {
					if e, ok := msg.(*bttbid.ErrorMsg); ok && e.Disable {
						h.disabled.Add(1)
						return
					}
				}
			}
		}
	}()
	var ext byte
	select {
	case ext = <-theirExt:
	case <-off:
		return fmt.Errorf("closed before the extended handshake")
	case <-time.After(10 * time.Second):
		return fmt.Errorf("no extended handshake")
	case <-stop:
		return nil
	}
	send := func(payload []byte) error {
		h.sent.Add(1)
		return writeMsg(20, []byte{ext}, payload)
	}
	k := h.key()
	hello := &bttbid.Hello{Version: 2, ChainID: h.chainID, Token: bttbid.Address(h.token),
		Address: bttbid.Address(k.Address()), Time: time.Now().Unix()}
	sig, err := k.SignMessage(bttbid.HelloSigningBytes(hello, h.ih, ourID, theirID))
	if err != nil {
		return err
	}
	hello.Sig = bttbid.Signature(sig)
	helloRaw := mustEncodeMsg(hello)
	if err := send(helloRaw); err != nil {
		return err
	}
	f := &flood{h: h, k: k, hello: helloRaw, r: rand.New(rand.NewPCG(uint64(h.conns.Load()), 1))}
	tick := time.NewTicker(time.Second / time.Duration(h.rate))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-off:
			return nil // turned off or closed: reconnect
		case <-tick.C:
		}
		if err := send(f.next()); err != nil {
			return err
		}
	}
}

// maxUnknown is a message of an unknown type of exactly MaxMessageSize
// bytes: d1:t4:zzzz1:x<L>:<L bytes>e.
var maxUnknown = func() []byte {
	for l := bttbid.MaxMessageSize; l > 0; l-- {
		b := fmt.Appendf(nil, "d1:t4:zzzz1:x%d:", l)
		if len(b)+l+1 == bttbid.MaxMessageSize {
			return append(append(b, make([]byte, l)...), 'e')
		}
	}
	panic("no size fits")
}()

func mustEncodeMsg(m bttbid.Message) []byte {
	b, err := bttbid.Encode(m)
	if err != nil {
		panic(err)
	}
	return b
}

// flood makes one connection's messages.
type flood struct {
	h       *hostilePeer
	k       *wallet.Key
	r       *rand.Rand
	hello   []byte
	seq     uint64
	payout  uint64
	history [][]byte
}

func (f *flood) cheque(cum uint64) bttbid.Cheque {
	c, err := wallet.SignCheque(f.k, f.h.chainID, f.h.token, f.h.payee, wallet.NewAmount(cum))
	if err != nil {
		panic(err)
	}
	return bttbid.Cheque{ChainID: c.ChainID, Token: bttbid.Address(c.Token), Payer: bttbid.Address(c.Payer),
		Beneficiary: bttbid.Address(c.Beneficiary), Payout: c.Cumulative, Sig: bttbid.Signature(c.Signature)}
}

func (f *flood) next() []byte {
	h := f.h
	var b []byte
	switch n := f.r.IntN(1000); {
	case n < 2: // a second HELLO: turns btt_bid off
		return f.hello
	case n < 4: // over the size limit: turns btt_bid off
		return append([]byte("d1:t3:bid5:price"), make([]byte, bttbid.MaxMessageSize)...)
	case n < 100: // a BID below the ask (never awarded: we are not interested)
		f.seq++
		b = mustEncodeMsg(&bttbid.Bid{Seq: f.seq, Price: wallet.NewAmount(askPrice)})
	case n < 350: // a cheque one base unit above the last
		f.payout++
		c := f.cheque(f.payout)
		b = mustEncodeMsg(&c)
	case n < 450: // a tip at the minimum
		f.payout += 100
		c := f.cheque(f.payout)
		note, err := wallet.SignTipNote(f.k, h.chainID, h.token, h.payee, c.Payout, wallet.NewAmount(100), h.ih, wallet.ForTip, "x")
		if err != nil {
			panic(err)
		}
		b = mustEncodeMsg(&bttbid.Tip{Cheque: c, For: bttbid.PurposeTip, Amount: wallet.NewAmount(100),
			InfoHash: h.ih, Memo: "x", NoteSig: bttbid.Signature(note.Signature)})
	case n < 500: // a pledge (the seeder runs no campaign)
		p, err := wallet.SignPledge(f.k, h.chainID, h.token, h.payee, h.ih, wallet.NewAmount(1000), wallet.NewAmount(1e6),
			uint64(time.Now().Add(time.Hour).Unix()), uint64(time.Now().Unix()))
		if err != nil {
			panic(err)
		}
		b = mustEncodeMsg(&bttbid.Pledge{ChainID: p.ChainID, Token: bttbid.Address(p.Token), Payer: bttbid.Address(p.Payer),
			Payee: bttbid.Address(p.Payee), InfoHash: p.InfoHash, Amount: p.Amount, Goal: p.Goal,
			Deadline: int64(p.Deadline), Time: int64(p.Time), Sig: bttbid.Signature(p.Signature)})
	case n < 550: // FUNDED with the most foreign pledges
		b = mustEncodeMsg(&bttbid.Funded{InfoHash: h.ih, Pledges: h.foreign})
	case n < 600: // an ASK at the largest values
		b = mustEncodeMsg(&bttbid.Ask{Price: wallet.NewAmount(1 << 62), RoundLength: bttbid.MaxRound,
			Credit: bttbid.MaxCreditBytes, Cap: bttbid.MaxCreditBytes})
	case n < 700: // an ERROR with the longest text, not disabling
		b = mustEncodeMsg(&bttbid.ErrorMsg{Code: 999, Text: string(make([]byte, bttbid.MaxErrorText))})
	case n < 750: // an unknown type at the maximum size
		b = maxUnknown
	case n < 990: // a replay of an earlier message
		if len(f.history) > 0 {
			return f.history[f.r.IntN(len(f.history))]
		}
		return f.hello
	default: // a valid message with one byte changed (mostly malformed)
		if len(f.history) == 0 {
			return f.hello
		}
		m := append([]byte(nil), f.history[f.r.IntN(len(f.history))]...)
		m[f.r.IntN(len(m))] ^= byte(1 + f.r.IntN(255))
		return m
	}
	if len(f.history) < 64 {
		f.history = append(f.history, b)
	}
	return b
}
