// Package market is the engine side of the btt_bid bandwidth market
// (docs/PROTOCOL.md): the per-connection state machine (HELLO, ASK, BID,
// AWARD, OUTBID, CHEQUE, RECEIPT, ERROR), the seller's rounds, and the
// accounting and credit of each payer→beneficiary account.
//
// It is pure logic: it imports no BitTorrent engine, starts no goroutine
// and reads no clock. The engine's loop drives it: it hands each received
// btt_bid payload to Session.Receive, samples per-connection byte counters
// into Session.ObserveSent and Session.ObserveReceived, runs Auction.Round when
// a round is due, and writes what Session.TakeOutbox returns as BEP 10
// extended messages. Every method must be called from that one goroutine.
//
// Money is wallet.Amount (uint256 base units); prices are per MiB.
// Cheques are signed and stored through the Wallet interface, which
// *wallet.Wallet satisfies: a cheque is recorded (fsync) before the
// RECEIPT that acknowledges it is queued.
package market

import (
	"errors"
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Config holds the market's timing and credit terms.
type Config struct {
	// Round is the seller's round length (PROTOCOL.md §6.1).
	Round time.Duration
	// FreeShare is the fraction of upload kept for peers without an award.
	FreeShare float64
	// Slots is the number of paid slots per round.
	Slots int
	// Credit and Cap are the initial and maximum credit, in bytes of paid
	// service (§8.3).
	Credit, Cap uint64
	// Tolerance is how far past the credit a debt may go before the buyer
	// is cut, as a fraction (0.25 = 25 %).
	Tolerance float64
	// Grace is how many rounds a suspended buyer may stay at or above its
	// credit before it is cut.
	Grace int
	// HelloTimeout is how long a peer's HELLO may take (§2).
	HelloTimeout time.Duration
	// BidInterval is the least time between two BIDs to one seller.
	BidInterval time.Duration
}

// DefaultConfig returns the protocol's defaults.
func DefaultConfig() Config {
	return Config{
		Round:        bttbid.DefaultRound,
		FreeShare:    0.2,
		Slots:        4,
		Credit:       2 << 20,
		Cap:          64 << 20,
		Tolerance:    0.25,
		Grace:        2,
		HelloTimeout: 30 * time.Second,
		BidInterval:  time.Second,
	}
}

// Validate reports the first value a market cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Round < bttbid.MinRound || c.Round > bttbid.MaxRound:
		return fmt.Errorf("round %s: want 1s…10m", c.Round)
	case c.FreeShare <= 0 || c.FreeShare > 1:
		return fmt.Errorf("free share %v: want (0, 1]", c.FreeShare)
	case c.Slots < 0 || c.Slots > 65535:
		return fmt.Errorf("slots %d: want 0…65535", c.Slots)
	case c.Credit < 1 || c.Credit > bttbid.MaxCreditBytes:
		return fmt.Errorf("credit %d bytes: want 1…2^40", c.Credit)
	case c.Cap < c.Credit || c.Cap > bttbid.MaxCreditBytes:
		return fmt.Errorf("credit cap %d bytes: want credit…2^40", c.Cap)
	case c.Tolerance < 0:
		return fmt.Errorf("tolerance %v: must not be negative", c.Tolerance)
	}
	return nil
}

// Wallet is what the market needs of a wallet; *wallet.Wallet has it.
// SignCheque and AcceptCheque store the cheque durably before returning.
// AcceptCheque is the one check of a received cheque's signature on the
// path that stores it: it refuses a forged cheque with an error wrapping
// wallet.ErrBadSignature and stores nothing.
type Wallet interface {
	Address() wallet.Address
	ChainID() uint64
	Token() wallet.Address
	SignMessage(msg []byte) (wallet.Signature, error)
	SignCheque(token, beneficiary wallet.Address, cumulative wallet.Amount, chainID uint64) (wallet.Cheque, error)
	AcceptCheque(c wallet.Cheque) (wallet.Amount, error)
	Highest(dir wallet.Direction, counterparty wallet.Address) (wallet.Record, bool, error)
	Commerce
}

// Market is one engine's market: its wallet, its terms and the accounts
// of every counterparty, shared by all torrents and connections.
type Market struct {
	cfg      Config
	w        Wallet
	accounts map[wallet.Address]*account
}

// New returns a market trading with w under cfg.
func New(cfg Config, w Wallet) (*Market, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid market config: %w", err)
	}
	if w == nil {
		return nil, errors.New("the market needs a wallet")
	}
	return &Market{cfg: cfg, w: w, accounts: make(map[wallet.Address]*account)}, nil
}

// Config returns the market's terms.
func (m *Market) Config() Config { return m.cfg }

// SetConfig changes the terms for later rounds and connections.
func (m *Market) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid market config: %w", err)
	}
	m.cfg = cfg
	return nil
}

// Wallet returns the market's wallet.
func (m *Market) Wallet() Wallet { return m.w }

// account is the state of one counterparty wallet, both directions.
type account struct {
	// Seller side: the counterparty pays us.
	sellLoaded  bool
	accepted    wallet.Amount // highest accepted cumulative payout
	owed        wallet.Amount // our cumulative owed; starts at accepted after a restart
	creditBytes uint64
	cut         bool // refused paid service for the rest of the session
	// Buyer side: we pay the counterparty.
	buyLoaded bool
	issued    wallet.Amount // highest cumulative payout issued
	bought    wallet.Amount // our cumulative owed to it; starts at issued after a restart
	last      *wallet.Cheque
	lastPay   *wallet.Payment // the payment last carries (nil: bandwidth)
	stopped   bool            // we stopped paying it (bad piece, lost records)
}

func (m *Market) account(addr wallet.Address) *account {
	a := m.accounts[addr]
	if a == nil {
		a = &account{}
		m.accounts[addr] = a
	}
	return a
}

// seller loads the seller side of addr's account from the cheque book.
func (m *Market) seller(addr wallet.Address) (*account, error) {
	a := m.account(addr)
	if !a.sellLoaded {
		r, ok, err := m.w.Highest(wallet.Received, addr)
		if err != nil {
			return a, fmt.Errorf("cannot read cheques from %s: %w", addr, err)
		}
		if ok {
			a.accepted, a.owed = r.Cheque.Cumulative, r.Cheque.Cumulative
		}
		a.creditBytes = m.cfg.Credit
		a.sellLoaded = true
	}
	return a, nil
}

// buyer loads the buyer side of addr's account from the cheque book.
func (m *Market) buyer(addr wallet.Address) (*account, error) {
	a := m.account(addr)
	if !a.buyLoaded {
		r, ok, err := m.w.Highest(wallet.Issued, addr)
		if err != nil {
			return a, fmt.Errorf("cannot read cheques to %s: %w", addr, err)
		}
		if ok {
			c := r.Cheque
			a.issued, a.bought, a.last = c.Cumulative, c.Cumulative, &c
			a.lastPay = m.paymentOf(addr, c.Cumulative)
		}
		a.buyLoaded = true
	}
	return a, nil
}

// paymentOf finds the payment our cheque to addr for cumulative carried,
// if it was one (PROTOCOL.md §16), so a resend repeats its TIP.
func (m *Market) paymentOf(addr wallet.Address, cumulative wallet.Amount) *wallet.Payment {
	ps, err := m.w.Payments()
	if err != nil {
		return nil
	}
	for i := len(ps) - 1; i >= 0; i-- {
		if p := ps[i]; p.Direction == wallet.Issued && p.Counterparty == addr && p.Cumulative.Cmp(cumulative) == 0 {
			return &p
		}
	}
	return nil
}

// AccountView is what the market knows of one counterparty.
type AccountView struct {
	Address  wallet.Address
	Accepted wallet.Amount // cumulative payout accepted from it
	Owed     wallet.Amount // what it owes us, cumulative
	Credit   uint64        // credit in bytes we extend to it
	Issued   wallet.Amount // cumulative payout we issued to it
	Bought   wallet.Amount // what we owe it, cumulative
	Cut      bool
}

// Accounts returns every account touched this session.
func (m *Market) Accounts() []AccountView {
	out := make([]AccountView, 0, len(m.accounts))
	for addr, a := range m.accounts {
		out = append(out, AccountView{Address: addr, Accepted: a.accepted, Owed: a.owed, Credit: a.creditBytes,
			Issued: a.issued, Bought: a.bought, Cut: a.cut})
	}
	return out
}

// PayAll issues a final cheque to every account with unpaid service (on
// shutdown, before the connections close). It returns the cheques issued,
// to be sent on any connection to the account that is still up.
func (m *Market) PayAll() error {
	var errs []error
	for addr, a := range m.accounts {
		if !a.buyLoaded || a.stopped || a.bought.Cmp(a.issued) <= 0 {
			continue
		}
		if _, err := m.issue(addr, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// issue signs and records a cheque for everything bought from addr.
func (m *Market) issue(addr wallet.Address, a *account) (*wallet.Cheque, error) {
	c, err := m.w.SignCheque(m.w.Token(), addr, a.bought, m.w.ChainID())
	if err != nil {
		return nil, fmt.Errorf("cannot pay %s: %w", addr, err)
	}
	a.issued, a.last, a.lastPay = a.bought, &c, nil
	return &c, nil
}

// charge is the price of n bytes at price per MiB, rounded down.
func charge(price wallet.Amount, n int64) wallet.Amount {
	if n <= 0 {
		return wallet.Amount{}
	}
	c, err := price.MulDiv(uint64(n), bttbid.MiB)
	if err != nil {
		return wallet.Amount{}
	}
	return c
}

func add(a, b wallet.Amount) wallet.Amount {
	s, err := a.Add(b)
	if err != nil {
		return a // 2^256 base units: unreachable
	}
	return s
}
