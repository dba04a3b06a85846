package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/internal/tmuxtest"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestDemoHeadless runs `demo --headless` briefly, as JSON and as a
// table, and checks the exit status, the rows, the tips and the money:
// each bidder replaced after completing tipped a seeder 0.05 BTT with a
// memo, which the report lists as received; each bidder's ledger balance
// fell by exactly what it spent (tips included), and the sums conserve.
func TestDemoHeadless(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	code, stdout, stderr := runCLI(t, ctx, "demo", "--headless", "--duration", "9s", "--size", "4MiB", "--rate", "1MiB", "--round", "1s", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var rep struct {
		Nodes []struct {
			Node, Role, Strategy                 string
			Done, Size                           int64
			Spent, Earned, Funding, Balance, Bid string
			Tipped                               string
			TipsIn                               string `json:"tips_received"`
		}
		Tips []struct {
			From, To, Memo, Amount string
		}
		Money struct {
			Spent, Earned, Tipped, TipsReceived, Unsettled, Paid, Received string
			Conserved                                                      bool
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
	roleOf := map[string]string{}
	var spent, received, tipped, tipsIn wallet.Amount
	for _, n := range rep.Nodes {
		roles[n.Role]++
		roleOf[n.Node] = n.Role
		tipped, _ = tipped.Add(amt(n.Tipped))
		tipsIn, _ = tipsIn.Add(amt(n.TipsIn))
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
	// Tips: each bidder that was replaced (so had completed and tipped)
	// tipped a seeder exactly 0.05 BTT with the memo.
	tip := amt("50000000000000000")
	var listed wallet.Amount
	from := map[string]int{}
	for _, tp := range rep.Tips {
		if roleOf[tp.From] != "bidder" || roleOf[tp.To] != "seeder" || amt(tp.Amount).Cmp(tip) != 0 || tp.Memo != "thanks for the fast seed!" {
			t.Errorf("tip %+v, want 0.05 BTT from a bidder to a seeder with the memo", tp)
		}
		from[tp.From]++
		listed, _ = listed.Add(amt(tp.Amount))
	}
	replaced := 0
	for _, n := range rep.Nodes {
		if n.Role == "bidder" && roleOf[nextGen(n.Node)] == "bidder" {
			replaced++
			if from[n.Node] != 1 || amt(n.Tipped).Cmp(tip) != 0 {
				t.Errorf("%s was replaced; tips from it listed %d, tipped %s, want 1 of %s", n.Node, from[n.Node], n.Tipped, tip)
			}
		}
	}
	if replaced == 0 || listed.Cmp(tipsIn) != 0 || tipsIn.Cmp(amt(m.TipsReceived)) != 0 || tipped.Cmp(amt(m.Tipped)) != 0 || tipsIn.Cmp(tipped) > 0 {
		t.Errorf("tips: %d bidders replaced; listed %s, nodes received %s, tipped %s; report received %s, tipped %s",
			replaced, listed, tipsIn, tipped, m.TipsReceived, m.Tipped)
	}

	code, stdout, stderr = runCLI(t, ctx, "demo", "--headless", "--duration", "3s", "--size", "2MiB")
	if code != 0 {
		t.Fatalf("table: exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"NODE", "ROLE", "STRATEGY", "SPENT", "EARNED", "TIPPED", "TIPS IN", "seeder-1", "you (fixed)", "adaptive", "budget", "legacy-2", "money conserved: yes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, _ := runCLI(t, ctx, "demo", "--size", "1K"); code != 1 {
		t.Errorf("demo --size 1K: exit %d, want 1", code)
	}
}

// nextGen is the label of the node that replaces the one labelled l:
// "budget" → "budget #2", "budget #2" → "budget #3".
func nextGen(l string) string {
	name, gen, ok := strings.Cut(l, " #")
	if !ok {
		return l + " #2"
	}
	n, err := strconv.Atoi(gen)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s #%d", name, n+1)
}

// TestDemoTmux runs `bidtorrent demo` in tmux like a newcomer would: the
// UI opens on the user's bidder, the market tab shows awards and
// spending, ctrl+p moves the view to a seeder that earns, q quits with
// status 0 and the temp dir is gone.
func TestDemoTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the tmux demo test in -short mode")
	}
	tmuxtest.Require(t, "tmux")
	bin := buildCLI(t)
	dir := t.TempDir()
	tmp, home := filepath.Join(dir, "tmp"), filepath.Join(dir, "home")
	for _, d := range []string{tmp, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ui := tmuxtest.Start(t, dir, "demo", 120, 36, fmt.Sprintf(
		"cd %q && TERM=xterm-256color TMPDIR=%q HOME=%q XDG_CONFIG_HOME= XDG_DATA_HOME= %q demo", home, tmp, home, bin))
	const wait = 90 * time.Second
	ui.WaitScreen("the UI on the user's bidder", wait, tmuxtest.Has("bidtorrent-demo", "demo node 3/7: you (fixed)"))
	ui.Keys("Enter")
	ui.WaitScreen("the details", wait, tmuxtest.Has("6 Market"))
	ui.Keys("6")
	// An award from a seller, and money spent.
	awarded := regexp.MustCompile(`127\.0\.0\.\d+:\d+ +1 +5 yes +[0-9.]+ +[0-9.]+[KM]i?B? +[0-9.]+`)
	ui.WaitScreen("an award and spending in the market tab", wait, func(s string) bool {
		return strings.Contains(s, "buying from 2 sellers") && awarded.MatchString(s)
	})
	ui.Keys("C-p")
	ui.Keys("C-p")
	selling := regexp.MustCompile(`selling: \d bidders, [12] awarded`)
	ui.WaitScreen("the seeder's view, selling", wait, func(s string) bool {
		return strings.Contains(s, "demo node 1/7: seeder-1") && selling.MatchString(s)
	})
	ui.Keys("Escape")
	ui.WaitScreen("the torrent list", wait, tmuxtest.Has("sort: added"))
	time.Sleep(300 * time.Millisecond) // esc then q at once reads as alt+q
	ui.Keys("q")
	if got := ui.Exit(30 * time.Second); got != "0" {
		t.Fatalf("demo exited %s; screen:\n%s", got, ui.Screen())
	}
	for _, d := range []string{tmp, home} {
		if es, _ := os.ReadDir(d); len(es) != 0 {
			t.Errorf("demo left files in %s: %v", d, es)
		}
	}
}
