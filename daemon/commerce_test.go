package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// commerceSnapshot is testSnapshot with debian a paid torrent running a
// campaign, and ubuntu a paid torrent we hold a licence of.
func commerceSnapshot(t *testing.T) core.Snapshot {
	s := testSnapshot(t)
	payee, err := wallet.ParseAddress("TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Date(2026, 12, 24, 13, 30, 0, 0, time.UTC)
	s.Torrents[1].Terms = &market.Terms{Payee: payee, ChainID: 1, Price: tokens18(t, "2.5"), Goal: tokens18(t, "1000"), Deadline: deadline}
	s.Torrents[1].Campaign = &market.Campaign{Goal: tokens18(t, "1000"), Pledged: tokens18(t, "250"), Count: 3, Deadline: deadline}
	s.Torrents[0].Terms = &market.Terms{Payee: payee, ChainID: 1, Price: tokens18(t, "1")}
	s.Torrents[0].Licensed = true
	return s
}

// payRecorder records the payments a fake engine is asked for, amounts in
// base units.
type payRecorder struct {
	mu    sync.Mutex
	calls []string
	err   error // returned by every call
}

func (r *payRecorder) note(format string, a ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, a...))
	return r.err
}

func (r *payRecorder) taken() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func (r *payRecorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func TestPaymentCommands(t *testing.T) {
	rec := &payRecorder{}
	eng := &fakeEngine{
		TipFn: func(_ context.Context, ih core.InfoHash, to string, amount wallet.Amount, memo string) error {
			return rec.note("tip %s to=%s amount=%s memo=%q", ih, to, amount, memo)
		},
		BuyFn: func(_ context.Context, ih core.InfoHash, maxPrice wallet.Amount) error {
			return rec.note("buy %s max=%s", ih, maxPrice)
		},
		PledgeFn: func(_ context.Context, ih core.InfoHash, amount wallet.Amount) error {
			return rec.note("pledge %s amount=%s", ih, amount)
		},
	}
	eng.publish(commerceSnapshot(t))
	e := start(t, eng, nil)
	const debian = "ab34000000000000000000000000000000000002"

	for _, c := range []struct {
		cmd, out string
		call     string
	}{
		{"tip 1.5 ab34", "tipped 1.5 BTT to the publisher TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4 for debian-13.iso",
			"tip " + debian + " to=publisher amount=1500000000000000000 memo=\"\""},
		{`tip --memo 'thanks ☕' --to 192.0.2.7:6881 '0.25 BTT' AB34`, `tipped 0.25 BTT to 192.0.2.7:6881 for debian-13.iso: "thanks ☕"`,
			"tip " + debian + " to=192.0.2.7:6881 amount=250000000000000000 memo=\"thanks ☕\""},
		{"tip 2 BTT ab34 --memo hi --to Publisher", `tipped 2 BTT to the publisher TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4 for debian-13.iso: "hi"`,
			"tip " + debian + " to=publisher amount=2000000000000000000 memo=\"hi\""},
		{"tip 0.000000000000000001 ab34", "tipped 0.000000000000000001 BTT to the publisher TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4 for debian-13.iso",
			"tip " + debian + " to=publisher amount=1 memo=\"\""},
		{"buy --max-price 3 ab34", "bought debian-13.iso for 2.5 BTT from TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4: licensed",
			"buy " + debian + " max=3000000000000000000"},
		{"buy ab12", "ubuntu-24.04.iso: already licensed, nothing paid", ""},
		{"pledge 10 ab34", "pledged 10 BTT to debian-13.iso (campaign: 250 / 1000 BTT, 3 pledges, deadline 2026-12-24T13:30:00Z)",
			"pledge " + debian + " amount=10000000000000000000"},
	} {
		out, stderr, code := e.run(t, "", c.cmd)
		if code != 0 || out != c.out+"\n" || stderr != "" {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want stdout %q", c.cmd, code, out, stderr, c.out)
		}
		var want []string
		if c.call != "" {
			want = []string{c.call}
		}
		if got := rec.taken(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: engine got %q, want %q", c.cmd, got, want)
		}
	}

	// Bad arguments: one line on stderr, exit status 2 (usage) or 1
	// (no such torrent), and the engine is never asked to pay.
	memo141 := strings.Repeat("x", 141)
	for _, c := range []struct {
		cmd, err string
		code     int
	}{
		{"tip", "Usage: tip [--memo TEXT]", 2},
		{"tip 1", "Usage: tip", 2},
		{"tip 1 ab34 cd56", "Usage: tip", 2},
		{"tip 0 ab34", `amount "0" must be more than 0`, 2},
		{"tip abc ab34", `amount "abc" is not a number`, 2},
		{"tip 0.0000000000000000001 ab34", "more than 18 decimal places", 2},
		{"tip '1 TRX' ab34", `unknown unit "TRX"`, 2},
		{"tip --to nowhere 1 ab34", `bad --to "nowhere"`, 2},
		{"tip --memo " + memo141 + " 1 ab34", "bad --memo: 141 bytes, at most 140", 2},
		{"tip --memo 'red\x1b[31mtext' 1 ab34", "bad --memo: control characters", 2},
		{"tip --timeout 0s 1 ab34", "bad --timeout 0s", 2},
		{"tip 1 ab", "cannot tip ab: ambiguous: 2 torrents start with ab", 1},
		{"tip 1 99", "cannot tip 99: no such torrent", 1},
		{"buy", "Usage: buy --max-price AMOUNT", 2},
		// Issue 15 item 10: no terminal to confirm a price on, so none is
		// paid without --max-price; the price is shown.
		{"buy ab34", "cannot buy debian-13.iso without --max-price: it would pay 2.5 BTT; pass --max-price AMOUNT", 1},
		{"buy ab34 cd56", "Usage: buy", 2},
		{"buy --max-price x ab34", `bad --max-price: amount "x" is not a number`, 2},
		{"buy --max-price 0 ab34", `bad --max-price: amount "0" must be more than 0`, 2},
		{"pledge 5", "Usage: pledge", 2},
		{"pledge five ab34", `amount "five" is not a number`, 2},
		{"pledge 5 zz", "cannot pledge zz: an ID is an infohash in hex or a prefix of one", 1},
	} {
		out, stderr, code := e.run(t, "", c.cmd)
		if code != c.code || out != "" || !strings.Contains(stderr, c.err) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want code %d and one line with %q", c.cmd, code, out, stderr, c.code, c.err)
		}
	}
	// A negative amount is taken for a flag: the flag package explains.
	if _, stderr, code := e.run(t, "", "tip -1 ab34"); code != 2 || !strings.Contains(stderr, "-1") {
		t.Errorf("tip -1: code %d, stderr %q", code, stderr)
	}
	if got := rec.taken(); len(got) != 0 {
		t.Fatalf("bad arguments reached the engine: %q", got)
	}

	// The engine refuses: its reason on one line, exit status 1.
	rec.fail(errors.New("the campaign ended at 2026-12-24T13:30:00Z"))
	_, stderr, code := e.run(t, "", "pledge 5 ab34")
	if want := "bidtorrent: cannot pledge to debian-13.iso: the campaign ended at 2026-12-24T13:30:00Z\n"; code != 1 || stderr != want {
		t.Errorf("refused pledge: code %d, stderr %q, want %q", code, stderr, want)
	}
	rec.fail(nil)
	rec.taken()

	// Nobody acknowledges: the engine call ends at --timeout.
	eng.BuyFn = func(ctx context.Context, ih core.InfoHash, _ wallet.Amount) error {
		<-ctx.Done()
		return fmt.Errorf("cannot pay %s: %w", ih, ctx.Err())
	}
	_, stderr, code = e.run(t, "", "buy --max-price 3 --timeout 50ms ab34")
	if code != 1 || stderr != "bidtorrent: cannot buy debian-13.iso: no acknowledgement within 50ms (is the receiver connected? try --timeout)\n" {
		t.Errorf("unacknowledged buy: code %d, stderr %q", code, stderr)
	}

	out, _, code := e.run(t, "", "help")
	for _, want := range []string{"tip     [--memo TEXT] [--to HOST:PORT|publisher]", "buy     --max-price AMOUNT", "pledge  [--timeout D] AMOUNT ID"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}
