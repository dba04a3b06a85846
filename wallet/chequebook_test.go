package wallet

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestChequeBook(t *testing.T) {
	book, err := OpenChequeBook(filepath.Join(t.TempDir(), "book.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	me, peer := testKey(t, 1), testKey(t, 2)
	tok := MustParseAddress(DefaultBTTContract)
	sign := func(k *Key, to Address, n uint64) Cheque {
		c, err := SignCheque(k, ChainIDLocal, tok, to, NewAmount(n))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if d, err := book.RecordIssued(sign(me, peer.Address(), 100)); err != nil || d.String() != "100" {
		t.Fatalf("first issued: %s %v", d, err)
	}
	if d, err := book.RecordIssued(sign(me, peer.Address(), 250)); err != nil || d.String() != "150" {
		t.Fatalf("second issued: %s %v", d, err)
	}
	if d, err := book.RecordIssued(sign(me, peer.Address(), 250)); err != nil || !d.IsZero() {
		t.Fatalf("repeat: %s %v", d, err)
	}
	if _, err := book.RecordIssued(sign(me, peer.Address(), 200)); !errors.Is(err, ErrStale) {
		t.Fatalf("lower: %v", err)
	}
	forged := sign(peer, me.Address(), 999)
	forged.Cumulative = NewAmount(1000)
	if _, err := book.RecordReceived(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: %v", err)
	}
	if d, err := book.RecordReceived(sign(peer, me.Address(), 40)); err != nil || d.String() != "40" {
		t.Fatalf("received: %s %v", d, err)
	}
	r, ok, err := book.Highest(Issued, ChainIDLocal, tok, peer.Address())
	if err != nil || !ok || r.Cheque.Cumulative.String() != "250" || r.Counterparty != peer.Address() {
		t.Fatalf("Highest issued = %+v %v %v", r, ok, err)
	}
	if _, ok, _ := book.Highest(Issued, ChainIDNile, tok, peer.Address()); ok {
		t.Errorf("a Nile record appeared")
	}
	if err := book.SetSettled(Issued, ChainIDLocal, tok, peer.Address(), NewAmount(300)); err == nil {
		t.Errorf("settled above the cheque accepted")
	}
	if err := book.SetSettled(Issued, ChainIDLocal, tok, peer.Address(), NewAmount(120)); err != nil {
		t.Fatal(err)
	}
	if err := book.SetSettled(Issued, ChainIDLocal, tok, peer.Address(), NewAmount(60)); err != nil {
		t.Fatal(err)
	}
	rs, err := book.Records()
	if err != nil || len(rs) != 2 {
		t.Fatalf("Records = %d, %v", len(rs), err)
	}
	if rs[0].Direction != Issued || rs[0].Settled.String() != "120" || rs[0].Unsettled().String() != "130" {
		t.Errorf("issued record %+v", rs[0])
	}
	if rs[1].Direction != Received || rs[1].Counterparty != peer.Address() || rs[1].Unsettled().String() != "40" {
		t.Errorf("received record %+v", rs[1])
	}
	if err := book.Check(); err != nil {
		t.Fatal(err)
	}
}

const writerEnv = "BIDTORRENT_TEST_CHEQUEBOOK_WRITER"

// TestChequeBookWriterProcess is the subprocess of TestChequeBookSurvivesKill:
// it records ever higher received cheques from three payers and prints an
// acknowledgement line after each RecordReceived returns.
func TestChequeBookWriterProcess(t *testing.T) {
	path := os.Getenv(writerEnv)
	if path == "" {
		t.Skip("only runs as TestChequeBookSurvivesKill's subprocess")
	}
	book, err := OpenChequeBook(path, 10*time.Second)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	me := testKey(t, 1)
	tok := MustParseAddress(DefaultBTTContract)
	var payers []*Key
	next := make([]uint64, 3)
	for i := range next {
		payers = append(payers, testKey(t, byte(10+i)))
		r, _, err := book.Highest(Received, ChainIDLocal, tok, payers[i].Address())
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		n, _ := r.Cheque.Cumulative.Uint64()
		next[i] = n + 1
	}
	for i := 0; ; i = (i + 1) % 3 {
		c, err := SignCheque(payers[i], ChainIDLocal, tok, me.Address(), NewAmount(next[i]))
		if err == nil {
			_, err = book.RecordReceived(c)
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Printf("ack %d %d\n", i, next[i])
		next[i]++
	}
}

// TestChequeBookSurvivesKill SIGKILLs a writer process at random points,
// over and over, and checks after each kill that the file is consistent
// and holds every cheque the writer had acknowledged.
func TestChequeBookSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "book.db")
	tok := MustParseAddress(DefaultBTTContract)
	acked := make([]uint64, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	const rounds = 25
	var total int
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChequeBookWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), writerEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := 1 + rng.IntN(40)
		sc := bufio.NewScanner(out)
		n := 0
		for n < want && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("writer said %q", sc.Text())
			}
			i, _ := strconv.Atoi(f[1])
			v, _ := strconv.ParseUint(f[2], 10, 64)
			acked[i] = v
			n++
		}
		if n < want {
			t.Fatalf("round %d: writer ended after %d acks: %v", round, n, sc.Err())
		}
		// Kill mid-write: the writer keeps recording while we read.
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Acks printed before the kill landed are also durable.
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ack" {
				i, _ := strconv.Atoi(f[1])
				v, _ := strconv.ParseUint(f[2], 10, 64)
				acked[i] = v
				n++
			}
		}
		_ = cmd.Wait()
		total += n
		book, err := OpenChequeBook(path, 5*time.Second)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		if err := book.Check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i := range acked {
			r, ok, err := book.Highest(Received, ChainIDLocal, tok, testKey(t, byte(10+i)).Address())
			if err != nil {
				t.Fatal(err)
			}
			got, _ := r.Cheque.Cumulative.Uint64()
			if acked[i] > 0 && (!ok || got < acked[i]) {
				t.Fatalf("round %d: payer %d acknowledged %d but the book holds %d", round, i, acked[i], got)
			}
		}
	}
	t.Logf("%d kills, %d acknowledged cheques, none lost", rounds, total)
}
