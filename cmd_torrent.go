package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/internal/app"
	"github.com/bidtorrent/bidtorrent/internal/atomicfile"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/internal/safetext"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// rateFlag is a rate flag such as "2MiB".
type rateFlag struct{ r core.Rate }

func (f *rateFlag) String() string { return fmt.Sprint(int64(f.r)) }
func (f *rateFlag) Set(s string) error {
	r, err := core.ParseRate(s)
	if err != nil {
		return err
	}
	f.r = r
	return nil
}

// argsError reports a wrong number of positional arguments with usage.
func argsError(c *cli, fs interface{ Usage() }, msg string) error {
	fmt.Fprintf(c.stderr, "bidtorrent: %s\n", msg)
	fs.Usage()
	return errUsage
}

type usager struct{ f func() }

func (u usager) Usage() { u.f() }

func runCreate(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("create", "-o OUT.torrent PATH")
	pieceLength := fs.Int64("piece-length", 0, "piece length in `BYTES`, a power of two (default: chosen from the size)")
	var trackers, webseeds stringList
	fs.Var(&trackers, "tracker", "announce `URL` (repeatable; each is its own tier)")
	fs.Var(&webseeds, "webseed", "web seed `URL` (BEP 19, repeatable)")
	private := fs.Bool("private", false, "mark the torrent private (BEP 27: no DHT, PEX or LSD)")
	out := fs.String("o", "", "write the .torrent to `FILE` (required; - for stdout)")
	format := fs.String("format", "v1", "`FORMAT`: v1 (every client), hybrid (v1 and v2 clients; BEP 47 padding) or v2 (BEP 52 only)")
	var pf publisherFlags
	fs.StringVar(&pf.payee, "payee", "", "publisher's TRON `ADDRESS` (T…) paid for the content, tips and pledges")
	fs.StringVar(&pf.price, "price", "", "sell the content for `AMOUNT` BTT: only buyers are served by our seeders (needs --payee)")
	fs.StringVar(&pf.goal, "goal", "", "crowdfunding goal of `AMOUNT` BTT (needs --payee and --deadline)")
	fs.StringVar(&pf.deadline, "deadline", "", "crowdfunding deadline, `RFC3339` time, e.g. 2027-01-31T23:59:59Z")
	if err := c.parseArgs(fs, args, 1, "create needs exactly one PATH"); err != nil {
		return err
	}
	if *out == "" {
		return argsError(c, usager{fs.Usage}, "create needs -o OUT.torrent")
	}
	fm, err := core.ParseFormat(*format)
	if err != nil {
		return err
	}
	terms, err := c.publisherTerms(pf, time.Now())
	if err != nil {
		return err
	}
	tf, err := core.CreateTorrent(core.CreateOptions{
		Format:      fm,
		Path:        fs.Arg(0),
		PieceLength: *pieceLength,
		Trackers:    trackers,
		WebSeeds:    webseeds,
		Private:     *private,
		CreatedBy:   "bidtorrent " + version,
		Terms:       terms,
	})
	if err != nil {
		return err
	}
	if *out == "-" { // the torrent on stdout; the magnet goes to stderr
		if _, err := c.stdout.Write(tf.Bytes); err != nil {
			return fmt.Errorf("cannot write the torrent to stdout: %w", err)
		}
		fmt.Fprintln(c.stderr, tf.Magnet())
	} else {
		// A device or FIFO is written into, never replaced (atomicfile).
		if err := atomicfile.Write(*out, tf.Bytes, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, tf.Magnet())
	}
	if tf.Format != core.FormatV2 {
		fmt.Fprintf(c.stderr, "infohash v1 %s\n", tf.InfoHash)
	}
	if tf.Format != core.FormatV1 {
		fmt.Fprintf(c.stderr, "infohash v2 %s\n", tf.InfoHashV2)
	}
	return nil
}

// publisherFlags are create's --payee, --price, --goal and --deadline.
type publisherFlags struct{ payee, price, goal, deadline string }

// publisherTerms turns the flags into the torrent's terms (nil without
// any). The chain and token are the configured wallet's (the local ledger
// by default), so payments land where the publisher's wallet looks.
func (c *cli) publisherTerms(f publisherFlags, now time.Time) (*market.Terms, error) {
	if f == (publisherFlags{}) {
		return nil, nil
	}
	if f.payee == "" {
		return nil, errors.New("--price, --goal and --deadline need --payee ADDRESS (who is paid)")
	}
	payee, err := wallet.ParseAddress(f.payee)
	if err != nil {
		return nil, fmt.Errorf("bad --payee: %w", err)
	}
	conf, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	t := &market.Terms{Payee: payee, ChainID: conf.Wallet.Network().ChainID, Token: conf.Wallet.TokenAddress()}
	if f.price != "" {
		if t.Price, err = parseBTT(f.price); err != nil {
			return nil, fmt.Errorf("bad --price %q: want an amount in BTT, e.g. 2.5: %w", f.price, err)
		}
		if t.Price.IsZero() {
			return nil, fmt.Errorf("bad --price %q: must be more than 0 (leave --price out for free content)", f.price)
		}
	}
	switch {
	case f.goal != "" && f.deadline == "":
		return nil, errors.New("--goal needs --deadline RFC3339 (when the campaign ends)")
	case f.goal == "" && f.deadline != "":
		return nil, errors.New("--deadline needs --goal AMOUNT (a deadline belongs to a crowdfunding goal)")
	case f.goal != "":
		if t.Goal, err = parseBTT(f.goal); err != nil {
			return nil, fmt.Errorf("bad --goal %q: want an amount in BTT, e.g. 1000: %w", f.goal, err)
		}
		if t.Goal.IsZero() {
			return nil, fmt.Errorf("bad --goal %q: must be more than 0", f.goal)
		}
		d, err := time.Parse(time.RFC3339, f.deadline)
		if err != nil {
			return nil, fmt.Errorf("bad --deadline %q: want an RFC3339 time such as 2027-01-31T23:59:59Z", f.deadline)
		}
		if !d.After(now) {
			return nil, fmt.Errorf("bad --deadline %q: it has already passed", f.deadline)
		}
		t.Deadline = d.Truncate(time.Second).UTC()
	}
	return t, nil
}

// engineFlags are the flags seed and get share.
type engineFlags struct {
	listen      string
	uploadLimit rateFlag
	price       string // --ask or --bid
	strategy    string
	// payWith, when set, opens the wallet even without --ask/--bid: it
	// names what needs it ("tipping", "buying this torrent").
	payWith string
}

// opensWallet reports whether startEngine opens the data dir's wallet:
// for the bandwidth market (--ask/--bid, a strategy) or a payment.
func (ef *engineFlags) opensWallet() bool {
	return ef.price != "" || ef.strategy != "" || ef.payWith != ""
}

// startEngine loads the config, applies the flags and starts the engine
// in dataDir through app.StartEngine, the start-up path every command
// shares; stop stops it and returns Run's error.
func (c *cli) startEngine(ctx context.Context, dataDir string, ef *engineFlags, listenDefault func(string) string) (*core.Engine, func() error, error) {
	env, err := c.env()
	if err != nil {
		return nil, nil, err
	}
	ec := env.Config.Engine
	if ef.listen != "" {
		ec.ListenAddr = ef.listen
	} else if listenDefault != nil {
		ec.ListenAddr = listenDefault(ec.ListenAddr)
	}
	if host, _, err := net.SplitHostPort(ec.ListenAddr); err != nil {
		return nil, nil, &core.InputError{What: "listen address", Value: ec.ListenAddr, Reason: "want HOST:PORT"}
	} else if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && ec.DialAddr == "" {
		ec.DialAddr = host // dial from the address we listen on
	}
	if ef.uploadLimit.r > 0 {
		ec.UploadLimit = ef.uploadLimit.r
	}
	o := app.EngineOptions{Dir: dataDir, Config: &ec, Version: version}
	// The bandwidth market: --ask/--bid or a strategy open the wallet of
	// the data dir (on the ledger of --ledger) and turn btt_bid on.
	if ef.opensWallet() {
		if o.Wallet, o.CloseWallet, err = c.marketWallet(env, cmp.Or(ef.payWith, "the bandwidth market")); err != nil {
			return nil, nil, err
		}
	}
	e, err := env.StartEngine(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if ef.uploadLimit.r > 0 {
		// A flag beats a limit saved in the data dir by an earlier run.
		_ = e.SetLimits(ctx, core.InfoHash{}, core.Limits{Up: int64(ef.uploadLimit.r)})
	}
	return e.Engine, e.Stop, nil
}

// marketWallet unlocks the wallet of the data dir for the market or a
// payment, named by why (the passphrase from $BIDTORRENT_PASSPHRASE or a
// prompt).
func (c *cli) marketWallet(env *app.Env, why string) (*wallet.Wallet, func(), error) {
	key, err := c.unlock(env, "")
	if err != nil {
		return nil, nil, fmt.Errorf("%s needs a wallet (bidtorrent wallet new): %w", why, err)
	}
	return env.OpenWallet(key)
}

// parseMarketFlags turns --ask/--bid and a strategy name into settings.
func parseMarketFlags(price, strategy string, seller bool) (core.MarketSettings, bool, error) {
	var m core.MarketSettings
	if price == "" && strategy == "" {
		return m, false, nil
	}
	if price != "" {
		a, err := wallet.ParseAmount(price, 18)
		if err != nil {
			what := "--bid"
			if seller {
				what = "--ask"
			}
			return m, false, fmt.Errorf("bad %s %q: want BTT per MiB, e.g. 0.5: %w", what, price, err)
		}
		if seller {
			m.Ask = &a
		} else {
			m.Bid = &a
		}
	}
	if strategy != "" {
		s := strategy
		if seller {
			m.SellerStrategy = &s
		} else {
			m.BuyerStrategy = &s
		}
	}
	return m, true, nil
}

func runSeed(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("seed", "PATH")
	var ef engineFlags
	fs.StringVar(&ef.listen, "listen", "", "listen on `HOST:PORT` (default: the config's listen_addr)")
	torrentPath := fs.String("torrent", "", "the .torrent `FILE` of PATH; created if it does not exist")
	format := fs.String("format", "", "`FORMAT` of a torrent seed creates: v1 (the default), hybrid or v2 (see create)")
	fs.Var(&ef.uploadLimit, "upload-limit", "upload `RATE` limit, e.g. 2MiB (default: unlimited)")
	fs.StringVar(&ef.price, "ask", "", "sell upload in the bandwidth market at a reserve `PRICE` in BTT per MiB (opens the wallet)")
	fs.StringVar(&ef.strategy, "seller-strategy", "", "seller strategy `NAME`: uniform, propshare or free (default uniform with --ask)")
	if err := c.parseArgs(fs, args, 1, "seed needs exactly one PATH"); err != nil {
		return err
	}
	market, hasMarket, err := parseMarketFlags(ef.price, ef.strategy, true)
	if err != nil {
		return err
	}
	fm := core.FormatV1
	if *format != "" {
		if fm, err = core.ParseFormat(*format); err != nil {
			return err
		}
	}
	path, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", fs.Arg(0), err)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("cannot seed %s: %w", fs.Arg(0), errors.Unwrap(err))
	}

	var tf *core.TorrentFile
	if *torrentPath != "" {
		if _, err := os.Stat(*torrentPath); err == nil {
			if tf, err = core.LoadTorrentFile(*torrentPath); err != nil {
				return err
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot read %s: %w", *torrentPath, errors.Unwrap(err))
		}
	}
	if tf != nil && *format != "" && tf.Format != fm {
		return fmt.Errorf("cannot seed %s as %s: %s is a %s torrent", fs.Arg(0), fm, *torrentPath, tf.Format)
	}
	if tf == nil {
		if tf, err = core.CreateTorrent(core.CreateOptions{Format: fm, Path: path, CreatedBy: "bidtorrent " + version}); err != nil {
			return err
		}
		if *torrentPath != "" {
			if err := atomicfile.Write(*torrentPath, tf.Bytes, 0o644); err != nil {
				return err
			}
		}
	}
	if tf.Name != filepath.Base(path) {
		return fmt.Errorf("cannot seed %s with %s: the torrent is for %q", fs.Arg(0), *torrentPath, tf.Name)
	}
	terms, err := tf.Terms()
	if err != nil {
		return fmt.Errorf("cannot seed %s: %w", tf.Name, err)
	}
	if terms.Paid() {
		// Only licence holders are served a paid torrent, and a licence is
		// presented over btt_bid, which runs only with a wallet open.
		ef.payWith = "paid torrent: seeding"
	}

	dataDir := c.dataDir
	if dataDir == "" {
		base, err := c.defaultDataDir()
		if err != nil {
			return err
		}
		dataDir = filepath.Join(base, "seed", tf.InfoHash.String()[:16])
	}
	src := *torrentPath
	if src == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return fmt.Errorf("cannot create data dir: %w", err)
		}
		src = filepath.Join(dataDir, tf.InfoHash.String()+".torrent")
		if err := atomicfile.Write(src, tf.Bytes, 0o644); err != nil {
			return err
		}
	}

	e, stop, err := c.startEngine(ctx, dataDir, &ef, nil)
	if err != nil {
		return err
	}
	ih, err := e.Add(ctx, core.AddSpec{Source: src, DataDir: filepath.Dir(path)})
	if err == nil && hasMarket {
		err = e.SetMarket(ctx, ih, market)
	}
	if err == nil {
		err = e.Recheck(ctx, ih)
	}
	if err != nil {
		return errors.Join(err, stop())
	}
	fmt.Fprintln(c.stdout, tf.Magnet())
	if f, ok := c.stdout.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	fmt.Fprintf(c.stderr, "seeding %s (%s) on %s\n", safetext.String(tf.Name), bytesize.Format(tf.Size), e.ListenAddr())

	snaps, unsub := e.Subscribe()
	defer unsub()
	checked, warned := false, false
	for {
		select {
		case <-ctx.Done():
			return stop()
		case s, ok := <-snaps:
			if !ok {
				return stop()
			}
			t, ok := s.Torrent(ih)
			if !ok {
				continue
			}
			if t.State == core.StateChecking {
				checked = true
			}
			if checked && !warned && t.State == core.StateDownloading {
				// The recheck found data missing or different.
				warned = true
				fmt.Fprintf(c.stderr, "warning: only %s of %s in %s matches the torrent; seeding what matches\n",
					bytesize.Format(t.Done), bytesize.Format(t.Size), fs.Arg(0))
			}
		}
	}
}

func runGet(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("get", "TORRENT|MAGNET|URL")
	var ef engineFlags
	fs.StringVar(&ef.listen, "listen", "", "listen on `HOST:PORT` (default: the config's host, a free port)")
	var peers stringList
	fs.Var(&peers, "peer", "dial the peer at `HOST:PORT` directly (repeatable)")
	out := fs.String("out", ".", "download into `DIR`")
	seedFor := fs.Duration("seed-for", 0, "keep seeding for `DURATION` after the download completes")
	fs.Var(&ef.uploadLimit, "upload-limit", "upload `RATE` limit, e.g. 2MiB (default: unlimited)")
	fs.StringVar(&ef.price, "bid", "", "buy upload in the bandwidth market at up to `PRICE` in BTT per MiB (opens the wallet)")
	fs.StringVar(&ef.strategy, "buyer-strategy", "", "buyer strategy `NAME`: fixed, budget, adaptive or none (default fixed with --bid)")
	var pay purchaseFlags
	fs.BoolVar(&pay.buy, "buy", false, "pay the price of a paid torrent to its publisher (opens the wallet)")
	fs.StringVar(&pay.maxPrice, "max-price", "", "with --buy, refuse a price above `AMOUNT` BTT")
	if err := c.parseArgs(fs, args, 1, "get needs exactly one TORRENT, MAGNET or URL"); err != nil {
		return err
	}
	if *seedFor < 0 {
		return argsError(c, usager{fs.Usage}, "--seed-for must not be negative")
	}
	market, hasMarket, err := parseMarketFlags(ef.price, ef.strategy, false)
	if err != nil {
		return err
	}
	if err := pay.check(c, fs.Arg(0), &ef); err != nil {
		return err
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", *out, err)
	}
	if err := checkOutDir(outDir); err != nil {
		return err
	}
	dataDir := c.dataDir
	if dataDir == "" {
		// Resume data lives with the download, so re-running the same
		// command resumes it.
		dataDir = filepath.Join(outDir, ".bidtorrent")
	}
	e, stop, err := c.startEngine(ctx, dataDir, &ef, func(cfgListen string) string {
		host, _, _ := net.SplitHostPort(cfgListen)
		return net.JoinHostPort(host, "0")
	})
	if err != nil {
		return err
	}
	ih, err := e.Add(ctx, core.AddSpec{Source: fs.Arg(0), DataDir: outDir, Peers: peers})
	if err == nil && hasMarket {
		err = e.SetMarket(ctx, ih, market)
	}
	if err == nil {
		// A paid torrent is bought (or refused) once its metadata is
		// known, while the progress shows.
		err = c.whilePurchasing(ctx, e, ih, pay, ef.opensWallet(), func(ctx context.Context) error {
			return c.waitComplete(ctx, e, ih, outDir, *seedFor)
		})
	}
	return errors.Join(err, stop())
}

// checkOutDir makes sure dir exists (creating it) and is writable.
func checkOutDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("output dir %s is not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create output dir %s: %w", dir, errors.Unwrap(err))
	}
	f, err := os.CreateTemp(dir, ".bidtorrent-probe-*")
	if err != nil {
		return fmt.Errorf("output dir %s is not writable: %w", dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// waitComplete shows progress until every piece is verified, then seeds
// for seedFor.
func (c *cli) waitComplete(ctx context.Context, e *core.Engine, ih core.InfoHash, outDir string, seedFor time.Duration) error {
	snaps, unsub := e.Subscribe()
	defer unsub()
	p := newProgress(c.stderr)
	start := time.Now()
	var last core.Torrent
	for {
		select {
		case <-ctx.Done():
			p.finish()
			return fmt.Errorf("interrupted at %.1f%% of %s (run the same command again to resume)", 100*last.Progress(), last.Name)
		case s, ok := <-snaps:
			if !ok {
				return core.ErrClosed
			}
			t, ok := s.Torrent(ih)
			if !ok {
				continue
			}
			last = t
			if t.DataDir != outDir {
				p.finish()
				return fmt.Errorf("%s is already being downloaded to %s with this data dir (pass that --out, or another --data-dir)", t.Name, t.DataDir)
			}
			if t.State == core.StateError {
				p.finish()
				return fmt.Errorf("cannot download %s: %s", t.Name, t.Err)
			}
			if t.Complete() {
				p.finish()
				el := time.Since(start)
				fmt.Fprintf(c.stderr, "complete: %s (%s) verified in %s (%s/s)\n", safetext.String(t.Name), bytesize.Format(t.Size),
					el.Round(time.Millisecond), bytesize.Format(int64(float64(t.Size)/max(el.Seconds(), 0.001))))
				if seedFor > 0 {
					fmt.Fprintf(c.stderr, "seeding for %s\n", seedFor)
					select {
					case <-ctx.Done():
					case <-time.After(seedFor):
					}
				}
				return nil
			}
			p.update(t)
		}
	}
}

// progress draws a bar on a terminal, or prints a line every few seconds.
type progress struct {
	w        io.Writer
	tty      bool
	lastLine time.Time
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(t core.Torrent) {
	state := string(t.State)
	if p.tty {
		const width = 30
		n := int(t.Progress() * width)
		bar := strings.Repeat("#", n) + strings.Repeat("-", width-n)
		fmt.Fprintf(p.w, "\r\x1b[K[%s] %5.1f%% %s/%s %s/s down %s/s up, %d peers, %s", bar, 100*t.Progress(),
			bytesize.Format(t.Done), bytesize.Format(t.Size), bytesize.Format(t.DownRate), bytesize.Format(t.UpRate),
			t.PeerCount, state)
		p.drawn = true
		return
	}
	if time.Since(p.lastLine) < 2*time.Second {
		return
	}
	p.lastLine = time.Now()
	fmt.Fprintf(p.w, "%s: %.1f%% %s/%s, %s/s down, %d peers, %s\n", safetext.String(t.Name), 100*t.Progress(),
		bytesize.Format(t.Done), bytesize.Format(t.Size), bytesize.Format(t.DownRate), t.PeerCount, state)
}

func (p *progress) finish() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\n")
		p.drawn = false
	}
}
