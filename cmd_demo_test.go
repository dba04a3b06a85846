package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestDemoHeadless runs `demo --headless` briefly, as JSON and as a
// table, and checks the exit status, the rows and the money: each
// bidder's ledger balance fell by exactly what it spent, and the sums
// conserve.
func TestDemoHeadless(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	code, stdout, stderr := runCLI(t, ctx, "demo", "--headless", "--duration", "8s", "--size", "4MiB", "--rate", "1MiB", "--round", "1s", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var rep struct {
		Nodes []struct {
			Node, Role, Strategy                 string
			Done, Size                           int64
			Spent, Earned, Funding, Balance, Bid string
		}
		Money struct {
			Spent, Earned, Unsettled, Paid, Received string
			Conserved                                bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout)
	}
	amt := func(s string) wallet.Amount {
		a, err := wallet.ParseAmount(s, 0)
		if err != nil {
			t.Fatalf("amount %q: %v", s, err)
		}
		return a
	}
	roles := map[string]int{}
	var spent, received wallet.Amount
	for _, n := range rep.Nodes {
		roles[n.Role]++
		switch n.Role {
		case "bidder":
			if got := amt(n.Funding).SubFloor(amt(n.Balance)); got.Cmp(amt(n.Spent)) != 0 {
				t.Errorf("%s: funding %s − balance %s ≠ spent %s", n.Node, n.Funding, n.Balance, n.Spent)
			}
			spent, _ = spent.Add(amt(n.Spent))
		case "seeder":
			received, _ = received.Add(amt(n.Balance))
		}
	}
	if roles["seeder"] != 2 || roles["bidder"] < 3 || roles["legacy"] < 2 {
		t.Errorf("roles %v, want 2 seeders, 3+ bidders, 2+ legacy", roles)
	}
	m := rep.Money
	if !m.Conserved || spent.IsZero() || spent.Cmp(amt(m.Spent)) != 0 || received.Cmp(spent) != 0 || amt(m.Paid).Cmp(spent) != 0 {
		t.Errorf("money: report %+v; bidders spent %s, seeders hold %s", m, spent, received)
	}
	if sum, _ := amt(m.Earned).Add(amt(m.Unsettled)); sum.Cmp(amt(m.Spent)) != 0 {
		t.Errorf("spent %s ≠ earned %s + unsettled %s", m.Spent, m.Earned, m.Unsettled)
	}

	code, stdout, stderr = runCLI(t, ctx, "demo", "--headless", "--duration", "3s", "--size", "2MiB")
	if code != 0 {
		t.Fatalf("table: exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"NODE", "ROLE", "STRATEGY", "SPENT", "EARNED", "seeder-1", "you (fixed)", "adaptive", "budget", "legacy-2", "money conserved: yes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, _ := runCLI(t, ctx, "demo", "--size", "1K"); code != 1 {
		t.Errorf("demo --size 1K: exit %d, want 1", code)
	}
}
