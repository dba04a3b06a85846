//go:build linux

// Command transfer benchmarks loopback TCP transfers of one large
// single-file torrent between bidtorrent and aria2, in one run, and prints a
// table of throughput and the downloader's peak RSS:
//
//	go run ./bench/transfer [-size 256MiB] [-piece 256KiB] [-runs 1]
//
// Each scenario starts a seeder, waits until it announces every piece (a
// plain handshake probe), then times the downloader from its start to its
// verified completion (our get exits 0 only when every piece is verified;
// aria2c --seed-time=0 exits 0 when complete). MiB/s is payload bytes over
// that wall time. Peak RSS is the downloader's, from wait4's rusage; it
// counts the file pages the process maps, which the kernel can drop, so
// peak anon RSS (the largest RssAnon polled from /proc every 20 ms) is
// shown too. Every download is checked by SHA-256 afterwards (not timed).
// Peers run on their own 127.x.y.z addresses with DHT, LSD, PEX, uTP and
// port mapping off; aria2 learns of its seeder from an in-process tracker.
// Nothing here is run by CI.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/interop"
)

type side int

const (
	ours side = iota
	aria2
)

func (s side) String() string {
	if s == ours {
		return "bidtorrent"
	}
	return "aria2"
}

type scenario struct{ seed, get side }

func (sc scenario) String() string { return sc.seed.String() + " → " + sc.get.String() }

type result struct {
	sc      scenario
	elapsed []time.Duration
	rss     []int64
	anon    []int64
	errs    []error // failed runs
}

func main() {
	size := flag.String("size", "256MiB", "payload size")
	piece := flag.String("piece", "256KiB", "piece length (a power of two)")
	runs := flag.Int("runs", 1, "runs per scenario (the table shows the best; failed runs are counted)")
	bin := flag.String("bin", "", "bidtorrent binary (default: go build the module)")
	keep := flag.Bool("keep", false, "keep the work dir (logs) after the run")
	only := flag.String("only", "", "comma-separated scenarios to run, e.g. ours-ours,aria2-ours,ours-aria2,aria2-aria2")
	timeout := flag.Duration("timeout", 5*time.Minute, "per-transfer limit")
	flag.Parse()
	if err := run(*size, *piece, *runs, *bin, *keep, *only, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "transfer:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n, nil
}

func run(sizeS, pieceS string, runs int, bin string, keep bool, only string, timeout time.Duration) error {
	size, err := parseSize(sizeS)
	if err != nil {
		return err
	}
	pieceLen, err := parseSize(pieceS)
	if err != nil {
		return err
	}
	log2 := 0
	for 1<<log2 < pieceLen {
		log2++
	}
	if 1<<log2 != pieceLen {
		return fmt.Errorf("piece length %d is not a power of two", pieceLen)
	}
	if err := interop.Need("aria2c", "mktorrent"); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bidtorrent-bench-")
	if err != nil {
		return fmt.Errorf("cannot make work dir: %w", err)
	}
	if keep {
		fmt.Fprintln(os.Stderr, "work dir (kept):", work)
	} else {
		defer os.RemoveAll(work)
	}
	if bin == "" {
		bin = filepath.Join(work, "bidtorrent")
		fmt.Fprintln(os.Stderr, "building bidtorrent…")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/bidtorrent/bidtorrent").CombinedOutput(); err != nil {
			return fmt.Errorf("cannot build bidtorrent: %w\n%s", err, out)
		}
	}

	fmt.Fprintf(os.Stderr, "writing a %d-byte payload…\n", size)
	seedDir := filepath.Join(work, "seed")
	src := filepath.Join(seedDir, "payload.bin")
	sum, err := interop.WritePayload(src, size, 1)
	if err != nil {
		return err
	}
	trk, err := interop.StartTracker(netip.AddrPortFrom(interop.NewLoopbackIP(), 0).String())
	if err != nil {
		return err
	}
	defer trk.Close()
	tor := filepath.Join(work, "payload.torrent")
	ti, err := interop.Mktorrent(src, tor, log2, trk.URL)
	if err != nil {
		return err
	}

	all := []scenario{{ours, ours}, {aria2, ours}, {ours, aria2}, {aria2, aria2}}
	var results []result
	for _, sc := range all {
		name := map[side]string{ours: "ours", aria2: "aria2"}
		if only != "" && !strings.Contains(","+only+",", ","+name[sc.seed]+"-"+name[sc.get]+",") {
			continue
		}
		r := result{sc: sc}
		for i := 0; i < runs; i++ {
			dir := filepath.Join(work, fmt.Sprintf("%s-%s-%d", name[sc.seed], name[sc.get], i))
			fmt.Fprintf(os.Stderr, "%s (run %d)… ", sc, i+1)
			el, rss, anon, err := transfer(dir, bin, sc, tor, ti, seedDir, sum, trk, timeout)
			if err != nil {
				r.errs = append(r.errs, fmt.Errorf("run %d: %w", i+1, err))
				fmt.Fprintf(os.Stderr, "FAILED: %v\n", err)
				continue
			}
			fmt.Fprintf(os.Stderr, "%.1f s, %.1f MiB/s, peak RSS %.0f MiB (anon %.0f MiB)\n",
				el.Seconds(), mibps(size, el), float64(rss)/(1<<20), float64(anon)/(1<<20))
			r.elapsed = append(r.elapsed, el)
			r.rss = append(r.rss, rss)
			r.anon = append(r.anon, anon)
			if !keep {
				os.RemoveAll(dir)
			}
		}
		results = append(results, r)
	}
	printTable(results, size, pieceLen, runs)
	failed := false
	for _, r := range results {
		for _, err := range r.errs {
			fmt.Printf("\n%s failed, %v\n", r.sc, err)
			failed = true
		}
	}
	if failed {
		return fmt.Errorf("some transfers failed (logs in %s with -keep)", work)
	}
	return nil
}

func mibps(size int64, d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }

// transfer runs one seeder and one downloader and returns the downloader's
// wall time and peak RSS.
func transfer(dir, bin string, sc scenario, tor string, ti interop.TorrentInfo, seedDir, sum string,
	trk *interop.Tracker, timeout time.Duration) (time.Duration, int64, int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, 0, err
	}
	trk.Forget(ti.InfoHash)
	seeder, seedAddr, err := startPeer(dir, bin, sc.seed, "seed", tor, seedDir,
		"--torrent", tor, filepath.Join(seedDir, ti.Name))
	if err != nil {
		return 0, 0, 0, err
	}
	defer seeder.Stop(10 * time.Second)
	if err := interop.WaitHasAll(interop.NewLoopbackIP(), seedAddr, ti.InfoHash, ti.Pieces, 3*time.Minute); err != nil {
		return 0, 0, 0, fmt.Errorf("%w\n%s", err, seeder.Logs(2000))
	}
	trk.AddPeer(ti.InfoHash, seedAddr)

	out := filepath.Join(dir, "out")
	getter, _, err := startPeer(dir, bin, sc.get, "get", tor, out,
		"--peer", seedAddr.String(), "--out", out, tor)
	if err != nil {
		return 0, 0, 0, err
	}
	defer getter.Stop(10 * time.Second)
	anonC := make(chan int64, 1)
	go func() { anonC <- peakAnon(getter) }()
	if err := getter.Wait(timeout); err != nil {
		return 0, 0, 0, fmt.Errorf("downloader: %w\n%s", err, getter.Logs(2000))
	}
	el, rss, anon := getter.Elapsed(), getter.MaxRSS(), <-anonC
	got, err := interop.SHA256File(filepath.Join(out, ti.Name))
	if err != nil {
		return 0, 0, 0, err
	}
	if got != sum {
		return 0, 0, 0, fmt.Errorf("downloaded payload has sha256 %s, want %s", got, sum)
	}
	return el, rss, anon, nil
}

// startPeer starts side s in role ("seed" or "get") of the torrent tor
// with its data in data, on a fresh loopback address it returns: ours
// with ourArgs after --listen, aria2 as a seeder or a leecher.
func startPeer(dir, bin string, s side, role, tor, data string, extra ...string) (*interop.Proc, netip.AddrPort, error) {
	label := s.String() + "-" + role
	if s == aria2 {
		a, err := interop.StartAria2(dir, label, interop.NewLoopbackIP(), tor, data, role == "seed")
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		return a.Proc, a.Addr, nil
	}
	listen, err := interop.FreeAddr(interop.NewLoopbackIP())
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	args, err := ourArgs(dir, role, listen)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	args = append(append(args, "--listen", listen.String()), extra...)
	p, err := interop.StartProc(dir, label, bin, args...)
	return p, listen, err
}

// peakAnon polls the process's anonymous resident memory (RssAnon in
// /proc/PID/status) until it exits and returns the largest value seen, in
// bytes. Unlike the rusage peak it leaves out file pages the process maps,
// which the kernel can drop at will.
func peakAnon(p *interop.Proc) int64 {
	path := fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid)
	var peak int64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
					peak = max(peak, kb*1024)
				}
			}
		}
		select {
		case <-p.Done():
			return peak
		case <-t.C:
		}
	}
}

// ourArgs writes a config for one of our peers and returns the global
// flags and verb.
func ourArgs(dir, verb string, listen netip.AddrPort) ([]string, error) {
	cfg := filepath.Join(dir, "ours-"+verb+".toml")
	if err := os.WriteFile(cfg, []byte(interop.OurConfig(listen)), 0o644); err != nil {
		return nil, fmt.Errorf("cannot write config: %w", err)
	}
	data := filepath.Join(dir, "ours-"+verb+".data")
	return []string{"--data-dir", data, "--config", cfg, verb}, nil
}

func printTable(results []result, size, pieceLen int64, runs int) {
	var base time.Duration
	for _, r := range results {
		if r.sc == (scenario{aria2, aria2}) && len(r.elapsed) > 0 {
			base = best(r.elapsed)
		}
	}
	fmt.Printf("\n%d MiB single-file torrent, %d KiB pieces, loopback TCP, best of %d run(s)\n\n",
		size>>20, pieceLen>>10, runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "seed → get\twall s\tMiB/s\tvs aria2→aria2\tpeak RSS MiB\tpeak anon RSS MiB\tfailed runs\t")
	for _, r := range results {
		if len(r.elapsed) == 0 {
			fmt.Fprintf(tw, "%s\t—\t—\t—\t—\t—\t%d/%d\t\n", r.sc, len(r.errs), runs)
			continue
		}
		el := best(r.elapsed)
		ratio := "—"
		if base > 0 {
			ratio = fmt.Sprintf("%.2f×", base.Seconds()/el.Seconds())
		}
		var rss, anon int64
		for i := range r.rss {
			rss, anon = max(rss, r.rss[i]), max(anon, r.anon[i])
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%.0f\t%.0f\t%d/%d\t\n", r.sc, el.Seconds(), mibps(size, el), ratio,
			float64(rss)/(1<<20), float64(anon)/(1<<20), len(r.errs), runs)
	}
	tw.Flush()
}

func best(ds []time.Duration) time.Duration {
	b := ds[0]
	for _, d := range ds[1:] {
		b = min(b, d)
	}
	return b
}
