package tron_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/tron"
)

// raceWorkerEnv carries "node address|cheque book path" to
// TestSettleRaceWorker.
const raceWorkerEnv = "BIDTORRENT_TEST_SETTLE_WORKER"

// outcome is one racer's settlement, as the worker process reports it.
type outcome struct {
	Paid string
	TxID string
	Err  string
}

// TestSettleRaceWorker is TestSettleRace's other process: it opens the
// cheque book and the node on its own, says "ready", waits for a line on
// stdin, settles, and prints its settlements as JSON.
func TestSettleRaceWorker(t *testing.T) {
	env := os.Getenv(raceWorkerEnv)
	if env == "" {
		t.Skip("only runs as TestSettleRace's subprocess")
	}
	addr, path, _ := strings.Cut(env, "|")
	c := dial(t, addr, tron.Config{})
	book, err := wallet.OpenChequeBook(path, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := wallet.New(key(t, 1), book, c)
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	ss, err := w.Settle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := []outcome{}
	for _, s := range ss {
		o := outcome{Paid: s.Paid.String(), TxID: s.TxID}
		if s.Err != nil {
			o.Err = s.Err.Error()
		}
		out = append(out, o)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// TestSettleRace is issue 15 case 7: three settlements of the same cheque
// book start at once, two goroutines on two handles of the book in this
// process and a second process, 20 times over, each time after a new
// cheque. Exactly one transfer is broadcast each time, the others say
// "settlement in progress" (or find nothing left to pay), and the payee
// receives exactly the cumulative amount. Before the pending transfer was
// claimed with a check-and-set, racers each broadcast the same payment.
func TestSettleRace(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ctx := context.Background()
	n, c1 := setup(t)
	c2 := dial(t, n.Addr(), tron.Config{})
	payer, payee := key(t, 1), key(t, 2).Address()
	n.SetTRX(payer.Address(), 1_000_000_000_000)
	n.SetTRC20(token, payer.Address(), btt(t, "1000"))
	path := filepath.Join(t.TempDir(), "p.db")
	open := func() *wallet.ChequeBook {
		b, err := wallet.OpenChequeBook(path, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	w1, w2 := wallet.New(payer, open(), c1), wallet.New(payer, open(), c2)
	step := btt(t, "1.5")
	var cum wallet.Amount
	for round := 1; round <= 20; round++ {
		cum, _ = cum.Add(step)
		if _, err := w1.SignCheque(w1.Token(), payee, cum, w1.ChainID()); err != nil {
			t.Fatal(err)
		}
		proc := exec.Command(os.Args[0], "-test.run=^TestSettleRaceWorker$", "-test.count=1")
		proc.Env = append(os.Environ(), raceWorkerEnv+"="+n.Addr()+"|"+path)
		proc.Stderr = os.Stderr
		stdin, _ := proc.StdinPipe()
		stdout, _ := proc.StdoutPipe()
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		if !lines.Scan() || lines.Text() != "ready" {
			t.Fatalf("worker did not start: %q", lines.Text())
		}
		start := make(chan struct{})
		var mu sync.Mutex
		var all []outcome
		var wg sync.WaitGroup
		for _, w := range []*wallet.Wallet{w1, w2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ss, err := w.Settle(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					all = append(all, outcome{Err: err.Error()})
				}
				for _, s := range ss {
					o := outcome{Paid: s.Paid.String(), TxID: s.TxID}
					if s.Err != nil {
						o.Err = s.Err.Error()
						if !errors.Is(s.Err, wallet.ErrPending) {
							t.Errorf("round %d: racer failed otherwise: %v", round, s.Err)
						}
					}
					all = append(all, o)
				}
			}()
		}
		close(start)
		fmt.Fprintln(stdin, "go")
		wg.Wait()
		var theirs []outcome
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, "[") {
				if err := json.Unmarshal([]byte(l), &theirs); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := proc.Wait(); err != nil {
			t.Fatalf("round %d: worker: %v", round, err)
		}
		all = append(all, theirs...)

		// Exactly one payment per round, whoever made it; a racer that
		// found the winner's confirmed transfer pending reports the same
		// transaction, never another.
		paid := map[string]string{}
		for _, o := range all {
			if o.Err != "" && !strings.Contains(o.Err, "settlement in progress") {
				t.Errorf("round %d: %s", round, o.Err)
			}
			if o.TxID != "" {
				if p, seen := paid[o.TxID]; seen && p != o.Paid {
					t.Errorf("round %d: transaction %s reported as paying %s and %s", round, o.TxID, p, o.Paid)
				}
				paid[o.TxID] = o.Paid
			}
		}
		if len(paid) != 1 || n.Broadcasts() != round {
			t.Fatalf("round %d: %d transactions reported, %d broadcast in all (want %d): %+v", round, len(paid), n.Broadcasts(), round, all)
		}
		for _, p := range paid {
			if p != step.String() {
				t.Errorf("round %d: paid %s, want %s", round, p, step)
			}
		}
		if got := n.TRC20(token, payee); got.Cmp(cum) != 0 {
			t.Fatalf("round %d: payee holds %s, want %s", round, got, cum)
		}
		r, _, err := w2.Highest(wallet.Issued, payee)
		if err != nil || r.Settled.Cmp(cum) != 0 || r.Pending != nil {
			t.Fatalf("round %d: record %+v %v", round, r, err)
		}
	}
	want, _ := btt(t, "1000").Sub(cum)
	if got := n.TRC20(token, payer.Address()); got.Cmp(want) != 0 {
		t.Errorf("payer holds %s, want %s", got, want)
	}
}
