package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestMain checks no test leaves a goroutine behind once every swarm is
// closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Package-level workers anacrolix starts once and never stops.
		goleak.IgnoreAnyFunction("github.com/anacrolix/torrent.(*dialPool).startDrainer.func1"),
		goleak.IgnoreTopFunction("github.com/anacrolix/torrent/internal/nestedmaps.init"),
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

// smallSwarm is the demo swarm on a 4 MiB torrent with 1 s rounds.
func smallSwarm(t *testing.T, firstIP int) *Swarm {
	t.Helper()
	opts := DefaultOptions()
	opts.Dir, opts.Size, opts.PieceLength, opts.Round, opts.FirstIP = t.TempDir(), 4<<20, 64<<10, time.Second, firstIP
	opts.Rate = 1 << 20
	// A tip waits for the seeder's acknowledgement, redialling it: under
	// a loaded CI machine that can take longer than the demo's 10 s.
	opts.TipTimeout = time.Minute
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestSwarmTradesAndConserves runs the demo swarm until finished leechers,
// a bidder among them, have been replaced, then checks the tips and the
// money against the ledger: each replaced bidder tipped a seeder exactly
// Options.Tip with the memo, which that seeder received; each bidder's
// balance went down by exactly the cheques it issued (tips included),
// each seeder's up by exactly the cheques it accepted.
func TestSwarmTradesAndConserves(t *testing.T) {
	s := smallSwarm(t, 120)
	deadline := time.Now().Add(2 * time.Minute)
	bidderReplaced := func() bool {
		for _, n := range s.All() {
			if n.Role == RoleBidder && n.Gen > 1 {
				return true
			}
		}
		return false
	}
	for len(s.All()) < len(s.Live())+2 || !bidderReplaced() {
		if time.Now().After(deadline) {
			t.Fatalf("no two leechers, a bidder among them, finished and were replaced within 2 minutes: %d nodes", len(s.All()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Settle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if !rep.Money.Conserved() {
		t.Fatalf("money not conserved: %v", rep.Money.Problems)
	}
	for _, want := range []string{"money conserved: yes", "TIPPED", "TIPS IN", "tips received: ", `"thanks for the fast seed!"`,
		"+ tips " + rep.Money.Tipped.String() + ") = earned"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	nodes := s.All()
	checkTips(t, s, rep)
	var spent, earned wallet.Amount
	finished := 0
	for i, n := range nodes {
		r := rep.Nodes[i]
		if r.Node != n.Label() || r.Role != n.Role {
			t.Fatalf("row %d is %s/%s, want %s/%s", i, r.Node, r.Role, n.Label(), n.Role)
		}
		if r.Completion > 0 {
			finished++
			if r.Done != r.Size || r.Size != 4<<20 {
				t.Errorf("%s: completion time but %d of %d bytes", r.Node, r.Done, r.Size)
			}
		}
		switch n.Role {
		case RoleLegacy:
			if n.Wallet != nil {
				t.Errorf("legacy %s has a wallet", r.Node)
			}
		case RoleBidder:
			b, err := n.Wallet.Balance(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Funding.SubFloor(b.Token); got.Cmp(r.Spent) != 0 || b.Token.Cmp(r.Balance) != 0 {
				t.Errorf("%s: ledger moved %s, cheques issued %s", r.Node, got, r.Spent)
			}
			spent, _ = spent.Add(r.Spent)
		case RoleSeeder:
			b, err := n.Wallet.Balance(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if b.Token.Cmp(r.Earned) < 0 {
				t.Errorf("%s: ledger balance %s below the cheques it accepted, %s", r.Node, b.Token, r.Earned)
			}
			earned, _ = earned.Add(b.Token)
		}
	}
	if finished < 2 {
		t.Errorf("%d leechers finished, want at least 2", finished)
	}
	if spent.IsZero() || spent.Cmp(earned) != 0 || spent.Cmp(rep.Money.Spent) != 0 {
		t.Errorf("bidders spent %s, seeders' balances %s, report says %s", spent, earned, rep.Money.Spent)
	}
	// The first bidder (fixed, highest bid) bought at most its bid per
	// MiB: paid ≤ 5 BTT × MiB received while awarded.
	first := rep.Nodes[len(s.opts.Seeders)]
	limit, _ := BTT("5").MulDiv(uint64(first.Downloaded), 1<<20)
	if first.Spent.IsZero() || first.Spent.Cmp(limit) > 0 {
		t.Errorf("%s spent %s for %d bytes, want (0, %s]", first.Node, first.Spent, first.Downloaded, limit)
	}
}

// checkTips checks rep's tips against the wallets: every bidder that was
// replaced tipped one seeder (the peer key it recorded) exactly
// Options.Tip with Options.TipMemo, and that seeder holds the tip; the
// report's per-node, listed and total tips match the payment records.
func checkTips(t *testing.T, s *Swarm, rep Report) {
	t.Helper()
	o := s.Options()
	seederOf := map[string]*Node{} // by listen address
	roleOf := map[string]Role{}    // by label
	for _, n := range s.All() {
		roleOf[n.Label()] = n.Role
		if n.Role == RoleSeeder {
			seederOf[n.Engine.ListenAddr().String()] = n
		}
	}
	var tipped, received wallet.Amount
	want := 0
	for i, n := range s.All() {
		r := rep.Nodes[i]
		tipped, _ = tipped.Add(r.Tipped)
		received, _ = received.Add(r.TipsIn)
		if n.Role != RoleBidder {
			if !r.Tipped.IsZero() {
				t.Errorf("%s (%s) tipped %s", r.Node, n.Role, r.Tipped)
			}
			continue
		}
		if !r.TipsIn.IsZero() {
			t.Errorf("bidder %s received tips of %s", r.Node, r.TipsIn)
		}
		replaced := false
		for _, m := range s.All() {
			replaced = replaced || (m.Slot == n.Slot && m.Gen == n.Gen+1)
		}
		if !replaced {
			continue
		}
		want++
		seeder := seederOf[n.TippedTo()]
		if seeder == nil {
			t.Errorf("%s was replaced having tipped %q, not a seeder (tip error: %v)", r.Node, n.TippedTo(), n.TipError())
			continue
		}
		ps, err := n.Wallet.Payments()
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || ps[0].Direction != wallet.Issued || ps[0].For != wallet.ForTip || ps[0].Amount.Cmp(o.Tip) != 0 ||
			ps[0].Memo != o.TipMemo || ps[0].Counterparty != seeder.Wallet.Address() || ps[0].InfoHash != s.InfoHash() {
			t.Errorf("%s's payments %+v, want one tip of %s to %s (%s)", r.Node, ps, o.Tip, seeder.Label(), seeder.Wallet.Address())
		}
		if r.Tipped.Cmp(o.Tip) != 0 {
			t.Errorf("%s: report says tipped %s, want %s", r.Node, r.Tipped, o.Tip)
		}
		in, err := seeder.Wallet.Payments()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range in {
			found = found || (p.Direction == wallet.Received && p.For == wallet.ForTip && p.Counterparty == n.Wallet.Address() &&
				p.Amount.Cmp(o.Tip) == 0 && p.Memo == o.TipMemo)
		}
		listed := false
		for _, tr := range rep.Tips {
			listed = listed || (tr.From == n.Label() && tr.To == seeder.Label() && tr.Amount.Cmp(o.Tip) == 0 && tr.Memo == o.TipMemo)
		}
		if !found || !listed {
			t.Errorf("%s's tip to %s: in the seeder's payments %v, in the report %v", r.Node, seeder.Label(), found, listed)
		}
	}
	if want == 0 {
		t.Fatal("no bidder was replaced")
	}
	var listed wallet.Amount
	for _, tr := range rep.Tips {
		if roleOf[tr.From] != RoleBidder || roleOf[tr.To] != RoleSeeder {
			t.Errorf("tip listed from %s (%s) to %s (%s), want a bidder to a seeder", tr.From, roleOf[tr.From], tr.To, roleOf[tr.To])
		}
		listed, _ = listed.Add(tr.Amount)
	}
	atLeast, _ := o.Tip.MulDiv(uint64(want), 1)
	m := rep.Money
	if m.Tipped.Cmp(tipped) != 0 || m.TipsReceived.Cmp(received) != 0 || listed.Cmp(received) != 0 ||
		received.Cmp(atLeast) < 0 || received.Cmp(tipped) > 0 {
		t.Errorf("tips: report tipped %s, received %s, listed %s; nodes tipped %s, received %s; want at least %s received",
			m.Tipped, m.TipsReceived, listed, tipped, received, atLeast)
	}
}

// TestSwitcherFollowsTheNodeInView: the switcher's snapshots come from
// the node in view, and change when the view moves.
func TestSwitcherFollowsTheNodeInView(t *testing.T) {
	s := smallSwarm(t, 140)
	sw := NewSwitcher(s, 0)
	ch, stop := sw.Subscribe()
	defer stop()
	wantWallet := func(n *Node) {
		t.Helper()
		want := ""
		if n.Wallet != nil {
			want = n.Wallet.Address().String()
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case snap := <-ch:
				if snap.Wallet.Address == want && len(snap.Torrents) == 1 && snap.Torrents[0].InfoHash == s.InfoHash() {
					return
				}
			case <-deadline:
				t.Fatalf("no snapshot of %s (wallet %q) within 10 s", n.Label(), want)
			}
		}
	}
	wantWallet(sw.Node())
	sw.Next(1)
	if sw.Node().Name != "seeder-2" {
		t.Fatalf("next node is %s, want seeder-2", sw.Node().Name)
	}
	wantWallet(sw.Node())
	sw.Next(-2) // wraps around to the last leecher, a legacy one
	if n := sw.Node(); n.Role != RoleLegacy || n.Slot != len(s.Live())-1 {
		t.Fatalf("node after wrapping is %s (%s, slot %d)", n.Label(), n.Role, n.Slot)
	}
	wantWallet(sw.Node())
}
