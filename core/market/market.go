// Package market is the engine side of the btt_bid bandwidth market
// (docs/PROTOCOL.md): the per-connection state machine (HELLO, ASK, BID,
// AWARD, OUTBID, CHEQUE, RECEIPT, ERROR), the seller's rounds, and the
// accounting and credit of each payer→beneficiary account.
//
// It is pure logic: it imports no BitTorrent engine, starts no goroutine
// and reads no clock. The engine's loop drives it: it hands each received
// btt_bid payload to Session.Receive, samples per-connection byte counters
// into Session.ObserveSent and Session.ObserveReceived, runs
// Auction.RunRound when Auction.Due, and writes what Session.TakeOutbox
// returns as BEP 10 extended messages. Every method must be called from
// that one goroutine.
//
// The pieces, by file: a Market (market.go) holds the wallet and the
// accounts of every counterparty (account.go); an Auction (auction.go) is
// one torrent's market: its seller rounds and the buyer's bidding step; a
// Session (session.go) is one connection's btt_bid state, its seller half
// in sell.go (ASK, AWARD, credit, cheques taken), its buyer half in buy.go
// (BID, cheques paid), its receive limit in ratelimit.go, and its §16
// payments in commerce.go, payment.go, licence.go and pledge.go.
//
// Money is wallet.Amount (uint256 base units); prices are per MiB.
// Cheques are signed and stored through the Wallet interface, which
// *wallet.Wallet satisfies: a cheque is recorded (fsync) before it
// counts and before the RECEIPT that acknowledges it is queued, at once
// or, after QueueWrites, by the engine off its loop (write.go).
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
	// Unsecured is the most a payer whose cover is not known (TRON
	// without a vault) may owe us unsettled, in base units (§8.6); zero
	// is one initial credit step at the price in force, and counts no
	// unsecured pledge.
	Unsecured wallet.Amount
	// MaxPledges is the most pledges the publisher holds per torrent
	// (distinct payers; a held payer may always replace its pledge), and
	// the most FUNDED proof pledges a pledger keeps per torrent (§16.5,
	// §16.7). Zero is DefaultMaxPledges.
	MaxPledges int
	// MinTip is the least TIP for = tip accepted, in base units (§16.3);
	// zero is DefaultMinTip.
	MinTip wallet.Amount
	// TipsPerMinute is how many TIPs for = tip one payer may have
	// accepted per minute (a burst of as many, refilled evenly), across
	// its connections (§16.3). Zero is DefaultTipsPerMinute.
	TipsPerMinute int
}

// Defaults of the §16 bounds (PROTOCOL.md §16.3, §16.5).
const (
	DefaultMaxPledges    = 1000
	DefaultTipsPerMinute = 10
)

// DefaultMinTip is the least tip accepted by default, in base units.
var DefaultMinTip = wallet.NewAmount(100)

func (c Config) maxPledges() int {
	if c.MaxPledges <= 0 {
		return DefaultMaxPledges
	}
	return c.MaxPledges
}

func (c Config) minTip() wallet.Amount {
	if c.MinTip.IsZero() {
		return DefaultMinTip
	}
	return c.MinTip
}

func (c Config) tipsPerMinute() int {
	if c.TipsPerMinute <= 0 {
		return DefaultTipsPerMinute
	}
	return c.TipsPerMinute
}

// DefaultConfig returns the protocol's defaults.
func DefaultConfig() Config {
	return Config{
		Round:         bttbid.DefaultRound,
		FreeShare:     0.2,
		Slots:         4,
		Credit:        2 << 20,
		Cap:           64 << 20,
		Tolerance:     0.25,
		Grace:         2,
		HelloTimeout:  30 * time.Second,
		BidInterval:   time.Second,
		MaxPledges:    DefaultMaxPledges,
		MinTip:        DefaultMinTip,
		TipsPerMinute: DefaultTipsPerMinute,
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
	case c.MaxPledges < 0 || c.TipsPerMinute < 0:
		return fmt.Errorf("max pledges %d, tips per minute %d: must not be negative", c.MaxPledges, c.TipsPerMinute)
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
	// SignVaultCheque is SignCheque for a cheque cashable at vault, our
	// cheque vault (version 3).
	SignVaultCheque(vault, token, beneficiary wallet.Address, cumulative wallet.Amount, chainID uint64) (wallet.Cheque, error)
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
	auctions []*Auction
	// settleWant: a licence waits for its purchase to be settled.
	settleWant bool
	// payWant: we should settle what we owe by transfer (transfer.go).
	payWant bool
	// checks are the TRANSFERs waiting for a check on chain.
	checks []transferQuery
	// vault is our cheque vault (zero: none): named in HELLO, and where
	// our cheques to version 3 peers are cashable (auth.go).
	vault wallet.Address
	// Received cheques waiting to be stored (write.go): queued for the
	// engine when queueWrites, pending until Written.
	queueWrites bool
	writes      []Write
	pending     map[uint64]*pendingWrite
	nextWrite   uint64
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
