package main

// Payments beyond bandwidth (docs/PROTOCOL.md §16) on the command line:
// tip, pledge, and get's --buy.

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/internal/cliargs"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// defaultPayTimeout bounds a tip or pledge: finding the receiver, then
// its acknowledgement.
const defaultPayTimeout = 2 * time.Minute

// paySpec is what tip and pledge share once their flags are read.
type paySpec struct {
	verb    string // "tip" or "pledge"
	to      string // tip: a peer's HOST:PORT or core.ToPublisher
	memo    string
	amount  wallet.Amount
	source  string // .torrent path, magnet, URL or infohash
	ih      core.InfoHash
	byHash  bool // source is an infohash of a torrent in the data dir
	tf      *core.TorrentFile
	timeout time.Duration
	listen  string
	peers   []string
}

func runTip(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("tip", "--to PEER|publisher AMOUNT TORRENT")
	to := fs.String("to", "", "who is paid: a connected peer's `HOST:PORT`, or publisher (the torrent's payee)")
	memo := fs.String("memo", "", fmt.Sprintf("a `TEXT` for the receiver (at most %d bytes)", wallet.MaxMemo))
	p := paySpec{verb: "tip"}
	p.flags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*to) == "" {
		return argsError(c, usager{fs.Usage}, "tip needs --to HOST:PORT (a connected peer) or --to publisher")
	}
	if p.to, err = cliargs.Recipient(*to); err != nil {
		return err
	}
	p.memo = *memo
	if err := cliargs.CheckMemo(p.memo); err != nil {
		return fmt.Errorf("bad --memo: %w", err)
	}
	if err := p.args(c, usager{fs.Usage}, pos); err != nil {
		return err
	}
	if p.to == core.ToPublisher && p.tf != nil {
		terms, err := p.tf.Terms()
		if err != nil {
			return fmt.Errorf("cannot tip the publisher of %s: %w", p.tf.Name, err)
		}
		if terms == nil {
			return fmt.Errorf("cannot tip the publisher of %s: the torrent names none (no btt terms); tip a peer with --to HOST:PORT", p.tf.Name)
		}
	}
	if p.to != core.ToPublisher {
		p.peers = append(p.peers, p.to) // dial it: its key is the address we dial
	}
	return c.pay(ctx, p)
}

func runPledge(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("pledge", "AMOUNT TORRENT")
	p := paySpec{verb: "pledge"}
	p.flags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := p.args(c, usager{fs.Usage}, pos); err != nil {
		return err
	}
	if p.tf != nil {
		terms, err := p.tf.Terms()
		if err != nil {
			return fmt.Errorf("cannot pledge to %s: %w", p.tf.Name, err)
		}
		if terms == nil || terms.Goal.IsZero() {
			return fmt.Errorf("cannot pledge to %s: it has no crowdfunding campaign (no goal in its terms)", p.tf.Name)
		}
		if !terms.Deadline.After(time.Now()) {
			return fmt.Errorf("cannot pledge to %s: its campaign ended at %s", p.tf.Name, terms.Deadline.UTC().Format(time.RFC3339))
		}
	}
	return c.pay(ctx, p)
}

// flags declares the flags tip and pledge share.
func (p *paySpec) flags(fs *flag.FlagSet) {
	fs.DurationVar(&p.timeout, "timeout", defaultPayTimeout, "give up after `DURATION` without an acknowledgement")
	fs.StringVar(&p.listen, "listen", "", "listen on `HOST:PORT` (default: the config's host, a free port)")
	fs.Var((*stringList)(&p.peers), "peer", "dial the peer at `HOST:PORT` directly (repeatable)")
}

// args reads AMOUNT TORRENT (the amount may be two words: 0.5 BTT) and
// checks the timeout.
func (p *paySpec) args(c *cli, fs interface{ Usage() }, pos []string) error {
	pos = cliargs.AmountFirst(pos)
	switch len(pos) {
	case 0:
		return argsError(c, fs, p.verb+" needs an AMOUNT and a TORRENT")
	case 1:
		return argsError(c, fs, p.verb+" needs a TORRENT (.torrent file, magnet, URL or infohash) after the AMOUNT")
	case 2:
	default:
		return argsError(c, fs, fmt.Sprintf("%s takes AMOUNT TORRENT, got %d arguments", p.verb, len(pos)))
	}
	a, err := parseBTT(pos[0])
	if err != nil {
		return fmt.Errorf("bad AMOUNT %q: want BTT, e.g. 0.5: %w", pos[0], err)
	}
	if a.IsZero() {
		return fmt.Errorf("bad AMOUNT %q: must be more than 0", pos[0])
	}
	if p.timeout <= 0 {
		return fmt.Errorf("bad --timeout %s: must be more than 0", p.timeout)
	}
	p.amount, p.source = a, pos[1]
	return p.resolve()
}

// resolve checks the TORRENT argument before anything is started: an
// infohash, a magnet or URL, or a .torrent file that must parse.
func (p *paySpec) resolve() error {
	s := p.source
	ih, err := core.ParseInfoHash(s) // 40 hex digits, either case
	switch {
	case s == "":
		return errors.New("bad TORRENT: empty; want a .torrent file, magnet, URL or infohash")
	case err == nil:
		p.ih, p.byHash = ih, true
	case strings.HasPrefix(s, "magnet:"), strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		// The engine resolves them (and reports a bad one).
	default:
		tf, err := core.LoadTorrentFile(s)
		if err != nil {
			return err
		}
		p.tf, p.ih = tf, tf.InfoHash
	}
	return nil
}

// pay starts the engine with the data dir's wallet, joins the torrent's
// swarm, makes the payment and prints one line once it is acknowledged.
func (c *cli) pay(ctx context.Context, p paySpec) error {
	dataDir, err := c.defaultDataDir()
	if err != nil {
		return err
	}
	why := map[string]string{"tip": "tipping", "pledge": "pledging"}[p.verb]
	ef := engineFlags{listen: p.listen, payWith: why}
	e, stop, err := c.startEngine(ctx, dataDir, &ef, func(cfgListen string) string {
		host, _, _ := net.SplitHostPort(cfgListen)
		return net.JoinHostPort(host, "0")
	})
	if err != nil {
		return err
	}
	ih, cleanup, err := c.joinSwarm(ctx, e, p)
	if err == nil {
		err = c.payOnce(ctx, e, ih, p)
	}
	if cleanup != nil {
		cleanup()
	}
	return errors.Join(err, stop())
}

// joinSwarm makes sure the engine has the torrent and is connecting to
// its peers. A torrent the data dir already holds is used (resumed if
// paused, paused again by cleanup); another one is added, downloading into
// a temporary dir, and removed with it by cleanup.
func (c *cli) joinSwarm(ctx context.Context, e *core.Engine, p paySpec) (core.InfoHash, func(), error) {
	snaps, unsub := e.Subscribe()
	defer unsub()
	var first core.Snapshot
	select {
	case <-ctx.Done():
		return core.InfoHash{}, nil, errors.New("interrupted")
	case s, ok := <-snaps:
		if !ok {
			return core.InfoHash{}, nil, core.ErrClosed
		}
		first = s
	}
	bg := context.WithoutCancel(ctx)
	// useHeld joins with a torrent the data dir holds.
	useHeld := func(ih core.InfoHash) (core.InfoHash, func(), error) {
		t, _ := first.Torrent(ih)
		for _, peer := range p.peers {
			if err := e.AddPeer(ctx, ih, peer); err != nil {
				return ih, nil, err
			}
		}
		if t.State != core.StatePaused {
			return ih, nil, nil
		}
		if err := e.Resume(ctx, ih); err != nil {
			return ih, nil, err
		}
		return ih, func() { _ = e.Pause(bg, ih) }, nil
	}
	_, held := first.Torrent(p.ih)
	switch {
	case p.byHash && !held:
		return p.ih, nil, fmt.Errorf("no torrent %s in the data dir: give its .torrent file or magnet instead", p.ih)
	case p.byHash, p.tf != nil && held:
		return useHeld(p.ih)
	}
	tmp, err := os.MkdirTemp("", "bidtorrent-"+p.verb+"-*")
	if err != nil {
		return core.InfoHash{}, nil, fmt.Errorf("cannot create a temporary download dir: %w", err)
	}
	ih, err := e.Add(ctx, core.AddSpec{Source: p.source, DataDir: tmp, Peers: p.peers})
	if err != nil {
		os.RemoveAll(tmp)
		return ih, nil, err
	}
	if _, held := first.Torrent(ih); held { // a magnet or URL of a torrent the data dir holds
		os.RemoveAll(tmp)
		return useHeld(ih)
	}
	return ih, func() {
		_ = e.Remove(bg, ih, false)
		os.RemoveAll(filepath.Clean(tmp))
	}, nil
}

// payOnce makes the tip or pledge and prints its line.
func (c *cli) payOnce(ctx context.Context, e *core.Engine, ih core.InfoHash, p paySpec) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	sum := p.amount.Format(wallet.BTTDecimals) + " BTT"
	var err error
	toPeer := p.to != "" && p.to != core.ToPublisher
	if toPeer {
		// The engine tips a peer that is connected now; wait for it.
		if err = waitPeer(ctx, e, ih, p.to); errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("cannot tip %s to %s: it did not connect with btt_bid within %s", sum, p.to, p.timeout)
		}
	}
	switch {
	case err != nil:
	case p.verb == "tip":
		err = e.Tip(ctx, ih, p.to, p.amount, p.memo)
	case p.verb == "pledge":
		err = e.Pledge(ctx, ih, p.amount)
	}
	t, _ := e.Snapshot().Torrent(ih)
	if p.tf != nil { // the snapshot may predate the torrent's
		t.Name = p.tf.Name
		if t.Terms == nil {
			t.Terms, _ = p.tf.Terms()
		}
	}
	name := cmp.Or(t.Name, ih.String())
	if err != nil {
		what := "tip " + sum + " to " + p.to
		if p.verb == "pledge" {
			what = "pledge " + sum + " to " + name
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded) && toPeer:
			return fmt.Errorf("cannot %s: no acknowledgement within %s", what, p.timeout)
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("cannot %s: no acknowledgement within %s (is the publisher connected? try --peer HOST:PORT)", what, p.timeout)
		case errors.Is(err, context.Canceled):
			return fmt.Errorf("cannot %s: interrupted", what)
		}
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	switch p.verb {
	case "tip":
		who := p.to
		if p.to == core.ToPublisher {
			who = "the publisher"
			if t.Terms != nil {
				who += " " + t.Terms.Payee.String()
			}
		} else if addr := peerAddress(t, p.to); addr != "" {
			who += " (" + addr + ")"
		}
		line := "tipped " + sum + " to " + who + " for " + name
		if p.memo != "" {
			line += ": " + fmt.Sprintf("%q", p.memo)
		}
		fmt.Fprintln(c.stdout, line)
	case "pledge":
		line := "pledged " + sum + " to " + name
		if cp := t.Campaign; cp != nil {
			line += fmt.Sprintf(" (campaign: %s / %s BTT, %d pledges, deadline %s)", cp.Pledged.Format(wallet.BTTDecimals),
				cp.Goal.Format(wallet.BTTDecimals), cp.Count, cp.Deadline.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(c.stdout, line)
	}
	return nil
}

// waitPeer waits until torrent ih has a connected btt_bid peer at key.
func waitPeer(ctx context.Context, e *core.Engine, ih core.InfoHash, key string) error {
	snaps, unsub := e.Subscribe()
	defer unsub()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s, ok := <-snaps:
			if !ok {
				return core.ErrClosed
			}
			t, _ := s.Torrent(ih)
			for _, p := range t.Peers {
				if string(p.Key) == key && p.Market.Enabled {
					return nil
				}
			}
		}
	}
}

// peerAddress is the wallet address a connected peer announced, or "".
func peerAddress(t core.Torrent, key string) string {
	for _, p := range t.Peers {
		if string(p.Key) == key {
			return p.Market.Address
		}
	}
	return ""
}

// purchaseFlags are get's --buy and --max-price.
type purchaseFlags struct {
	buy      bool
	maxPrice string
	max      wallet.Amount // zero: no maximum
}

// check reads --max-price and decides whether get opens the wallet: with
// --buy, and for a .torrent that is paid (a licence held is presented
// over btt_bid, which needs the wallet).
func (f *purchaseFlags) check(c *cli, source string, ef *engineFlags) error {
	if f.maxPrice != "" {
		if !f.buy {
			return errors.New("--max-price needs --buy")
		}
		a, err := parseBTT(f.maxPrice)
		if err != nil {
			return fmt.Errorf("bad --max-price %q: want BTT, e.g. 5: %w", f.maxPrice, err)
		}
		if a.IsZero() {
			return fmt.Errorf("bad --max-price %q: must be more than 0", f.maxPrice)
		}
		f.max = a
	}
	if f.buy {
		ef.payWith = "buying a paid torrent"
		return nil
	}
	if strings.Contains(source, "://") || strings.HasPrefix(source, "magnet:") {
		return nil // terms known once the metadata is
	}
	tf, err := core.LoadTorrentFile(source)
	if err != nil {
		return nil // Add reports it
	}
	terms, err := tf.Terms()
	if err != nil || !terms.Paid() {
		return nil
	}
	env, err := c.env()
	if err != nil {
		return err
	}
	if !env.Keystore.Exists() { // no wallet, no licence
		return paidError(tf.Name, terms)
	}
	ef.payWith = "downloading a paid torrent"
	return nil
}

// paidError is get's answer to a paid torrent without --buy.
func paidError(name string, t *market.Terms) error {
	return fmt.Errorf("paid torrent: price %s BTT to %s; pass --buy to pay it (%s)",
		t.Price.Format(wallet.BTTDecimals), t.Payee, name)
}

// whilePurchasing runs download with the purchase check alongside; a
// purchase that fails or is refused ends the download with its error.
func (c *cli) whilePurchasing(ctx context.Context, e *core.Engine, ih core.InfoHash, f purchaseFlags, haveWallet bool,
	download func(context.Context) error) error {
	pctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.purchase(pctx, e, ih, f, haveWallet); err != nil {
			cancel(err)
		}
	}()
	err := download(pctx)
	if cause := context.Cause(pctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	cancel(context.Canceled)
	<-done
	return err
}

// purchase waits for the torrent's metadata; for a paid torrent not
// licensed yet it buys the licence with --buy, and refuses without.
func (c *cli) purchase(ctx context.Context, e *core.Engine, ih core.InfoHash, f purchaseFlags, haveWallet bool) error {
	snaps, unsub := e.Subscribe()
	defer unsub()
	for {
		var t core.Torrent
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the download started")
		case s, ok := <-snaps:
			if !ok {
				return core.ErrClosed
			}
			var found bool
			if t, found = s.Torrent(ih); !found {
				continue
			}
		}
		switch {
		case t.State == core.StateError:
			return nil // waitComplete reports it
		case t.NumPieces == 0:
			continue // metadata not known yet
		case !t.Terms.Paid():
			return nil
		case t.Licensed:
			if f.buy {
				fmt.Fprintf(c.stderr, "%s: licensed already, nothing to pay\n", t.Name)
			}
			return nil
		case !f.buy || !haveWallet:
			return paidError(t.Name, t.Terms)
		case !f.max.IsZero() && t.Terms.Price.Cmp(f.max) > 0:
			return fmt.Errorf("paid torrent: price %s BTT is above --max-price %s BTT (%s)",
				t.Terms.Price.Format(wallet.BTTDecimals), f.max.Format(wallet.BTTDecimals), t.Name)
		}
		sum := t.Terms.Price.Format(wallet.BTTDecimals) + " BTT"
		if f.max.IsZero() {
			// Issue 15 item 10: never pay an unseen price.
			if err := c.confirm(fmt.Sprintf("Buy %s for %s from the publisher %s? [y/N] ", t.Name, sum, t.Terms.Payee)); err != nil {
				return fmt.Errorf("not buying %s for %s: %w", t.Name, sum, err)
			}
			f.max = t.Terms.Price // what was confirmed, and no more
		}
		fmt.Fprintf(c.stderr, "buying %s for %s from the publisher %s…\n", t.Name, sum, t.Terms.Payee)
		if err := e.Buy(ctx, ih, f.max); err != nil {
			return fmt.Errorf("cannot buy %s for %s: %w", t.Name, sum, err)
		}
		fmt.Fprintf(c.stderr, "bought %s for %s: licensed\n", t.Name, sum)
		return nil
	}
}

// errNotConfirmed is a confirmation answered with anything but yes.
var errNotConfirmed = errors.New("not confirmed")

// confirm asks question on the terminal and returns nil for "y" or "yes".
// Without a terminal it refuses: pass --max-price to accept a price.
func (c *cli) confirm(question string) error {
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return errors.New("no terminal to confirm the price on: pass --max-price AMOUNT to accept a price")
	}
	fmt.Fprint(c.stderr, "\r\x1b[K"+question)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("cannot read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}
