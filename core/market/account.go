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

// byteReading turns samples of a connection's running byte total into
// the bytes each sample adds. The first sample is the baseline (it adds
// nothing); an older sample than the latest (a message's position read
// behind a newer sample) adds nothing either: those bytes are counted.
type byteReading struct {
	total int64 // the latest sample
	seen  bool
}

// advance takes the sample total and returns the bytes it adds.
func (r *byteReading) advance(total int64) int64 {
	if !r.seen {
		r.total, r.seen = total, true
		return 0
	}
	if total < r.total {
		return 0
	}
	d := total - r.total
	r.total = total
	return d
}

// chequeMsg and chequeOf convert between the wallet's cheque and its
// wire form (CHEQUE, and the cheque inside a TIP).
func chequeMsg(c wallet.Cheque) bttbid.Cheque {
	return bttbid.Cheque{ChainID: c.ChainID, Token: bttbid.Address(c.Token), Payer: bttbid.Address(c.Payer),
		Beneficiary: bttbid.Address(c.Beneficiary), Payout: c.Cumulative, Sig: bttbid.Signature(c.Signature),
		Vault: bttbid.Address(c.Vault)}
}

func chequeOf(m *bttbid.Cheque) wallet.Cheque {
	return wallet.Cheque{ChainID: m.ChainID, Token: wallet.Address(m.Token), Payer: wallet.Address(m.Payer),
		Beneficiary: wallet.Address(m.Beneficiary), Cumulative: m.Payout, Signature: wallet.Signature(m.Sig),
		Vault: wallet.Address(m.Vault)}
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

// account is the state of one counterparty wallet, both directions.
type account struct {
	// Seller side: the counterparty pays us.
	sellLoaded  bool
	accepted    wallet.Amount // highest accepted cumulative payout
	owed        wallet.Amount // our cumulative owed; starts at accepted after a restart
	creditBytes uint64
	cut         bool // refused paid service for the rest of the session
	cover       coverState
	tipTokens   float64        // tips it may still have accepted (a bucket of TipsPerMinute)
	tipAt       time.Time      // when tipTokens was last refilled; zero: full
	held        *wallet.Cheque // the latest cheque accepted from it (nil: none)
	vault       wallet.Address // the vault its last version 3 HELLO named
	writes      int            // its cheques queued to be stored (write.go)
	peerV3      bool           // it proved a version 3 HELLO (AUTH): it takes vault cheques
	ourVault    wallet.Address // the vault our HELLO named on that connection (SetVault may change it later)
	// Buyer side: we pay the counterparty.
	buyLoaded bool
	issued    wallet.Amount // highest cumulative payout issued
	bought    wallet.Amount // our cumulative owed to it; starts at issued after a restart
	last      *wallet.Cheque
	lastPay   *wallet.Payment // the payment last carries (nil: bandwidth)
	stopped   bool            // we stopped paying it (bad piece, lost records)
	// payCap is the most we agreed to owe it: the issued total at load,
	// plus every payment, plus bytes received while awarded × our bid in
	// force (§8.2). pay never signs above payCap plus one credit step.
	payCap wallet.Amount
	step   wallet.Amount // one credit step at the price of the last award
	// transfers are our settlement transfers to it, named in TRANSFER
	// (transfer.go).
	transfers [][32]byte
}

func (m *Market) account(addr wallet.Address) *account {
	a := m.accounts[addr]
	if a == nil {
		a = &account{}
		m.accounts[addr] = a
	}
	return a
}

// tipAllowed spends one of the payer's tips at now: a bucket of perMin,
// refilled at perMin a minute. It reports false when none is left.
func (a *account) tipAllowed(now time.Time, perMin int) bool {
	switch {
	case a.tipAt.IsZero():
		a.tipTokens, a.tipAt = float64(perMin), now
	case now.After(a.tipAt):
		a.tipTokens = min(float64(perMin), a.tipTokens+now.Sub(a.tipAt).Minutes()*float64(perMin))
		a.tipAt = now
	}
	if a.tipTokens < 1 {
		return false
	}
	a.tipTokens--
	return true
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
			a.cover.settled = r.Settled
			c := r.Cheque
			a.held = &c
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
			a.payCap = c.Cumulative
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
	room, limited := m.budgetRoom()
	for addr, a := range m.accounts {
		if !a.buyLoaded || a.stopped || a.bought.Cmp(a.issued) <= 0 {
			continue
		}
		target := a.bought
		if limited {
			target = target.Min(a.issued.AddSaturating(room)) // never past the budgets (§8.2)
		}
		before := a.issued
		c, err := m.issueUpTo(addr, a, target)
		if err != nil {
			errs = append(errs, err)
		}
		if c != nil {
			room = room.SubFloor(c.Cumulative.SubFloor(before))
		}
	}
	return errors.Join(errs...)
}

// budgetRoom is what the torrents' budgets leave to spend, and whether
// that bounds PayAll: only when every torrent has a budget (an account's
// debt is not split by torrent, so one without a budget may owe any of
// it).
func (m *Market) budgetRoom() (wallet.Amount, bool) {
	var room wallet.Amount
	for _, t := range m.auctions {
		if t.budget.IsZero() {
			return wallet.Amount{}, false
		}
		room = room.AddSaturating(t.budget.SubFloor(t.Spent))
	}
	return room, len(m.auctions) > 0
}

// issue signs and records a cheque for everything bought from addr.
func (m *Market) issue(addr wallet.Address, a *account) (*wallet.Cheque, error) {
	return m.issueUpTo(addr, a, a.bought)
}

// issueUpTo signs and records a cheque for what we bought from addr, up
// to target, and never above what we agreed to owe: our bid × the bytes
// received while awarded, plus payments, plus one credit step (§8.2). It
// returns nil when that leaves nothing to pay.
func (m *Market) issueUpTo(addr wallet.Address, a *account, target wallet.Amount) (*wallet.Cheque, error) {
	target = target.Min(a.bought).Min(a.payCap.AddSaturating(a.step))
	if target.Cmp(a.issued) <= 0 {
		return nil, nil
	}
	vault, err := m.chequeVault(a)
	if err != nil {
		return nil, fmt.Errorf("cannot pay %s: %w", addr, err)
	}
	var c wallet.Cheque
	if vault.IsZero() {
		c, err = m.w.SignCheque(m.w.Token(), addr, target, m.w.ChainID())
	} else {
		c, err = m.w.SignVaultCheque(vault, m.w.Token(), addr, target, m.w.ChainID())
	}
	if err != nil {
		return nil, fmt.Errorf("cannot pay %s: %w", addr, err)
	}
	a.issued, a.last, a.lastPay = target, &c, nil
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
