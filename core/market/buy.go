package market

import (
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// maxBidLog is how many of our recent BIDs an AWARD may answer.
const maxBidLog = 32

// buySide is the buyer half of a session: we buy from the peer.
type buySide struct {
	theirAsk    *bttbid.Ask
	ourSeq      uint64
	ourBid      wallet.Amount
	bidAt       time.Time
	bidLog      map[uint64]wallet.Amount
	awardedUs   bool
	outbidUs    bool
	ourPrice    wallet.Amount // price of the latest AWARD or OUTBID
	credit      wallet.Amount // credit of the latest AWARD, base units
	recv        byteReading   // the payload bytes received
	epoch       epoch
	bought      int64
	spent       wallet.Amount // issued on this connection
	badPiece    bool
	lastReceipt *bttbid.Receipt
	bidEpoch    epoch // bytes received while awarded, at our bid in force
}

func (s *Session) onAward(a *bttbid.Award) {
	bid, ok := s.buy.bidLog[a.Seq]
	if !ok || a.Price.Cmp(bid) > 0 {
		s.fail(bttbid.CodeBadAward, fmt.Sprintf("award for seq %d at %s", a.Seq, a.Price), true)
		return
	}
	// An AWARD counts only for the bid in force (§6.1): not once it is
	// withdrawn, and for an earlier seq (an AWARD that crossed our newer
	// BID) only at a price our bid in force still covers. We decline it
	// with ERROR 406 (disable 0); the seller ends the epoch.
	if s.buy.ourBid.IsZero() || a.Seq != s.buy.ourSeq && a.Price.Cmp(s.buy.ourBid) > 0 {
		was := s.buy.awardedUs
		s.closeBuyEpoch()
		s.buy.awardedUs = false
		s.lastErr = fmt.Sprintf("declined an award for seq %d at %s: our bid in force is %s (seq %d)", a.Seq, a.Price, s.buy.ourBid, s.buy.ourSeq)
		s.send(&bttbid.ErrorMsg{Code: bttbid.CodeBadAward, Text: truncate(s.lastErr)})
		if was {
			s.pay(true)
		}
		return
	}
	s.closeBuyEpoch()
	s.buy.awardedUs, s.buy.outbidUs = true, false
	s.buy.ourPrice, s.buy.credit = a.Price, a.Credit
}

func (s *Session) onOutbid(o *bttbid.Outbid) {
	was := s.buy.awardedUs
	s.closeBuyEpoch()
	s.buy.awardedUs, s.buy.outbidUs = false, true
	s.buy.ourPrice = o.Price
	if was {
		s.pay(true)
	}
}

// closeBuyEpoch ends the buyer's epoch: later bytes are not owed until
// the next AWARD.
func (s *Session) closeBuyEpoch() { s.buy.epoch, s.buy.bidEpoch = epoch{}, epoch{} }

func (s *Session) onReceipt(r *bttbid.Receipt) {
	s.buy.lastReceipt = r
	if s.buy.awardedUs && !r.Credit.IsZero() {
		s.buy.credit = r.Credit
	}
	s.receiptFor(r)
	a, err := s.m.buyer(s.addr)
	if err != nil || a.last == nil || a.stopped || s.deal.pending != nil {
		return // (a payment in flight: its TIP carries the cheque)
	}
	if r.Payout.Cmp(a.issued) < 0 {
		s.resend(a) // it never got our last cheque
	}
}

// SetBid sets our bid to the peer (zero withdraws it). A changed bid is
// sent when the connection is ready, the peer sells, and the last BID is
// at least BidInterval old; otherwise SetBid reports false and the
// caller tries again later.
func (s *Session) SetBid(now time.Time, price wallet.Amount) bool {
	if s.state != Ready || s.buy.theirAsk == nil || s.buy.badPiece {
		return false
	}
	if price.Cmp(s.buy.ourBid) == 0 && (s.buy.ourSeq > 0 || price.IsZero()) {
		return true
	}
	if now.Sub(s.buy.bidAt) < s.m.cfg.BidInterval {
		return false
	}
	s.buy.ourSeq++
	s.buy.ourBid, s.buy.bidAt, s.buy.bidEpoch = price, now, epoch{}
	if s.buy.bidLog == nil {
		s.buy.bidLog = make(map[uint64]wallet.Amount)
	}
	s.buy.bidLog[s.buy.ourSeq] = price
	delete(s.buy.bidLog, s.buy.ourSeq-maxBidLog)
	s.send(&bttbid.Bid{Seq: s.buy.ourSeq, Price: price})
	return true
}

// ObserveReceived samples the useful payload bytes received from the peer
// so far (a running total). Bytes received while it awards us are owed
// at the award's price; a cheque goes out when unpaid reaches half the
// credit (§8.2).
func (s *Session) ObserveReceived(total int64) {
	d := s.buy.recv.advance(total)
	if d <= 0 || !s.buy.awardedUs || s.state != Ready || s.buy.badPiece {
		return
	}
	s.buy.bought += d
	s.t.Bought += d
	inc := s.buy.epoch.add(s.buy.ourPrice, d)
	a, err := s.m.buyer(s.addr)
	if err != nil {
		s.lastErr = err.Error()
		return
	}
	a.bought = a.bought.AddSaturating(inc)
	a.payCap = a.payCap.AddSaturating(s.buy.bidEpoch.add(s.buy.ourBid, d))
	a.step = charge(s.buy.ourPrice, int64(s.m.cfg.Credit))
	s.pay(false)
}

// pay issues a cheque when what we owe passes half the credit, or, with
// all, whenever anything is owed.
func (s *Session) pay(all bool) {
	if s.state != Ready || s.buy.badPiece {
		return
	}
	a, err := s.m.buyer(s.addr)
	if err != nil || a.stopped {
		return
	}
	unpaid := a.bought.SubFloor(a.issued)
	if unpaid.IsZero() {
		return
	}
	half, _ := s.buy.credit.MulDiv(1, 2)
	if !all && unpaid.Cmp(half) < 0 {
		return
	}
	// Never above the torrent's budget (§8.2).
	target := a.bought
	if b := s.t.budget; !b.IsZero() {
		target = target.Min(a.issued.AddSaturating(b.SubFloor(s.t.Spent)))
	}
	before := a.issued
	c, err := s.m.issueUpTo(s.addr, a, target)
	if err != nil {
		s.lastErr = err.Error()
		return
	}
	if c == nil {
		return
	}
	paid := c.Cumulative.SubFloor(before)
	s.buy.spent = s.buy.spent.AddSaturating(paid)
	s.t.Spent = s.t.Spent.AddSaturating(paid)
	s.sendCheque(c)
}

// PayAll pays everything owed to the peer now (download complete, or the
// connection is about to close).
func (s *Session) PayAll() { s.pay(true) }

func (s *Session) sendCheque(c *wallet.Cheque) {
	m := chequeMsg(*c)
	s.send(&m)
}

// BadPiece is called when a piece whose data came from this peer failed
// its hash check: we stop paying it and turn the extension off (§8.2).
func (s *Session) BadPiece() {
	if s.buy.badPiece || (s.state != Ready && s.state != HelloSent) {
		s.buy.badPiece = true
		return
	}
	s.buy.badPiece = true
	s.closeBuyEpoch()
	s.buy.awardedUs = false
	if s.state == Ready {
		if a, err := s.m.buyer(s.addr); err == nil {
			// What we owe for its bytes since the last cheque is not paid.
			a.bought = a.issued
			a.stopped = true
		}
	}
	s.fail(bttbid.CodeBadPiece, "a piece from you failed its hash check", true)
}

// AwaitingReceipt reports whether we sent the peer a cheque it has not
// acknowledged with a RECEIPT yet (the engine waits a moment for it
// before closing).
func (s *Session) AwaitingReceipt() bool {
	if s.state != Ready || s.buy.spent.IsZero() {
		return false
	}
	a, ok := s.m.accounts[s.addr]
	if !ok {
		return false
	}
	return s.buy.lastReceipt == nil || s.buy.lastReceipt.Payout.Cmp(a.issued) < 0
}

// BuyHeadroom returns how many more useful bytes we can receive under the
// peer's award before what we owe it reaches half its credit (when a
// cheque is due, §8.2), or -1 when nothing is metered.
func (s *Session) BuyHeadroom() int64 {
	if !s.buy.awardedUs || s.state != Ready || s.buy.ourPrice.IsZero() || s.buy.badPiece {
		return -1
	}
	a, err := s.m.buyer(s.addr)
	if err != nil || a.stopped {
		return -1
	}
	half, _ := s.buy.credit.MulDiv(1, 2)
	return bytesFor(half.SubFloor(a.bought.SubFloor(a.issued)), s.buy.ourPrice)
}
