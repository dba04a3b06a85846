package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/internal/atomicfile"
	"github.com/bidtorrent/bidtorrent/wallet"
)

const testPayee = "TLsV52sRDL79HXGGm9yzwKibb6BeruhUzy"

// commerceTorrents makes, in dir, a free torrent, a paid one with a
// running campaign and one whose campaign has ended.
func commerceTorrents(t *testing.T, dir string) (free, paid, ended string) {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(dir, "film.bin")
	writeRandom(t, src, 50_000, 11)
	free, paid, ended = filepath.Join(dir, "free.torrent"), filepath.Join(dir, "paid.torrent"), filepath.Join(dir, "ended.torrent")
	if code, _, stderr := runCLI(t, ctx, "create", "-o", free, src); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCLI(t, ctx, "create", "--payee", testPayee, "--price", "2.5", "--goal", "1000",
		"--deadline", "2099-01-31T23:59:59Z", "-o", paid, src); code != 0 {
		t.Fatal(stderr)
	}
	// create refuses a past deadline; the library makes one.
	tf, err := core.CreateTorrent(core.CreateOptions{Path: src, Terms: &market.Terms{
		Payee: wallet.MustParseAddress(testPayee), ChainID: wallet.ChainIDLocal,
		Token: wallet.MustParseAddress(wallet.DefaultBTTContract), Goal: wallet.NewAmount(1000),
		Deadline: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(ended, tf.Bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return free, paid, ended
}

func TestCommerceBadInput(t *testing.T) {
	dir := isolate(t)
	ctx := context.Background()
	free, paid, ended := commerceTorrents(t, dir)
	long := strings.Repeat("x", 141)
	hash := strings.Repeat("ab", 20)
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"tip without --to", []string{"tip", "1", paid}, 2, []string{"tip needs --to"}},
		{"tip --to empty", []string{"tip", "--to", "", "1", paid}, 2, []string{"tip needs --to"}},
		{"tip --to blank", []string{"tip", "--to", "  ", "1", paid}, 2, []string{"tip needs --to"}},
		{"tip bad --to", []string{"tip", "--to", "nonsense", "1", paid}, 1, []string{`bad --to "nonsense"`, "HOST:PORT or publisher"}},
		{"tip bad amount", []string{"tip", "--to", "publisher", "cheap", paid}, 1, []string{`bad AMOUNT "cheap"`}},
		{"tip bad unit", []string{"tip", "--to", "publisher", "1", "TRX", paid}, 2, []string{"tip takes AMOUNT TORRENT, got 3"}},
		{"tip zero", []string{"tip", "--to", "publisher", "0", paid}, 1, []string{`bad AMOUNT "0"`, "more than 0"}},
		{"tip negative", []string{"tip", "--to", "publisher", "-1", paid}, 1, []string{`amount "-1" is negative`}},
		{"tip too precise", []string{"tip", "--to", "publisher", "0.0000000000000000001", paid}, 1, []string{"bad AMOUNT"}},
		{"tip no args", []string{"tip", "--to", "publisher"}, 2, []string{"tip needs an AMOUNT and a TORRENT"}},
		{"tip no torrent", []string{"tip", "--to", "publisher", "1"}, 2, []string{"tip needs a TORRENT"}},
		{"tip missing torrent", []string{"tip", "--to", "publisher", "1", filepath.Join(dir, "nope.torrent")}, 1, []string{"cannot read torrent file", "no such file"}},
		{"tip not a torrent", []string{"tip", "--to", "publisher", "1", filepath.Join(dir, "film.bin")}, 1, []string{"not a torrent"}},
		{"tip memo too long", []string{"tip", "--to", "publisher", "--memo", long, "1", paid}, 1, []string{"bad --memo: 141 bytes, at most 140"}},
		{"tip memo control", []string{"tip", "--to", "publisher", "--memo", "a\nb", "1", paid}, 1, []string{"bad --memo", "control characters"}},
		{"tip memo not UTF-8", []string{"tip", "--to", "publisher", "--memo", "a\xffb", "1", paid}, 1, []string{"bad --memo", "UTF-8"}},
		{"tip bad timeout", []string{"tip", "--to", "publisher", "--timeout", "0s", "1", paid}, 1, []string{"bad --timeout"}},
		{"tip publisher of free", []string{"tip", "--to", "publisher", "1", free}, 1, []string{"cannot tip the publisher of film.bin", "names none"}},
		{"tip without wallet", []string{"tip", "--to", "publisher", "1", paid}, 1, []string{"tipping needs a wallet", "wallet new"}},
		{"tip by hash without wallet", []string{"tip", "--to", "127.0.0.1:1", "--memo", "thanks", "0.5 BTT", hash}, 1, []string{"tipping needs a wallet"}},
		{"pledge bad amount", []string{"pledge", "lots", paid}, 1, []string{`bad AMOUNT "lots"`}},
		{"pledge no torrent", []string{"pledge", "1"}, 2, []string{"pledge needs a TORRENT"}},
		{"pledge no args", []string{"pledge"}, 2, []string{"pledge needs an AMOUNT and a TORRENT"}},
		{"pledge free", []string{"pledge", "1", free}, 1, []string{"cannot pledge to film.bin", "no crowdfunding campaign"}},
		{"pledge ended", []string{"pledge", "1", ended}, 1, []string{"cannot pledge to film.bin", "ended at 2001-01-01T00:00:00Z"}},
		{"pledge unknown flag", []string{"pledge", "--to", "publisher", "1", paid}, 2, []string{"-to"}},
		{"pledge without wallet", []string{"pledge", "1", paid}, 1, []string{"pledging needs a wallet"}},
		{"get --max-price without --buy", []string{"get", "--out", out, "--max-price", "3", paid}, 1, []string{"--max-price needs --buy"}},
		{"get bad --max-price", []string{"get", "--out", out, "--buy", "--max-price", "free", paid}, 1, []string{`bad --max-price "free"`}},
		{"get paid without --buy", []string{"get", "--out", out, paid}, 1, []string{"paid torrent: price 2.5 BTT to " + testPayee + "; pass --buy to pay it"}},
		{"get --buy without wallet", []string{"get", "--out", out, "--buy", paid}, 1, []string{"buying a paid torrent needs a wallet"}},
	} {
		code, stdout, stderr := runCLI(t, ctx, tc.args...)
		oneLineError(t, tc.name, code, stderr, tc.code, tc.want...)
		if stdout != "" {
			t.Errorf("%s: stdout %q", tc.name, stdout)
		}
	}
	if _, err := os.Stat(out); err == nil {
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if e.Name() != ".bidtorrent" {
				t.Errorf("a refused get left %s in the output dir", e.Name())
			}
		}
	}
}

// TestCommerceWithWallet starts the engine with a wallet: a torrent named
// by an infohash the data dir does not hold is refused, and a tip nobody
// can acknowledge fails with one line (the engine refuses it, or the
// timeout passes) and leaves nothing in the data dir's state.
func TestCommerceWithWallet(t *testing.T) {
	dir := isolate(t)
	n, p := keystoreScryptN, keystoreScryptP
	keystoreScryptN, keystoreScryptP = wallet.LightScryptN, wallet.LightScryptP
	t.Cleanup(func() { keystoreScryptN, keystoreScryptP = n, p })
	t.Setenv(passphraseEnv, "tipper pass")
	ctx := context.Background()
	if code, _, stderr := runCLI(t, ctx, "wallet", "new"); code != 0 {
		t.Fatal(stderr)
	}
	_, paid, _ := commerceTorrents(t, dir)
	hash := strings.Repeat("ab", 20)
	code, _, stderr := runCLI(t, ctx, "tip", "--to", "publisher", "1", hash)
	oneLineError(t, "unknown infohash", code, stderr, 1, "no torrent "+hash+" in the data dir")

	code, stdout, stderr := runCLI(t, ctx, "tip", "--to", "publisher", "--timeout", "2s", "--memo", "hello", "1", paid)
	oneLineError(t, "nobody to tip", code, stderr, 1, "cannot tip 1 BTT to publisher: ")
	if stdout != "" {
		t.Errorf("a failed tip printed %q", stdout)
	}
	nobody := freePort(t, "127.0.0.1")
	code, _, stderr = runCLI(t, ctx, "tip", "--to", nobody, "--timeout", "1s", "1", paid)
	oneLineError(t, "peer never connects", code, stderr, 1, "cannot tip 1 BTT to "+nobody+": it did not connect with btt_bid within 1s")

	// The torrent was joined for the tip only: a later run does not hold it.
	tf, err := core.LoadTorrentFile(paid)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, ctx, "pledge", "--timeout", "2s", "1", tf.InfoHash.String())
	oneLineError(t, "tip left the torrent behind", code, stderr, 1, "no torrent "+tf.InfoHash.String()+" in the data dir")
}
