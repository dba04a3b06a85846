package market

import (
	"errors"
	"fmt"
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
	case Authenticating:
		return "authenticating"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Session is the btt_bid state of one connection: the market session
// between us and one peer on one torrent. Create it with
// Auction.NewSession when the connection is added. Its two halves are
// independent: sell is us selling to the peer (ASK, its BIDs, our AWARDs,
// its cheques), buy is us buying from it (its ASK, our BIDs, its AWARDs,
// our cheques); deal holds the §16 payments and limit the receive rate.
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

	// Version 3 (auth.go): our HELLO's nonce, the peer's, and the vault
	// its HELLO named (zero: none).
	nonce, peerNonce bttbid.Nonce
	peerVault        wallet.Address
	ourVault         wallet.Address // the vault our HELLO named (Market.SetVault when it was sent)

	sell  sellSide
	buy   buySide
	deal  dealing
	limit rateLimit
	xfer  transferSide
}

// Key returns the engine's key for the peer.
func (s *Session) Key() string { return s.key }

// State returns the connection state.
func (s *Session) State() State { return s.state }

// Version returns the negotiated protocol version (0 before READY).
func (s *Session) Version() uint32 { return s.version }

// Address returns the peer's wallet address from its verified HELLO.
func (s *Session) Address() (wallet.Address, bool) { return s.addr, s.state == Ready }

// Err returns the last protocol error on the connection, if any.
func (s *Session) Err() string { return s.lastErr }

// TakeOutbox returns the payloads to send, in order, and empties the box.
func (s *Session) TakeOutbox() [][]byte {
	out := s.outbox
	s.outbox = nil
	return out
}

func (s *Session) send(m bttbid.Message) error {
	if s.state == Disabled || s.state == Legacy {
		return errors.New("btt_bid is off for the connection")
	}
	b, err := bttbid.Encode(m)
	if err != nil {
		// Our own message out of range: a bug, but never worth a panic.
		s.lastErr = fmt.Sprintf("cannot encode %s: %v", m.Type(), err)
		return fmt.Errorf("cannot encode %s: %w", m.Type(), err)
	}
	s.outbox = append(s.outbox, b)
	return nil
}

// fail sends ERROR code and, when disable, turns the extension off.
func (s *Session) fail(code bttbid.Code, text string, disable bool) {
	s.lastErr = fmt.Sprintf("sent %s: %s", code, text)
	s.send(&bttbid.ErrorMsg{Code: code, Text: truncate(text), Disable: disable})
	if disable {
		s.disable()
	}
}

func truncate(s string) string {
	if len(s) > bttbid.MaxErrorText {
		s = s[:bttbid.MaxErrorText]
	}
	return s
}

// disable turns the extension off: the peer is a legacy peer from now on.
func (s *Session) disable() {
	if s.state == Disabled {
		return
	}
	s.closeSellEpoch()
	s.closeBuyEpoch()
	s.state = Disabled
	s.sell.awarded, s.buy.awardedUs, s.sell.suspended = false, false, false
	if pp := s.deal.pending; pp != nil {
		s.deal.pending = nil
		pp.finish(errors.New("btt_bid turned off for the connection before the payment was acknowledged"))
	}
	if done := s.deal.pledgeDone; done != nil {
		s.deal.pledgeDone = nil
		done(errors.New("btt_bid turned off for the connection before the pledge was acknowledged"))
	}
}

// Disable turns the extension off (the peer removed btt_bid from its
// handshake, or the engine stops trading with it). Nothing is sent.
func (s *Session) Disable(reason string) {
	if s.state != Legacy && s.state != Disabled {
		s.lastErr = reason
	}
	s.disable()
	s.outbox = nil
}

// Start is called when both sides advertise btt_bid: it queues our
// HELLO. It does nothing after the first call.
func (s *Session) Start(now time.Time) {
	if s.state != Legacy {
		return
	}
	w := s.m.w
	s.ourVault = s.m.vault
	h := &bttbid.Hello{
		Version: bttbid.Version,
		ChainID: w.ChainID(),
		Token:   bttbid.Address(w.Token()),
		Address: bttbid.Address(w.Address()),
		Time:    now.Unix(),
		Nonce:   s.nonce,
		Vault:   bttbid.Address(s.ourVault),
	}
	sig, err := w.SignMessage(bttbid.HelloSigningBytes(h, s.infoHash, s.local, s.remote))
	if err != nil {
		s.lastErr = fmt.Sprintf("cannot sign HELLO: %v", err)
		s.state = Disabled
		return
	}
	h.Sig = bttbid.Signature(sig)
	s.state = HelloSent
	s.started = now
	s.send(h)
}

// Tick runs timeouts: a HELLO that did not come in time turns the
// extension off.
func (s *Session) Tick(now time.Time) {
	if (s.state == HelloSent || s.state == Authenticating) && now.Sub(s.started) > s.m.cfg.HelloTimeout {
		s.lastErr = "no HELLO (or AUTH) from the peer in time"
		s.disable()
	}
}

// allow applies the receive rate limit (§10); it reports whether the
// message may be handled, and answers a flood with ERROR.
func (s *Session) allow(now time.Time) bool {
	switch s.limit.take(now) {
	case rateOK:
		return true
	case rateOff:
		s.fail(bttbid.CodeRateLimited, "message rate ten times the limit", true)
	case rateWarn:
		s.fail(bttbid.CodeRateLimited, "more than 20 messages per second", false)
	}
	return false
}

// ReceiveAt is Receive for a message read when the connection had
// delivered recvTotal useful payload bytes (the running total
// ObserveReceived takes): the bytes before the message are accounted
// under the state before it, so an AWARD's or OUTBID's epoch starts
// exactly at its position in the stream (PROTOCOL.md §8.1).
func (s *Session) ReceiveAt(now time.Time, payload []byte, recvTotal int64) {
	s.ObserveReceived(recvTotal)
	s.Receive(now, payload)
}

// Receive handles one btt_bid payload from the peer. It never panics and
// never fails: protocol errors are answered with ERROR per the spec.
func (s *Session) Receive(now time.Time, payload []byte) {
	if s.state == Legacy || s.state == Disabled {
		return
	}
	if !s.allow(now) {
		return
	}
	if len(payload) > bttbid.MaxMessageSize {
		s.fail(bttbid.CodeTooLarge, fmt.Sprintf("%d-byte message", len(payload)), true)
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
			s.fail(em.Code, em.Text, em.Disable)
			return
		}
		s.fail(bttbid.CodeMalformed, err.Error(), true)
		return
	}
	s.received++
	if e, ok := msg.(*bttbid.ErrorMsg); ok {
		s.onError(e)
		return
	}
	if s.state == HelloSent {
		if h, ok := msg.(*bttbid.Hello); ok {
			s.onHello(now, h)
			return
		}
		s.fail(bttbid.CodeUnexpected, string(msg.Type())+" before HELLO", true)
		return
	}
	if s.state == Authenticating {
		if a, ok := msg.(*bttbid.Auth); ok {
			s.onAuth(now, a)
			return
		}
		s.fail(bttbid.CodeUnexpected, string(msg.Type())+" before AUTH", true)
		return
	}
	switch m := msg.(type) {
	case *bttbid.Hello:
		s.fail(bttbid.CodeUnexpected, "second HELLO", true)
	case *bttbid.Auth:
		if s.v3() {
			s.fail(bttbid.CodeUnexpected, "second AUTH", true)
		}
	case *bttbid.Ask:
		s.buy.theirAsk = m
	case *bttbid.Bid:
		s.onBid(m)
	case *bttbid.Award:
		s.onAward(m)
	case *bttbid.Outbid:
		s.onOutbid(m)
	case *bttbid.Cheque:
		s.onCheque(m)
	case *bttbid.Receipt:
		s.onReceipt(m)
	default:
		if s.version < 2 {
			return // a version 2 message on a version 1 connection (§16.1)
		}
		switch m := msg.(type) {
		case *bttbid.Tip:
			s.onTip(now, m)
		case *bttbid.License:
			s.onLicense(now, m)
		case *bttbid.Pledge:
			s.onPledge(now, m)
		case *bttbid.Campaign:
			s.onCampaign(m)
		case *bttbid.Funded:
			s.onFunded(m)
		case *bttbid.Transfer:
			s.onTransfer(m)
		}
	}
}

func (s *Session) onError(e *bttbid.ErrorMsg) {
	s.lastErr = fmt.Sprintf("peer sent %s: %s", e.Code, e.Text)
	if e.Code == bttbid.CodeCreditExceeded && s.buy.awardedUs {
		// The seller suspended paid service: the epoch ends; pay up.
		s.closeBuyEpoch()
		s.buy.awardedUs = false
		s.pay(true)
	}
	if e.Code == bttbid.CodeCreditExceeded {
		// Our exposure may be what binds (§8.6): on TRON without a
		// vault, settling by transfer lowers it (§11.2).
		s.m.payWant = true
	}
	if e.Code == bttbid.CodeBadAward && !e.Disable && s.sell.awarded {
		// The buyer declined our AWARD (its bid changed): the epoch ends.
		s.closeSellEpoch()
		s.sell.awarded = false
	}
	switch e.Code {
	case bttbid.CodeUnderpaid, bttbid.CodeNotPayee, bttbid.CodeBadLicense, bttbid.CodeMisaddressed,
		bttbid.CodeBadCheque, bttbid.CodeStaleCheque, bttbid.CodeRateLimited:
		s.refused(e)
		if done := s.deal.pledgeDone; done != nil {
			s.deal.pledgeDone = nil
			done(fmt.Errorf("refused by the peer: %s: %s", e.Code, e.Text))
		}
	}
	if e.Disable {
		s.disable()
	}
}

func (s *Session) onHello(now time.Time, h *bttbid.Hello) {
	w := s.m.w
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
		msg := bttbid.HelloSigningBytes(h, s.infoHash, s.remote, s.local)
		if err := wallet.VerifyMessage(wallet.Address(h.Address), msg, wallet.Signature(h.Sig)); err != nil {
			code, why = bttbid.CodeBadSignature, "signature does not recover addr"
		}
	}
	if code != 0 {
		s.fail(code, why, true)
		return
	}
	s.addr = wallet.Address(h.Address)
	s.version = min(h.Version, bttbid.Version)
	if s.v3() {
		s.helloV3(h) // READY once the peer's AUTH proves this HELLO
		return
	}
	s.ready(now)
}

// ready turns the connection READY: the peer's HELLO (and on version 3
// its AUTH) is verified.
func (s *Session) ready(now time.Time) {
	s.state = Ready
	// Tell a returning buyer what we hold of its account (§8.5).
	if a, err := s.m.seller(s.addr); err != nil {
		s.lastErr = err.Error()
	} else if !a.accepted.IsZero() {
		s.send(&bttbid.Receipt{Payout: a.accepted, Owed: a.owed})
	}
	s.m.account(s.addr).cover.want = true // read its cover now (§8.6)
	s.syncAsk()
	s.commerceHello(now)
}

// SessionView is the market state of one connection, for the snapshot.
type SessionView struct {
	State    State
	Address  wallet.Address
	TheirBid wallet.Amount
	TheirAsk wallet.Amount
	OurBid   wallet.Amount
	OurAsk   wallet.Amount
	Price    wallet.Amount // our award price to it, or its award price to us
	Awarded  bool          // we award it paid service
	AwardedU bool          // it awards us paid service
	Share    float64       // its share of our upload, -1 before a round
	Bought   int64
	Sold     int64
	Spent    wallet.Amount
	Earned   wallet.Amount
	Debt     wallet.Amount
	Credit   wallet.Amount
	Cut      bool
	Err      string
}

// View returns the peer's market state.
func (s *Session) View() SessionView {
	v := SessionView{State: s.state, Address: s.addr, TheirBid: s.sell.bid, OurBid: s.buy.ourBid, Awarded: s.sell.awarded,
		AwardedU: s.buy.awardedUs, Share: s.sell.weight, Bought: s.buy.bought, Sold: s.sell.sold, Spent: s.buy.spent, Earned: s.sell.earned,
		Cut: s.sell.cut, Err: s.lastErr}
	if s.buy.theirAsk != nil {
		v.TheirAsk = s.buy.theirAsk.Price
	}
	if s.sell.askSent != nil {
		v.OurAsk = s.sell.askSent.Price
	}
	switch {
	case s.sell.awarded:
		v.Price = s.sell.price
	case s.buy.awardedUs || s.buy.outbidUs:
		v.Price = s.buy.ourPrice
	default:
		v.Price = s.sell.price
	}
	if a, ok := s.m.accounts[s.addr]; ok && s.state == Ready {
		v.Debt = a.owed.SubFloor(a.accepted)
		price := s.sell.price
		if price.IsZero() {
			price = s.sell.bid
		}
		v.Credit = s.creditAmount(a, price)
	}
	return v
}
