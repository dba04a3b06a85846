package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

const ledgerEnv = "BIDTORRENT_TEST_LEDGER_WORKER"

// TestLedgerWorkerProcess is TestLedgerSharedByProcesses's subprocess:
// it moves 1 unit from key 1 to key 2 and back, and credits key 3, 40
// times each.
func TestLedgerWorkerProcess(t *testing.T) {
	path := os.Getenv(ledgerEnv)
	if path == "" {
		t.Skip("only runs as TestLedgerSharedByProcesses's subprocess")
	}
	ctx := context.Background()
	l, err := local.Open(path, token, 30*time.Second)
	if err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	a, b := key(t, 1), key(t, 2)
	for i := 0; i < 40; i++ {
		if _, err := l.Send(ctx, a, b.Address(), wallet.NewAmount(1)); err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		if _, err := l.Send(ctx, b, a.Address(), wallet.NewAmount(1)); err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		if err := l.Faucet(ctx, key(t, 3).Address(), wallet.NewAmount(1)); err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
	}
}

// TestLedgerSharedByProcesses runs four processes against one ledger file
// at once: no update is lost and balances are conserved.
func TestLedgerSharedByProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := local.Open(path, token, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Faucet(ctx, key(t, 1).Address(), wallet.NewAmount(10))
	_ = l.Faucet(ctx, key(t, 2).Address(), wallet.NewAmount(10))
	const procs = 4
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestLedgerWorkerProcess$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), ledgerEnv+"="+path)
		cmds[i].Stdout, cmds[i].Stderr = os.Stderr, os.Stderr
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	want := map[byte]string{1: "10", 2: "10", 3: strconv.Itoa(procs * 40)}
	for k, v := range want {
		if got := bal(t, l, key(t, k).Address()); got != v {
			t.Errorf("key %d holds %s, want %s", k, got, v)
		}
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
}
