//go:build linux

// Command seedbox benchmarks an idle seedbox: N small private torrents
// (DHT, PEX, LSD and uTP off, no trackers) seeded by bidtorrent's daemon
// and by transmission-daemon on the same machine in the same run, and
// prints a table:
//
//	go run ./bench/seedbox [-n 1000,5000,10000] [-idle 60s] [-tr-max 5000]
//
// For each N and client, from one set of data files and .torrents:
//
//   - add + verify: the .torrents are renamed into the client's watch
//     directory with the client idle; the time until every torrent seeds
//     (bidtorrent: `list --json` over SSH shows every state "seeding";
//     transmission: RPC torrent-get shows every status 6, seeding).
//   - idle CPU: the client's utime+stime from /proc/PID/stat over -idle
//     once everything seeds (after a 5 s settle), as % of one core.
//   - RSS: VmRSS from /proc/PID/status at the end of the idle window.
//   - list: the median wall time of -lists runs of `ssh HOST list --json`
//     (bidtorrent) and `transmission-remote HOST -l` (transmission), each a
//     new process, as a user would run them.
//   - -memory-limit sets our daemon's [daemon] memory_limit.
//   - with -profile, our daemon serves pprof on loopback and its heap
//     profile (heap.pprof, and heap.txt with runtime.MemStats) and
//     goroutines (goroutine.txt) are saved in its work dir at the end of
//     the idle window: go tool pprof -sample_index=inuse_space heap.pprof.
//   - TUI key (bidtorrent only): a TUI attached over SSH on a 200×50
//     pseudo-terminal; j and k pressed 20 times, each timed from writing
//     the key to the last byte of the frame it causes: median / slowest.
//   - restart: SIGTERM, wait for the exit, start again; the time from the
//     start until every torrent seeds again. RSS after restart is read
//     30 s after that (the state a seedbox lives in for months: no adds
//     since its start).
//
// Everything runs on loopback. The machine's load average is printed with
// each row: other work on the machine inflates the CPU figures. -tr-max
// skips transmission above that N (it verifies one torrent at a time; 5,000
// took 546 s). Nothing here is run by CI.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/interop"
)

type options struct {
	parkAfter time.Duration // our park_after
	idle      time.Duration
	lists     int
	trMax     int
	only      string
	bin       string
	timeout   time.Duration
	size      int64
	piece     int64
	work      string
	maxN      int
	profile   bool
	memLimit  string
	trExtras  map[string]any
}

// result is one row of the table.
type result struct {
	client     string
	n          int
	addVerify  time.Duration
	idleCPU    float64 // % of one core
	rss        int64
	rssActive  int64         // RSS once all are verified, before any parks (ours only)
	park       time.Duration // from all verified to all parked (ours only)
	list       time.Duration
	tuiMedian  time.Duration // keystroke to frame over SSH (ours only)
	tuiWorst   time.Duration
	restart    time.Duration
	rssRestart int64  // RSS 30 s after the restart completed
	load       string // load average during the idle window
	err        error
}

func main() {
	ns := flag.String("n", "1000,5000,10000", "comma-separated torrent counts")
	idle := flag.Duration("idle", 60*time.Second, "idle window for the CPU figure")
	lists := flag.Int("lists", 5, "list runs for the median")
	trMax := flag.Int("tr-max", 5000, "run transmission only up to this N (0: never)")
	only := flag.String("only", "", "run one client only: ours or transmission")
	bin := flag.String("bin", "", "bidtorrent binary (default: go build the module)")
	size := flag.String("size", "64KiB", "payload of each torrent")
	piece := flag.String("piece", "16KiB", "piece length")
	work := flag.String("work", "", "work dir, kept (default: a temporary dir, removed)")
	timeout := flag.Duration("timeout", 30*time.Minute, "limit for each add + verify and restart")
	profile := flag.Bool("profile", false, "run our daemon with pprof_listen and save its heap profile (with MemStats) and goroutines at the end of the idle window into its work dir (-work keeps them)")
	memLimit := flag.String("memory-limit", "", "our daemon's [daemon] memory_limit (default: none); the client column names it")
	parkAfter := flag.Duration("park-after", 2*time.Minute, "our daemon's park_after (the default, 2m; 0s never parks): the idle window starts once all are parked")
	flag.Parse()
	o := options{parkAfter: *parkAfter, memLimit: *memLimit, idle: *idle, lists: *lists, trMax: *trMax, only: *only, bin: *bin, timeout: *timeout, work: *work, profile: *profile}
	var counts []int
	for _, s := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-n: bad count %q", s))
		}
		counts = append(counts, n)
		o.maxN = max(o.maxN, n)
	}
	var err error
	if o.size, err = bytesize.Parse(*size); err != nil {
		fail(fmt.Errorf("-size: %w", err))
	}
	if o.piece, err = bytesize.Parse(*piece); err != nil {
		fail(fmt.Errorf("-piece: %w", err))
	}
	if err := run(o, counts); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "seedbox:", err)
	os.Exit(1)
}

func run(o options, counts []int) error {
	if o.only != "" && o.only != "ours" && o.only != "transmission" {
		return fmt.Errorf("-only: want ours or transmission, got %q", o.only)
	}
	need := []string{"ssh", "ssh-keygen"}
	if o.only != "ours" && o.trMax > 0 {
		need = append(need, "transmission-daemon", "transmission-remote")
	}
	if err := interop.Need(need...); err != nil {
		return err
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "bench-seedbox-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	} else if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	defer interop.StopAll()
	if o.bin == "" && o.only != "transmission" {
		o.bin = filepath.Join(o.work, "bidtorrent")
		fmt.Fprintln(os.Stderr, "building bidtorrent…")
		if out, err := exec.Command("go", "build", "-o", o.bin, "github.com/bidtorrent/bidtorrent").CombinedOutput(); err != nil {
			return fmt.Errorf("cannot build bidtorrent: %w\n%s", err, out)
		}
	}
	fmt.Fprintf(os.Stderr, "making %d torrents of %s…\n", o.maxN, bytesize.Format(o.size))
	set, err := makeTorrents(filepath.Join(o.work, "set"), o.maxN, o.size, o.piece)
	if err != nil {
		return err
	}
	var rows []result
	for _, n := range counts {
		if o.only != "transmission" {
			fmt.Fprintf(os.Stderr, "bidtorrent, %d torrents…\n", n)
			r := benchOurs(o, set, n)
			report(r)
			rows = append(rows, r)
		}
		if o.only != "ours" && n <= o.trMax {
			fmt.Fprintf(os.Stderr, "transmission, %d torrents…\n", n)
			r := benchTransmission(o, set, n)
			report(r)
			rows = append(rows, r)
		}
	}
	fmt.Printf("\n%d × %s private torrents (%s pieces), loopback, %d cores, idle window %v\n\n",
		o.maxN, bytesize.Format(o.size), bytesize.Format(o.piece), numCPU(), o.idle)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "client\tN\tadd + verify all\tRSS then\tall parked after\tidle CPU, % of one core\tRSS\tlist (median)\tTUI key (median / max)\trestart to all seeding\tRSS after restart\tload avg (idle)\t")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%d\tfailed: %v\t\t\t\t\t\t\t\t\t\t\n", r.client, r.n, r.err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.1f %%\t%.0f MiB\t%s\t%s\t%s\t%.0f MiB\t%s\t\n", r.client, r.n, secs(r.addVerify),
			mib(r.rssActive), parkCell(r), r.idleCPU,
			float64(r.rss)/(1<<20), secs(r.list), tuiCell(r), secs(r.restart), float64(r.rssRestart)/(1<<20), r.load)
	}
	return tw.Flush()
}

func report(r result) {
	if r.err != nil {
		fmt.Fprintf(os.Stderr, "  %s %d failed: %v\n", r.client, r.n, r.err)
		return
	}
	fmt.Fprintf(os.Stderr, "  add+verify %s (RSS %s), all parked after %s, idle CPU %.1f %%, RSS %.0f MiB, list %s, TUI key %s, restart %s, RSS after restart %.0f MiB, load %s\n",
		secs(r.addVerify), mib(r.rssActive), parkCell(r), r.idleCPU, float64(r.rss)/(1<<20), secs(r.list), tuiCell(r), secs(r.restart), float64(r.rssRestart)/(1<<20), r.load)
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func parkCell(r result) string {
	if r.park == 0 {
		return "-"
	}
	return secs(r.park)
}

func tuiCell(r result) string {
	if r.tuiMedian == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f / %.0f ms", float64(r.tuiMedian)/1e6, float64(r.tuiWorst)/1e6)
}

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f s", d.Seconds())
}

// waitAll polls count (the torrents seeding, of the total seen) every
// interval until n seed.
func waitAll(n int, timeout time.Duration, count func() (seeding int, err error), exited func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	last := -1
	var lastErr error
	for time.Now().Before(deadline) {
		if done, err := exited(); done {
			return fmt.Errorf("the client exited: %v", err)
		}
		s, err := count()
		if err == nil && s >= n {
			return nil
		}
		last, lastErr = s, err
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("%d of %d seeding after %v (last error: %v)", last, n, timeout, lastErr)
}

// median times fn runs times and returns the median.
func median(runs int, fn func() error) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], nil
}

// dropInto renames the first n .torrents of set into watch, from a staging
// dir on the same file system, so the client sees them at once.
func dropInto(set *torrentSet, n int, watch string) error {
	from, to := 0, n
	stage := watch + ".stage"
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	for i := from; i < to; i++ {
		if err := os.WriteFile(filepath.Join(stage, set.names[i]+".torrent"), set.metas[i], 0o644); err != nil {
			return err
		}
	}
	for i := from; i < to; i++ {
		name := set.names[i] + ".torrent"
		if err := os.Rename(filepath.Join(stage, name), filepath.Join(watch, name)); err != nil {
			return err
		}
	}
	return os.Remove(stage)
}
