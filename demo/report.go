package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// NodeReport is one node's line of a Report. Amounts are base units.
type NodeReport struct {
	Node       string        `json:"node"`
	Role       Role          `json:"role"`
	Strategy   string        `json:"strategy,omitempty"`
	Bid        wallet.Amount `json:"-"`
	Downloaded int64         `json:"downloaded"`
	Uploaded   int64         `json:"uploaded"`
	Done       int64         `json:"done"`
	Size       int64         `json:"size"`
	// Completion is the time from start to a complete download (0: not
	// complete).
	Completion time.Duration `json:"-"`
	Spent      wallet.Amount `json:"-"` // cumulative cheques issued
	Earned     wallet.Amount `json:"-"` // cumulative cheques accepted
	Tipped     wallet.Amount `json:"-"` // tips paid: part of Spent
	TipsIn     wallet.Amount `json:"-"` // tips received: part of Earned
	Funding    wallet.Amount `json:"-"` // faucet
	Balance    wallet.Amount `json:"-"` // ledger balance after settlement
}

// MarshalJSON writes amounts as decimal strings of base units and the
// completion time in seconds.
func (r NodeReport) MarshalJSON() ([]byte, error) {
	type plain NodeReport
	return json.Marshal(struct {
		plain
		Bid        string   `json:"bid"`
		Completion *float64 `json:"completion_s"`
		Spent      string   `json:"spent"`
		Earned     string   `json:"earned"`
		Tipped     string   `json:"tipped"`
		TipsIn     string   `json:"tips_received"`
		Funding    string   `json:"funding"`
		Balance    string   `json:"balance"`
	}{plain(r), r.Bid.String(), secs(r.Completion), r.Spent.String(), r.Earned.String(), r.Tipped.String(), r.TipsIn.String(),
		r.Funding.String(), r.Balance.String()})
}

func secs(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	s := d.Seconds()
	return &s
}

// TipReport is one tip a node received (PROTOCOL.md §16.9).
type TipReport struct {
	Time   time.Time
	From   string // the payer's node label (its address if not in the swarm)
	To     string // the receiver's node label
	Amount wallet.Amount
	Memo   string // as received: untrusted text, quote before display
}

// MarshalJSON writes the amount as a decimal string of base units.
func (t TipReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Time   time.Time `json:"time"`
		From   string    `json:"from"`
		To     string    `json:"to"`
		Amount string    `json:"amount"`
		Memo   string    `json:"memo"`
	}{t.Time, t.From, t.To, t.Amount.String(), t.Memo})
}

// Money is the conservation account of a Report, in base units. Tips
// travel on the same cumulative cheques as bandwidth, so Spent includes
// Tipped and Earned includes TipsReceived: spent on bandwidth + tipped =
// earned for bandwidth + tips received + unsettled.
type Money struct {
	Spent        wallet.Amount // Σ cheques issued
	Earned       wallet.Amount // Σ cheques accepted
	Tipped       wallet.Amount // Σ tips paid (recorded by the payers)
	TipsReceived wallet.Amount // Σ tips accepted (recorded by the receivers)
	Unsettled    wallet.Amount // Σ issued − accepted, per payer and beneficiary (in flight)
	Paid         wallet.Amount // Σ (funding − balance) of paying wallets on the ledger, after settlement
	Received     wallet.Amount // Σ (balance − funding) of earning wallets on the ledger
	Problems     []string      // why money is not conserved; empty when it is
}

// Conserved reports whether no problem was found.
func (m Money) Conserved() bool { return len(m.Problems) == 0 }

// MarshalJSON writes amounts as decimal strings of base units.
func (m Money) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Spent, Earned, Tipped, TipsReceived, Unsettled, Paid, Received string
		Conserved                                                      bool
		Problems                                                       []string `json:",omitempty"`
	}{m.Spent.String(), m.Earned.String(), m.Tipped.String(), m.TipsReceived.String(), m.Unsettled.String(),
		m.Paid.String(), m.Received.String(), m.Conserved(), m.Problems})
}

// Report is what a headless run prints.
type Report struct {
	Duration time.Duration `json:"-"`
	Nodes    []NodeReport  `json:"nodes"`
	Tips     []TipReport   `json:"tips"` // received, oldest first
	Money    Money         `json:"money"`
}

// Settle settles every wallet's cheques on the ledger and accounts for
// the money: the swarm must be closed first (no cheque in flight
// changes under it). It fails only when a wallet or the ledger cannot be
// read; money that is not conserved is listed in Report.Money.Problems.
func (s *Swarm) Settle(ctx context.Context) (Report, error) {
	rep := Report{Duration: time.Since(s.start)}
	var m Money
	add := func(a *wallet.Amount, b wallet.Amount) {
		sum, err := a.Add(b)
		if err != nil {
			m.Problems = append(m.Problems, "overflow adding "+b.String())
			return
		}
		*a = sum
	}
	nodes := s.All()
	label := map[wallet.Address]string{}
	for _, n := range nodes {
		if n.Wallet != nil {
			label[n.Wallet.Address()] = n.Label()
		}
	}
	nameOf := func(a wallet.Address) string {
		if l, ok := label[a]; ok {
			return l
		}
		return a.String()
	}
	// Cheques and tips, before settlement, per pair.
	type pair struct{ payer, beneficiary wallet.Address }
	issued := map[pair]wallet.Amount{}
	accepted := map[pair]wallet.Amount{}
	tipped := map[pair]wallet.Amount{}
	tipsIn := map[pair]wallet.Amount{}
	addTo := func(sums map[pair]wallet.Amount, k pair, a wallet.Amount) {
		sum := sums[k]
		add(&sum, a)
		sums[k] = sum
	}
	for _, n := range nodes {
		tr := n.Torrent()
		nr := NodeReport{Node: n.Label(), Role: n.Role, Strategy: n.Strategy, Bid: n.Bid,
			Downloaded: tr.Downloaded, Uploaded: tr.Uploaded, Done: tr.Done, Size: tr.Size, Funding: n.Funding}
		if f := n.Finished(); !f.IsZero() && n.Role != RoleSeeder {
			nr.Completion = f.Sub(n.Started)
		}
		if n.Wallet != nil {
			rs, err := n.Wallet.Cheques()
			if err != nil {
				return rep, fmt.Errorf("cannot read %s's cheques: %w", n.Label(), err)
			}
			for _, r := range rs {
				if r.Direction == wallet.Issued {
					add(&nr.Spent, r.Cheque.Cumulative)
					issued[pair{n.Wallet.Address(), r.Counterparty}] = r.Cheque.Cumulative
				} else {
					add(&nr.Earned, r.Cheque.Cumulative)
					accepted[pair{r.Counterparty, n.Wallet.Address()}] = r.Cheque.Cumulative
				}
			}
			ps, err := n.Wallet.Payments()
			if err != nil {
				return rep, fmt.Errorf("cannot read %s's payments: %w", n.Label(), err)
			}
			me := n.Wallet.Address()
			for _, p := range ps {
				if p.For != wallet.ForTip || p.InfoHash != s.ih {
					continue
				}
				if p.Direction == wallet.Issued {
					add(&nr.Tipped, p.Amount)
					addTo(tipped, pair{me, p.Counterparty}, p.Amount)
					continue
				}
				add(&nr.TipsIn, p.Amount)
				addTo(tipsIn, pair{p.Counterparty, me}, p.Amount)
				rep.Tips = append(rep.Tips, TipReport{Time: p.Time, From: nameOf(p.Counterparty), To: n.Label(), Amount: p.Amount, Memo: p.Memo})
			}
			if nr.Tipped.Cmp(nr.Spent) > 0 {
				m.Problems = append(m.Problems, fmt.Sprintf("%s tipped %s, more than its cheques, %s", n.Label(), nr.Tipped, nr.Spent))
			}
			if nr.TipsIn.Cmp(nr.Earned) > 0 {
				m.Problems = append(m.Problems, fmt.Sprintf("%s received tips of %s, more than its cheques, %s", n.Label(), nr.TipsIn, nr.Earned))
			}
			add(&m.Spent, nr.Spent)
			add(&m.Earned, nr.Earned)
			add(&m.Tipped, nr.Tipped)
			add(&m.TipsReceived, nr.TipsIn)
		}
		rep.Nodes = append(rep.Nodes, nr)
	}
	slices.SortStableFunc(rep.Tips, func(a, b TipReport) int { return a.Time.Compare(b.Time) })
	for p, in := range tipsIn {
		if out := tipped[p]; in.Cmp(out) > 0 {
			m.Problems = append(m.Problems, fmt.Sprintf("%s received tips of %s from %s, which tipped it only %s", nameOf(p.beneficiary), in, nameOf(p.payer), out))
		}
	}
	for p, a := range accepted {
		i := issued[p]
		if a.Cmp(i) > 0 {
			m.Problems = append(m.Problems, fmt.Sprintf("%s accepted %s from %s, which issued only %s", p.beneficiary, a, p.payer, i))
		}
	}
	for p, i := range issued {
		add(&m.Unsettled, i.SubFloor(accepted[p]))
	}
	// Settle, then read the ledger (settling pays the other wallets too).
	err := withWallet(nodes, func(_ int, n *Node) error {
		ss, err := n.Wallet.Settle(ctx)
		if err != nil {
			return fmt.Errorf("cannot settle %s's cheques: %w", n.Label(), err)
		}
		for _, st := range ss {
			if st.Err != nil || !st.Shortfall.IsZero() {
				m.Problems = append(m.Problems, fmt.Sprintf("%s: settlement with %s: shortfall %s, %v", n.Label(), st.Record.Counterparty, st.Shortfall, st.Err))
			}
		}
		return nil
	})
	if err == nil {
		err = withWallet(nodes, func(i int, n *Node) error {
			b, err := n.Wallet.Balance(ctx)
			if err != nil {
				return fmt.Errorf("cannot read %s's balance: %w", n.Label(), err)
			}
			rep.Nodes[i].Balance = b.Token
			switch b.Token.Cmp(n.Funding) {
			case -1:
				add(&m.Paid, n.Funding.SubFloor(b.Token))
			case 1:
				add(&m.Received, b.Token.SubFloor(n.Funding))
			}
			return nil
		})
	}
	if err != nil {
		return rep, err
	}
	if sum, err := m.Earned.Add(m.Unsettled); err != nil || sum.Cmp(m.Spent) != 0 {
		m.Problems = append(m.Problems, fmt.Sprintf("spent %s ≠ earned %s + unsettled %s", m.Spent, m.Earned, m.Unsettled))
	}
	// Settling redeems issued cheques too, so everything spent is paid.
	if m.Paid.Cmp(m.Spent) != 0 {
		m.Problems = append(m.Problems, fmt.Sprintf("the ledger took %s from payers, cheques issued %s", m.Paid, m.Spent))
	}
	if m.Received.Cmp(m.Paid) != 0 {
		m.Problems = append(m.Problems, fmt.Sprintf("the ledger gave %s to earners, took %s from payers", m.Received, m.Paid))
	}
	rep.Money = m
	return rep, nil
}

// withWallet calls f with each node that has a wallet and its index,
// stopping at the first error.
func withWallet(nodes []*Node, f func(i int, n *Node) error) error {
	for i, n := range nodes {
		if n.Wallet == nil {
			continue
		}
		if err := f(i, n); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable prints the report as a table and the conservation line.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tSTRATEGY\tBID/MiB\tDOWN\tUP\tDONE\tTIME\tSPENT\tEARNED\tTIPPED\tTIPS IN\t")
	for _, n := range r.Nodes {
		bid, spent, earned, tipped, tipsIn := "-", "-", "-", "-", "-"
		if !n.Bid.IsZero() {
			bid = n.Bid.Format(wallet.BTTDecimals)
		}
		if n.Role != RoleLegacy {
			spent, earned = n.Spent.Format(wallet.BTTDecimals), n.Earned.Format(wallet.BTTDecimals)
			tipped, tipsIn = n.Tipped.Format(wallet.BTTDecimals), n.TipsIn.Format(wallet.BTTDecimals)
		}
		done, t := "-", "-"
		if n.Size > 0 {
			done = fmt.Sprintf("%.0f%%", 100*float64(n.Done)/float64(n.Size))
		}
		if n.Completion > 0 {
			t = fmt.Sprintf("%.1fs", n.Completion.Seconds())
		}
		st := n.Strategy
		if st == "" {
			st = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", n.Node, n.Role, st, bid,
			bytesize.Format(n.Downloaded), bytesize.Format(n.Uploaded), done, t, spent, earned, tipped, tipsIn)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Tips) > 0 {
		fmt.Fprintf(w, "\ntips received: %d\n", len(r.Tips))
		const most = 10
		for _, t := range r.Tips[max(len(r.Tips)-most, 0):] {
			fmt.Fprintf(w, "  %s ← %s: %s BTT %q\n", t.To, t.From, t.Amount.Format(wallet.BTTDecimals), t.Memo)
		}
		if len(r.Tips) > most {
			fmt.Fprintf(w, "  (the last %d shown)\n", most)
		}
	}
	m := r.Money
	bwSpent, bwEarned := m.Spent.SubFloor(m.Tipped), m.Earned.SubFloor(m.TipsReceived)
	fmt.Fprintf(w, "\nprices and amounts in BTT; conservation in base units (1 BTT = 10^18):\n")
	fmt.Fprintf(w, "spent %s (bandwidth %s + tips %s) = earned %s (bandwidth %s + tips %s) + unsettled %s\n",
		m.Spent, bwSpent, m.Tipped, m.Earned, bwEarned, m.TipsReceived, m.Unsettled)
	fmt.Fprintf(w, "ledger: payers paid %s, earners received %s\n", m.Paid, m.Received)
	if m.Conserved() {
		_, err := fmt.Fprintln(w, "money conserved: yes")
		return err
	}
	fmt.Fprintln(w, "money conserved: NO")
	for _, p := range m.Problems {
		fmt.Fprintln(w, "  "+p)
	}
	return nil
}

// errNotConserved is Bench's error when a scenario lost or made money.
var errNotConserved = errors.New("money is not conserved")
