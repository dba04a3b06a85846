package market

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// State is a connection's btt_bid state (PROTOCOL.md §5).
type State int

// Connection states.
const (
	Legacy    State = iota // the peer did not advertise btt_bid: plain BitTorrent
	HelloSent              // we sent HELLO and wait for the peer's
	Ready                  // both HELLOs verified: the market runs
	Disabled               // turned off for this connection; behaves as Legacy
)

func (s State) String() string {
	switch s {
	case Legacy:
		return "legacy"
	case HelloSent:
		return "hello_sent"
	case Ready:
		return "ready"
	case Disabled:
		return "disabled"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Rate limits of §10: a bucket of 200 messages refilled at 20 per second.
const (
	rateBurst   = 200
	ratePerSec  = 20
	rateErrGap  = 10 * time.Second
	rateDisable = 10 * ratePerSec * 10 // dropped in one 10 s window: ten times the limit
	maxBidLog   = 32
)

// Session is the btt_bid state of one connection. Create it with
// Auction.NewSession when the connection is added.
type Session struct {
	m   *Market
	t   *Auction
	key string

	infoHash, local, remote [20]byte
	since                   time.Time

	state    State
	started  time.Time // when we sent HELLO
	addr     wallet.Address
	lastErr  string
	outbox   [][]byte
	received int    // messages accepted, for tests and stats
	version  uint32 // negotiated protocol version (READY)

	// §16 payments (commerce.go).
	pay2         *payment    // our payment awaiting its receipt
	pledgeDone   func(error) // our pledge awaiting CAMPAIGN
	presented    bool        // we presented our licence
	campaignSeen uint64      // the tally our last CAMPAIGN reported
	campaignAt   time.Time
	fundedSent   bool

	// Seller role: we sell to the peer.
	ask         *bttbid.Ask // the ASK we want in force; nil = not selling
	askSent     *bttbid.Ask
	bidSeq      uint64
	bid         wallet.Amount // its bid in force
	awarded     bool
	price       wallet.Amount // award price in force, or the last round's clearing price
	awardSeq    uint64
	suspended   bool
	suspendedAt uint64 // round it was suspended in
	cut         bool
	sentTotal   int64
	sentInit    bool
	sellEpoch   epoch
	sold        int64
	earned      wallet.Amount // accepted on this connection
	weight      float64

	// Buyer role: we buy from the peer.
	theirAsk    *bttbid.Ask
	ourSeq      uint64
	ourBid      wallet.Amount
	bidAt       time.Time
	bidLog      map[uint64]wallet.Amount
	awardedUs   bool
	outbidUs    bool
	ourPrice    wallet.Amount // price of the latest AWARD or OUTBID
	credit      wallet.Amount // credit of the latest AWARD, base units
	recvTotal   int64
	recvInit    bool
	buyEpoch    epoch
	bought      int64
	spent       wallet.Amount // issued on this connection
	badPiece    bool
	lastReceipt *bttbid.Receipt

	// Rate limiting of received messages.
	tokens    float64
	refill    time.Time
	window    time.Time
	dropped   int
	rateErrAt time.Time
}

// Key returns the engine's key for the peer.
func (p *Session) Key() string { return p.key }

// State returns the connection state.
func (p *Session) State() State { return p.state }

// Version returns the negotiated protocol version (0 before READY).
func (p *Session) Version() uint32 { return p.version }

// Address returns the peer's wallet address from its verified HELLO.
func (p *Session) Address() (wallet.Address, bool) { return p.addr, p.state == Ready }

// Err returns the last protocol error on the connection, if any.
func (p *Session) Err() string { return p.lastErr }

// TakeOutbox returns the payloads to send, in order, and empties the box.
func (p *Session) TakeOutbox() [][]byte {
	out := p.outbox
	p.outbox = nil
	return out
}

func (p *Session) send(m bttbid.Message) error {
	if p.state == Disabled || p.state == Legacy {
		return errors.New("btt_bid is off for the connection")
	}
	b, err := bttbid.Encode(m)
	if err != nil {
		// Our own message out of range: a bug, but never worth a panic.
		p.lastErr = fmt.Sprintf("cannot encode %s: %v", m.Type(), err)
		return fmt.Errorf("cannot encode %s: %w", m.Type(), err)
	}
	p.outbox = append(p.outbox, b)
	return nil
}

// fail sends ERROR code and, when disable, turns the extension off.
func (p *Session) fail(code bttbid.Code, text string, disable bool) {
	p.lastErr = fmt.Sprintf("sent %s: %s", code, text)
	p.send(&bttbid.ErrorMsg{Code: code, Text: truncate(text), Disable: disable})
	if disable {
		p.disable()
	}
}

func truncate(s string) string {
	if len(s) > bttbid.MaxErrorText {
		s = s[:bttbid.MaxErrorText]
	}
	return s
}

// disable turns the extension off: the peer is a legacy peer from now on.
func (p *Session) disable() {
	if p.state == Disabled {
		return
	}
	p.closeSellEpoch()
	p.closeBuyEpoch()
	p.state = Disabled
	p.awarded, p.awardedUs, p.suspended = false, false, false
	if pp := p.pay2; pp != nil {
		p.pay2 = nil
		pp.finish(errors.New("btt_bid turned off for the connection before the payment was acknowledged"))
	}
	if done := p.pledgeDone; done != nil {
		p.pledgeDone = nil
		done(errors.New("btt_bid turned off for the connection before the pledge was acknowledged"))
	}
}

// Disable turns the extension off (the peer removed btt_bid from its
// handshake, or the engine stops trading with it). Nothing is sent.
func (p *Session) Disable(reason string) {
	if p.state != Legacy && p.state != Disabled {
		p.lastErr = reason
	}
	p.disable()
	p.outbox = nil
}

// Start is called when both sides advertise btt_bid: it queues our
// HELLO. It does nothing after the first call.
func (p *Session) Start(now time.Time) {
	if p.state != Legacy {
		return
	}
	w := p.m.w
	h := &bttbid.Hello{
		Version: bttbid.Version,
		ChainID: w.ChainID(),
		Token:   bttbid.Address(w.Token()),
		Address: bttbid.Address(w.Address()),
		Time:    now.Unix(),
	}
	sig, err := w.SignMessage(bttbid.HelloSigningBytes(h, p.infoHash, p.local, p.remote))
	if err != nil {
		p.lastErr = fmt.Sprintf("cannot sign HELLO: %v", err)
		p.state = Disabled
		return
	}
	h.Sig = bttbid.Signature(sig)
	p.state = HelloSent
	p.started = now
	p.send(h)
}

// Tick runs timeouts: a HELLO that did not come in time turns the
// extension off.
func (p *Session) Tick(now time.Time) {
	if p.state == HelloSent && now.Sub(p.started) > p.m.cfg.HelloTimeout {
		p.lastErr = "no HELLO from the peer in time"
		p.disable()
	}
}

// allow applies the receive rate limit; it reports whether the message
// may be handled.
func (p *Session) allow(now time.Time) bool {
	if p.refill.IsZero() {
		p.tokens, p.refill, p.window = rateBurst, now, now
	}
	p.tokens = min(rateBurst, p.tokens+now.Sub(p.refill).Seconds()*ratePerSec)
	p.refill = now
	if now.Sub(p.window) >= rateErrGap {
		p.window, p.dropped = now, 0
	}
	if p.tokens >= 1 {
		p.tokens--
		return true
	}
	p.dropped++
	if p.dropped > rateDisable {
		p.fail(bttbid.CodeRateLimited, "message rate ten times the limit", true)
		return false
	}
	if now.Sub(p.rateErrAt) >= rateErrGap {
		p.rateErrAt = now
		p.fail(bttbid.CodeRateLimited, "more than 20 messages per second", false)
	}
	return false
}

// ReceiveAt is Receive for a message read when the connection had
// delivered recvTotal useful payload bytes (the running total
// ObserveReceived takes): the bytes before the message are accounted
// under the state before it, so an AWARD's or OUTBID's epoch starts
// exactly at its position in the stream (PROTOCOL.md §8.1).
func (p *Session) ReceiveAt(now time.Time, payload []byte, recvTotal int64) {
	p.ObserveReceived(recvTotal)
	p.Receive(now, payload)
}

// Receive handles one btt_bid payload from the peer. It never panics and
// never fails: protocol errors are answered with ERROR per the spec.
func (p *Session) Receive(now time.Time, payload []byte) {
	if p.state == Legacy || p.state == Disabled {
		return
	}
	if !p.allow(now) {
		return
	}
	if len(payload) > bttbid.MaxMessageSize {
		p.fail(bttbid.CodeTooLarge, fmt.Sprintf("%d-byte message", len(payload)), true)
		return
	}
	msg, err := bttbid.Decode(payload)
	if err != nil {
		var be *bttbid.Error
		if errors.As(err, &be) {
			if be.Code == bttbid.CodeUnknownType {
				return // ignored silently (§3, §13)
			}
			em := be.ErrorMessage()
			p.fail(em.Code, em.Text, em.Disable)
			return
		}
		p.fail(bttbid.CodeMalformed, err.Error(), true)
		return
	}
	p.received++
	if e, ok := msg.(*bttbid.ErrorMsg); ok {
		p.onError(e)
		return
	}
	if p.state == HelloSent {
		if h, ok := msg.(*bttbid.Hello); ok {
			p.onHello(now, h)
			return
		}
		p.fail(bttbid.CodeUnexpected, string(msg.Type())+" before HELLO", true)
		return
	}
	switch m := msg.(type) {
	case *bttbid.Hello:
		p.fail(bttbid.CodeUnexpected, "second HELLO", true)
	case *bttbid.Ask:
		p.theirAsk = m
	case *bttbid.Bid:
		p.onBid(m)
	case *bttbid.Award:
		p.onAward(m)
	case *bttbid.Outbid:
		p.onOutbid(m)
	case *bttbid.Cheque:
		p.onCheque(m)
	case *bttbid.Receipt:
		p.onReceipt(m)
	default:
		if p.version < 2 {
			return // a version 2 message on a version 1 connection (§16.1)
		}
		switch m := msg.(type) {
		case *bttbid.Tip:
			p.onTip(now, m)
		case *bttbid.License:
			p.onLicense(now, m)
		case *bttbid.Pledge:
			p.onPledge(now, m)
		case *bttbid.Campaign:
			p.onCampaign(m)
		case *bttbid.Funded:
			p.onFunded(m)
		}
	}
}

func (p *Session) onError(e *bttbid.ErrorMsg) {
	p.lastErr = fmt.Sprintf("peer sent %s: %s", e.Code, e.Text)
	if e.Code == bttbid.CodeCreditExceeded && p.awardedUs {
		// The seller suspended paid service: the epoch ends; pay up.
		p.closeBuyEpoch()
		p.awardedUs = false
		p.pay(true)
	}
	switch e.Code {
	case bttbid.CodeUnderpaid, bttbid.CodeNotPayee, bttbid.CodeBadLicense, bttbid.CodeMisaddressed,
		bttbid.CodeBadCheque, bttbid.CodeStaleCheque:
		p.refused(e)
		if done := p.pledgeDone; done != nil {
			p.pledgeDone = nil
			done(fmt.Errorf("refused by the peer: %s: %s", e.Code, e.Text))
		}
	}
	if e.Disable {
		p.disable()
	}
}

func (p *Session) onHello(now time.Time, h *bttbid.Hello) {
	w := p.m.w
	var (
		code bttbid.Code
		why  string
	)
	switch skew := now.Sub(time.Unix(h.Time, 0)); {
	case h.ChainID != w.ChainID():
		code, why = bttbid.CodeWrongChain, fmt.Sprintf("chain %d, want %d", h.ChainID, w.ChainID())
	case h.Token != bttbid.Address(w.Token()):
		code, why = bttbid.CodeWrongToken, "token "+h.Token.String()
	case skew > bttbid.HelloMaxSkew || skew < -bttbid.HelloMaxSkew:
		code, why = bttbid.CodeStaleHello, fmt.Sprintf("timestamp %d is %s from our clock", h.Time, skew.Round(time.Second))
	default:
		msg := bttbid.HelloSigningBytes(h, p.infoHash, p.remote, p.local)
		if err := wallet.VerifyMessage(wallet.Address(h.Address), msg, wallet.Signature(h.Sig)); err != nil {
			code, why = bttbid.CodeBadSignature, "signature does not recover addr"
		}
	}
	if code != 0 {
		p.fail(code, why, true)
		return
	}
	p.addr = wallet.Address(h.Address)
	p.state = Ready
	p.version = min(h.Version, bttbid.Version)
	// Tell a returning buyer what we hold of its account (§8.5).
	if a, err := p.m.seller(p.addr); err != nil {
		p.lastErr = err.Error()
	} else if !a.accepted.IsZero() {
		p.send(&bttbid.Receipt{Payout: a.accepted, Owed: a.owed})
	}
	p.syncAsk()
	p.commerceHello(now)
}

// SetAsk sets the ASK we want in force with the peer (nil: we do not
// sell to it). A changed ASK is sent at once when the connection is
// ready.
func (p *Session) SetAsk(ask *bttbid.Ask) {
	p.ask = ask
	p.syncAsk()
}

func (p *Session) syncAsk() {
	if p.state != Ready || p.ask == nil {
		return
	}
	if p.askSent != nil && *p.askSent == *p.ask {
		return
	}
	a := *p.ask
	p.askSent = &a
	p.send(&a)
}

// Selling reports whether we sent the peer an ASK.
func (p *Session) Selling() bool { return p.state == Ready && p.askSent != nil }

func (p *Session) onBid(b *bttbid.Bid) {
	if p.askSent == nil {
		p.fail(bttbid.CodeNotSelling, "no ASK was sent", false)
		return
	}
	if b.Seq <= p.bidSeq {
		p.fail(bttbid.CodeInvalidField, fmt.Sprintf("bid seq %d not above %d", b.Seq, p.bidSeq), true)
		return
	}
	p.bidSeq, p.bid = b.Seq, b.Price
}

func (p *Session) onAward(a *bttbid.Award) {
	bid, ok := p.bidLog[a.Seq]
	if !ok || a.Price.Cmp(bid) > 0 {
		p.fail(bttbid.CodeBadAward, fmt.Sprintf("award for seq %d at %s", a.Seq, a.Price), true)
		return
	}
	p.closeBuyEpoch()
	p.awardedUs, p.outbidUs = true, false
	p.ourPrice, p.credit = a.Price, a.Credit
}

func (p *Session) onOutbid(o *bttbid.Outbid) {
	was := p.awardedUs
	p.closeBuyEpoch()
	p.awardedUs, p.outbidUs = false, true
	p.ourPrice = o.Price
	if was {
		p.pay(true)
	}
}

// closeSellEpoch ends the seller's epoch: later bytes are free until the
// next AWARD.
func (p *Session) closeSellEpoch() { p.sellEpoch = epoch{} }

// closeBuyEpoch ends the buyer's epoch: later bytes are not owed until
// the next AWARD.
func (p *Session) closeBuyEpoch() { p.buyEpoch = epoch{} }

// epoch meters the paid bytes of one price epoch (from an AWARD to the
// next AWARD, OUTBID or suspension). Owing is computed on the epoch's
// total bytes, so rounding down per MiB never loses more than one base
// unit per epoch, however the bytes arrive.
type epoch struct {
	bytes int64
	owed  wallet.Amount
}

// add counts n more bytes at price and returns what they add to the owed
// amount.
func (e *epoch) add(price wallet.Amount, n int64) wallet.Amount {
	e.bytes += n
	owed := charge(price, e.bytes)
	inc := owed.SubFloor(e.owed)
	e.owed = owed
	return inc
}

// ObserveSent samples the payload bytes written to the peer so far (a
// running total). Bytes written while an award is in force are paid
// bytes: they raise the account's owed and may suspend or cut the buyer.
func (p *Session) ObserveSent(total int64, round uint64) {
	d := total - p.sentTotal
	if !p.sentInit {
		d, p.sentInit = 0, true
	}
	if d < 0 {
		return // an older reading: counted already
	}
	p.sentTotal = total
	if d <= 0 || !p.awarded || p.state != Ready {
		return
	}
	p.sold += d
	p.t.Sold += d
	inc := p.sellEpoch.add(p.price, d)
	a, err := p.m.seller(p.addr)
	if err != nil {
		p.lastErr = err.Error()
		return
	}
	a.owed = add(a.owed, inc)
	p.checkCredit(a, round, false)
}

// creditAmount is the account's credit in base units at price.
func (p *Session) creditAmount(a *account, price wallet.Amount) wallet.Amount {
	return charge(price, int64(min(a.creditBytes, bttbid.MaxCreditBytes)))
}

// checkCredit suspends paid service at the credit limit and cuts the
// buyer past the tolerance (§8.3). Byte counters are sampled (each engine
// tick), so a fast transfer can overshoot the credit between two samples
// through no fault of the buyer: the tolerance is therefore judged at a
// round boundary after the suspension (boundary), once the buyer has had
// the time to answer ERROR 404 with a cheque; the grace bounds how long
// it may stay suspended.
func (p *Session) checkCredit(a *account, round uint64, boundary bool) {
	if p.price.IsZero() && !p.suspended {
		return
	}
	debt := a.owed.SubFloor(a.accepted)
	credit := p.creditAmount(a, p.price)
	if p.awarded && debt.Cmp(credit) >= 0 {
		p.closeSellEpoch()
		p.awarded, p.suspended, p.suspendedAt = false, true, round
		p.send(&bttbid.ErrorMsg{Code: bttbid.CodeCreditExceeded, Text: "debt reached the credit: pay to continue"})
	}
	if !p.suspended {
		return
	}
	limit, err := credit.MulDiv(uint64((1+p.m.cfg.Tolerance)*1000), 1000)
	if err != nil {
		limit = credit
	}
	if boundary && round > p.suspendedAt && debt.Cmp(limit) > 0 || round > p.suspendedAt+uint64(p.m.cfg.Grace) {
		p.cut, a.cut = true, true
		p.lastErr = "cut: debt past the credit tolerance"
	}
}

// Cut reports whether the buyer went past its credit tolerance: the
// engine chokes or disconnects it.
func (p *Session) Cut() bool { return p.cut }

func (p *Session) onCheque(m *bttbid.Cheque) {
	w := p.m.w
	if m.ChainID != w.ChainID() || m.Token != bttbid.Address(w.Token()) ||
		m.Payer != bttbid.Address(p.addr) || m.Beneficiary != bttbid.Address(w.Address()) {
		p.fail(bttbid.CodeMisaddressed, "cheque chain, token, payer or beneficiary is not this connection's", true)
		return
	}
	c := chequeOf(m)
	// The signature is checked once per cheque: by the wallet as it
	// stores the cheque (AcceptCheque), or by forged on a path that
	// stores nothing. Either way a forged cheque is answered BAD_CHEQUE.
	forged := func() bool {
		if c.Verify() != nil {
			p.fail(bttbid.CodeBadCheque, "cheque signature does not recover the payer", true)
			return true
		}
		return false
	}
	a, err := p.m.seller(p.addr)
	if err != nil {
		if !forged() {
			p.fail(bttbid.CodeInternal, "cannot read the cheque book", false)
		}
		return
	}
	switch m.Payout.Cmp(a.accepted) {
	case 0:
		if !forged() {
			p.sendReceipt(a)
		}
		return
	case -1:
		if !forged() {
			p.stopPaid()
			p.fail(bttbid.CodeStaleCheque, fmt.Sprintf("payout %s below the accepted %s", m.Payout, a.accepted), false)
		}
		return
	}
	price := p.price
	if price.IsZero() {
		price = p.bid
	}
	if lim := add(a.owed, p.creditAmount(a, price)); m.Payout.Cmp(lim) > 0 {
		if !forged() {
			p.stopPaid()
			p.fail(bttbid.CodeExcessiveCheque, fmt.Sprintf("payout %s above owed plus credit %s", m.Payout, lim), false)
		}
		return
	}
	inc, err := w.AcceptCheque(c) // verified, then durable before the RECEIPT
	if err != nil {
		if errors.Is(err, wallet.ErrBadSignature) || errors.Is(err, wallet.ErrMisaddressed) || errors.Is(err, wallet.ErrBadAddress) {
			// What Verify refuses (the rest of the cheque was checked above).
			p.fail(bttbid.CodeBadCheque, "cheque signature does not recover the payer", true)
			return
		}
		if errors.Is(err, wallet.ErrStale) {
			p.fail(bttbid.CodeStaleCheque, "cheque not above the recorded total", false)
			return
		}
		p.fail(bttbid.CodeInternal, "cannot store the cheque", false)
		p.lastErr = err.Error()
		return
	}
	a.accepted = m.Payout
	p.addEarned(inc)
	a.creditBytes = min(a.creditBytes*2, p.m.cfg.Cap)
	p.sendReceipt(a)
	if p.suspended && a.owed.SubFloor(a.accepted).Cmp(p.creditAmount(a, p.price)) < 0 && !p.cut {
		p.suspended = false
		p.resume(a)
	}
}

// resume restores paid service to a buyer whose cheque brought its debt
// back under the credit, within the round that awarded it (§8.3): a new
// AWARD at the same round, seq and price starts a new epoch. Waiting for
// the next round would leave a fast buyer unpaid-for most of the time.
func (p *Session) resume(a *account) {
	if p.awardSeq == 0 || p.awardSeq != p.bidSeq || p.bid.Cmp(p.price) < 0 || p.suspendedAt != p.t.round {
		return // its bid changed, or the round it was awarded in is over
	}
	p.closeSellEpoch()
	p.awarded = true
	p.send(&bttbid.Award{Round: p.t.round, Seq: p.awardSeq, Price: p.price, Credit: p.creditAmount(a, p.price)})
}

// sendReceipt acknowledges the account's accepted payout, with its credit
// at the price in force while we award the peer, so the buyer paces its
// cheques to the grown credit without waiting for the next AWARD (§8.3).
func (p *Session) sendReceipt(a *account) {
	r := &bttbid.Receipt{Payout: a.accepted, Owed: a.owed}
	if p.awarded {
		r.Credit = p.creditAmount(a, p.price)
	}
	p.send(r)
}

// addEarned counts inc, accepted from the peer for bandwidth, on the
// connection and the torrent.
func (p *Session) addEarned(inc wallet.Amount) {
	p.earned = add(p.earned, inc)
	p.t.Earned = add(p.t.Earned, inc)
	if p.t.EarnedFrom == nil {
		p.t.EarnedFrom = make(map[wallet.Address]wallet.Amount)
	}
	p.t.EarnedFrom[p.addr] = add(p.t.EarnedFrom[p.addr], inc)
}

// stopPaid ends paid service after an invalid cheque, until a valid one.
func (p *Session) stopPaid() {
	if p.awarded {
		p.closeSellEpoch()
		p.awarded = false
		p.suspended, p.suspendedAt = true, p.t.round
	}
}

func (p *Session) onReceipt(r *bttbid.Receipt) {
	p.lastReceipt = r
	if p.awardedUs && !r.Credit.IsZero() {
		p.credit = r.Credit
	}
	p.receiptFor(r)
	a, err := p.m.buyer(p.addr)
	if err != nil || a.last == nil || a.stopped || p.pay2 != nil {
		return // (a payment in flight: its TIP carries the cheque)
	}
	if r.Payout.Cmp(a.issued) < 0 {
		p.resend(a) // it never got our last cheque
	}
}

// SetBid sets our bid to the peer (zero withdraws it). A changed bid is
// sent when the connection is ready, the peer sells, and the last BID is
// at least BidInterval old; otherwise SetBid reports false and the
// caller tries again later.
func (p *Session) SetBid(now time.Time, price wallet.Amount) bool {
	if p.state != Ready || p.theirAsk == nil || p.badPiece {
		return false
	}
	if price.Cmp(p.ourBid) == 0 && (p.ourSeq > 0 || price.IsZero()) {
		return true
	}
	if now.Sub(p.bidAt) < p.m.cfg.BidInterval {
		return false
	}
	p.ourSeq++
	p.ourBid, p.bidAt = price, now
	if p.bidLog == nil {
		p.bidLog = make(map[uint64]wallet.Amount)
	}
	p.bidLog[p.ourSeq] = price
	delete(p.bidLog, p.ourSeq-maxBidLog)
	p.send(&bttbid.Bid{Seq: p.ourSeq, Price: price})
	return true
}

// ObserveReceived samples the useful payload bytes received from the peer
// so far (a running total). Bytes received while it awards us are owed
// at the award's price; a cheque goes out when unpaid reaches half the
// credit (§8.2).
func (p *Session) ObserveReceived(total int64) {
	d := total - p.recvTotal
	if !p.recvInit {
		d, p.recvInit = 0, true
	}
	if d < 0 {
		// An older reading (a message's position, queued behind a newer
		// sample): those bytes are counted already.
		return
	}
	p.recvTotal = total
	if d <= 0 || !p.awardedUs || p.state != Ready || p.badPiece {
		return
	}
	p.bought += d
	p.t.Bought += d
	inc := p.buyEpoch.add(p.ourPrice, d)
	a, err := p.m.buyer(p.addr)
	if err != nil {
		p.lastErr = err.Error()
		return
	}
	a.bought = add(a.bought, inc)
	p.pay(false)
}

// pay issues a cheque when what we owe passes half the credit, or, with
// all, whenever anything is owed.
func (p *Session) pay(all bool) {
	if p.state != Ready || p.badPiece {
		return
	}
	a, err := p.m.buyer(p.addr)
	if err != nil || a.stopped {
		return
	}
	unpaid := a.bought.SubFloor(a.issued)
	if unpaid.IsZero() {
		return
	}
	half, _ := p.credit.MulDiv(1, 2)
	if !all && unpaid.Cmp(half) < 0 {
		return
	}
	c, err := p.m.issue(p.addr, a)
	if err != nil {
		p.lastErr = err.Error()
		return
	}
	p.spent = add(p.spent, unpaid)
	p.t.Spent = add(p.t.Spent, unpaid)
	p.sendCheque(c)
}

// PayAll pays everything owed to the peer now (download complete, or the
// connection is about to close).
func (p *Session) PayAll() { p.pay(true) }

func (p *Session) sendCheque(c *wallet.Cheque) {
	m := chequeMsg(*c)
	p.send(&m)
}

// chequeMsg and chequeOf convert between the wallet's cheque and its
// wire form (CHEQUE, and the cheque inside a TIP).
func chequeMsg(c wallet.Cheque) bttbid.Cheque {
	return bttbid.Cheque{ChainID: c.ChainID, Token: bttbid.Address(c.Token), Payer: bttbid.Address(c.Payer),
		Beneficiary: bttbid.Address(c.Beneficiary), Payout: c.Cumulative, Sig: bttbid.Signature(c.Signature)}
}

func chequeOf(m *bttbid.Cheque) wallet.Cheque {
	return wallet.Cheque{ChainID: m.ChainID, Token: wallet.Address(m.Token), Payer: wallet.Address(m.Payer),
		Beneficiary: wallet.Address(m.Beneficiary), Cumulative: m.Payout, Signature: wallet.Signature(m.Sig)}
}

// BadPiece is called when a piece whose data came from this peer failed
// its hash check: we stop paying it and turn the extension off (§8.2).
func (p *Session) BadPiece() {
	if p.badPiece || (p.state != Ready && p.state != HelloSent) {
		p.badPiece = true
		return
	}
	p.badPiece = true
	p.closeBuyEpoch()
	p.awardedUs = false
	if p.state == Ready {
		if a, err := p.m.buyer(p.addr); err == nil {
			// What we owe for its bytes since the last cheque is not paid.
			a.bought = a.issued
			a.stopped = true
		}
	}
	p.fail(bttbid.CodeBadPiece, "a piece from you failed its hash check", true)
}

// AwaitingReceipt reports whether we sent the peer a cheque it has not
// acknowledged with a RECEIPT yet (the engine waits a moment for it
// before closing).
func (p *Session) AwaitingReceipt() bool {
	if p.state != Ready || p.spent.IsZero() {
		return false
	}
	a, ok := p.m.accounts[p.addr]
	if !ok {
		return false
	}
	return p.lastReceipt == nil || p.lastReceipt.Payout.Cmp(a.issued) < 0
}

// SellHeadroom returns how many more bytes the peer can be served under
// its award before its debt reaches its credit (0 when it already has),
// or -1 when no paid service is metered (no award in force, price zero).
// The engine uses it to look again exactly when the credit limit is
// near, instead of on its next tick.
func (p *Session) SellHeadroom() int64 {
	if !p.awarded || p.state != Ready || p.price.IsZero() {
		return -1
	}
	a, err := p.m.seller(p.addr)
	if err != nil {
		return -1
	}
	return bytesFor(p.creditAmount(a, p.price).SubFloor(a.owed.SubFloor(a.accepted)), p.price)
}

// BuyHeadroom returns how many more useful bytes we can receive under the
// peer's award before what we owe it reaches half its credit (when a
// cheque is due, §8.2), or -1 when nothing is metered.
func (p *Session) BuyHeadroom() int64 {
	if !p.awardedUs || p.state != Ready || p.ourPrice.IsZero() || p.badPiece {
		return -1
	}
	a, err := p.m.buyer(p.addr)
	if err != nil || a.stopped {
		return -1
	}
	half, _ := p.credit.MulDiv(1, 2)
	return bytesFor(half.SubFloor(a.bought.SubFloor(a.issued)), p.ourPrice)
}

// bytesFor is how many bytes amount buys at price per MiB (rounded down).
func bytesFor(amount, price wallet.Amount) int64 {
	if price.IsZero() {
		return -1
	}
	n := new(big.Int).Lsh(amount.Big(), 20)
	n.Quo(n, price.Big())
	if !n.IsInt64() {
		return math.MaxInt64
	}
	return n.Int64()
}
