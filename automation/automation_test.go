package automation

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bidtorrent/bidtorrent/core"
)

func TestMain(m *testing.M) {
	if os.Getenv("BIDTORRENT_TEST_HOOK") != "" {
		hookProcess()
		return
	}
	goleak.VerifyTestMain(m)
}

// hookProcess is the on-complete hook the tests run: the test binary
// itself, re-executed. It records its BIDTORRENT_* environment.
func hookProcess() {
	if os.Getenv("BIDTORRENT_TEST_HOOK") == "sleep" {
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	var b strings.Builder
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BIDTORRENT_") && !strings.HasPrefix(kv, "BIDTORRENT_TEST_") {
			b.WriteString(kv + "\n")
		}
	}
	if err := os.WriteFile(os.Getenv("BIDTORRENT_TEST_HOOK_OUT"), []byte(b.String()), 0o600); err != nil {
		os.Exit(3)
	}
	fmt.Println("hook says hello")
	os.Exit(0)
}

// fakeEngine records commands; its function fields override behaviour.
type fakeEngine struct {
	mu    sync.Mutex
	calls []string
	snapC chan core.Snapshot

	addFn func(core.AddSpec) (core.InfoHash, error)
}

func newFake() *fakeEngine { return &fakeEngine{snapC: make(chan core.Snapshot, 1)} }

func (f *fakeEngine) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeEngine) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeEngine) Subscribe() (<-chan core.Snapshot, func()) { return f.snapC, func() {} }

func (f *fakeEngine) Add(ctx context.Context, spec core.AddSpec) (core.InfoHash, error) {
	f.record("add " + spec.Source + " " + strings.Join(spec.Labels, ","))
	if f.addFn != nil {
		return f.addFn(spec)
	}
	return core.InfoHash{}, nil
}

func (f *fakeEngine) Pause(ctx context.Context, ih core.InfoHash) error {
	f.record("pause " + name(ih))
	return nil
}

func (f *fakeEngine) Resume(ctx context.Context, ih core.InfoHash) error {
	f.record("resume " + name(ih))
	return nil
}

func (f *fakeEngine) SetLimits(ctx context.Context, ih core.InfoHash, l core.Limits) error {
	f.record(fmt.Sprintf("limits %s %d %d", name(ih), l.Down, l.Up))
	return nil
}

// moverEngine adds the Move command.
type moverEngine struct{ *fakeEngine }

func (m moverEngine) Move(ctx context.Context, ih core.InfoHash, dir string) error {
	m.record("move " + name(ih) + " " + dir)
	return nil
}

// hash returns the infohash whose first byte is n; name turns it back
// into "tN" for readable call logs.
func hash(n byte) core.InfoHash { return core.InfoHash{n} }

func name(ih core.InfoHash) string {
	if ih == (core.InfoHash{}) {
		return "global"
	}
	return fmt.Sprintf("t%d", ih[0])
}

func tor(n byte, st core.State, size, done int64) core.Torrent {
	return core.Torrent{InfoHash: hash(n), Name: fmt.Sprintf("t%d", n), State: st, Size: size, Done: done, DataDir: "/data"}
}

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time              { return c.t }
func (c *clock) add(d time.Duration)         { c.t = c.t.Add(d) }
func newClock() *clock                       { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.Local)} }
func snap(ts ...core.Torrent) *core.Snapshot { return &core.Snapshot{Torrents: ts} }

func newAuto(t *testing.T, cfg Config, eng Engine, c *clock, stateFile string) (*Automation, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	a, err := New(cfg, eng, Options{StateFile: stateFile, Now: c.now, Logger: slog.New(slog.NewTextHandler(lb, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a, lb
}

func wantCalls(t *testing.T, f *fakeEngine, want ...string) {
	t.Helper()
	got := f.takeCalls()
	if !slices.Equal(got, want) {
		t.Fatalf("engine calls = %q, want %q", got, want)
	}
}

func TestQueueDownloads(t *testing.T) {
	f, c := newFake(), newClock()
	cfg := DefaultConfig()
	cfg.MaxActiveDownloads = 2
	state := filepath.Join(t.TempDir(), "automation.json")
	a, _ := newAuto(t, cfg, f, c, state)
	ctx := context.Background()
	const S = 100

	// Four downloading: the last two added are queued.
	a.step(ctx, snap(tor(1, core.StateDownloading, S, 0), tor(2, core.StateDownloading, S, 0),
		tor(3, core.StateDownloading, S, 0), tor(4, core.StateDownloading, S, 0)), c.now())
	wantCalls(t, f, "pause t3", "pause t4")

	// The engine has paused them; a user-paused t5 is not ours to resume.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StateDownloading, S, 50), tor(2, core.StateDownloading, S, 0),
		tor(3, core.StatePaused, S, 0), tor(4, core.StatePaused, S, 0), tor(5, core.StatePaused, S, 0)), c.now())
	wantCalls(t, f)

	// t1 completes: one slot frees, the first queued (t3) resumes.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StateDownloading, S, 0),
		tor(3, core.StatePaused, S, 0), tor(4, core.StatePaused, S, 0), tor(5, core.StatePaused, S, 0)), c.now())
	wantCalls(t, f, "resume t3")

	// While the engine has not caught up, t3 counts as running: no resume of t4.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StateDownloading, S, 0),
		tor(3, core.StatePaused, S, 0), tor(4, core.StatePaused, S, 0), tor(5, core.StatePaused, S, 0)), c.now())
	wantCalls(t, f)

	// The user pauses t2: t4 gets its slot.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StatePaused, S, 0),
		tor(3, core.StateDownloading, S, 0), tor(4, core.StatePaused, S, 0), tor(5, core.StatePaused, S, 0)), c.now())
	wantCalls(t, f, "resume t4")

	// A restart with the cap raised to none resumes what the queue paused
	// (read back from the state file), and nothing else.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StatePaused, S, 0),
		tor(3, core.StateDownloading, S, 0), tor(4, core.StateDownloading, S, 0), tor(5, core.StatePaused, S, 0),
		tor(6, core.StateDownloading, S, 0)), c.now())
	wantCalls(t, f, "pause t6")
	if err := a.save(true); err != nil {
		t.Fatal(err)
	}
	cfg.MaxActiveDownloads = 0
	b, _ := newAuto(t, cfg, f, c, state)
	b.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StatePaused, S, 0),
		tor(3, core.StateDownloading, S, 0), tor(4, core.StateDownloading, S, 0), tor(5, core.StatePaused, S, 0),
		tor(6, core.StatePaused, S, 0)), c.now())
	wantCalls(t, f, "resume t6")
}

func TestQueueSeedsAndForcedStart(t *testing.T) {
	f, c := newFake(), newClock()
	cfg := DefaultConfig()
	cfg.MaxActiveSeeds = 1
	a, _ := newAuto(t, cfg, f, c, "")
	ctx := context.Background()
	const S = 10
	a.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StateSeeding, S, S), tor(3, core.StateDownloading, S, 1)), c.now())
	wantCalls(t, f, "pause t2")
	c.add(20 * time.Second) // past the pending window
	a.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StatePaused, S, S), tor(3, core.StateDownloading, S, 1)), c.now())
	wantCalls(t, f)
	// The user starts t2 by hand: it keeps running, over the cap.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StateSeeding, S, S), tor(2, core.StateSeeding, S, S), tor(3, core.StateDownloading, S, 1)), c.now())
	wantCalls(t, f)
	// t1 stops by hand; t2 (forced) still holds the one slot.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StatePaused, S, S), tor(2, core.StateSeeding, S, S), tor(3, core.StateDownloading, S, 1)), c.now())
	wantCalls(t, f)
	// t3 completes: two seeds running with a cap of one; the forced one stays, t3 waits.
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StatePaused, S, S), tor(2, core.StateSeeding, S, S), tor(3, core.StateSeeding, S, S)), c.now())
	wantCalls(t, f, "pause t3")
}

func TestRatioAndSeedTimeLimits(t *testing.T) {
	f, c := newFake(), newClock()
	cfg := DefaultConfig()
	cfg.RatioLimit = 2
	cfg.SeedTimeLimit = time.Hour
	a, lb := newAuto(t, cfg, f, c, "")
	ctx := context.Background()
	const S = 1000
	up := func(n byte, st core.State, uploaded int64) core.Torrent {
		t := tor(n, st, S, S)
		t.Uploaded = uploaded
		return t
	}
	a.step(ctx, snap(up(1, core.StateSeeding, 1999), up(2, core.StateSeeding, 2000)), c.now())
	wantCalls(t, f, "pause t2")
	if !strings.Contains(lb.String(), "ratio 2.00 reached ratio_limit 2") {
		t.Fatalf("log does not say why t2 was paused:\n%s", lb)
	}
	// Seeding time accrues only while seeding: 59 minutes, then the 60th.
	for range 59 {
		c.add(time.Minute)
		a.step(ctx, snap(up(1, core.StateSeeding, 1999), up(2, core.StatePaused, 2000)), c.now())
	}
	wantCalls(t, f)
	c.add(time.Minute)
	a.step(ctx, snap(up(1, core.StateSeeding, 1999), up(2, core.StatePaused, 2000)), c.now())
	wantCalls(t, f, "pause t1")
	// The user resumes t2 after its limit: it is not paused again.
	c.add(time.Minute)
	a.step(ctx, snap(up(1, core.StatePaused, 1999), up(2, core.StateSeeding, 3000)), c.now())
	c.add(time.Minute)
	a.step(ctx, snap(up(1, core.StatePaused, 1999), up(2, core.StateSeeding, 4000)), c.now())
	wantCalls(t, f)
}

func TestHookAndMove(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hook.env")
	t.Setenv("BIDTORRENT_TEST_HOOK", "env")
	t.Setenv("BIDTORRENT_TEST_HOOK_OUT", out)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, c := newFake(), newClock()
	eng := moverEngine{f}
	cfg := DefaultConfig()
	cfg.OnComplete = []string{exe}
	cfg.MoveCompletedTo = "/done"
	a, lb := newAuto(t, cfg, eng, c, "")
	ctx := context.Background()

	// Seen complete from the start (existing data): no hook.
	a.step(ctx, snap(tor(9, core.StateSeeding, 10, 10)), c.now())
	a.Wait()
	if _, err := os.Stat(out); err == nil {
		t.Fatal("hook ran for a torrent that was complete when first seen")
	}
	dl := tor(1, core.StateDownloading, 4096, 100)
	dl.Name, dl.Labels = "debian.iso", []string{"linux", "iso"}
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(9, core.StateSeeding, 10, 10), dl), c.now())
	dl.State, dl.Done = core.StateSeeding, 4096
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(9, core.StateSeeding, 10, 10), dl), c.now())
	a.Wait()
	wantCalls(t, f, "move t1 /done")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("hook did not run: %v\n%s", err, lb)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(got)
	want := []string{
		"BIDTORRENT_DIR=/done",
		"BIDTORRENT_INFOHASH=0100000000000000000000000000000000000000",
		"BIDTORRENT_LABELS=linux,iso",
		"BIDTORRENT_NAME=debian.iso",
		"BIDTORRENT_PATH=" + filepath.Join("/done", "debian.iso"),
		"BIDTORRENT_SIZE=4096",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("hook environment\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(lb.String(), "hook says hello") {
		t.Fatalf("hook output not logged:\n%s", lb)
	}
	// Seen complete again (another snapshot): the hook does not run twice.
	os.Remove(out)
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(9, core.StateSeeding, 10, 10), dl), c.now())
	a.Wait()
	if _, err := os.Stat(out); err == nil {
		t.Fatal("hook ran twice")
	}
}

func TestHookTimeoutAndNoMover(t *testing.T) {
	t.Setenv("BIDTORRENT_TEST_HOOK", "sleep")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, c := newFake(), newClock()
	cfg := DefaultConfig()
	cfg.OnComplete = []string{exe}
	cfg.HookTimeout = 100 * time.Millisecond
	cfg.MoveCompletedTo = "/done"
	a, lb := newAuto(t, cfg, f, c, "")
	ctx := context.Background()
	a.step(ctx, snap(tor(1, core.StateDownloading, 10, 0)), c.now())
	c.add(2 * time.Second)
	a.step(ctx, snap(tor(1, core.StateSeeding, 10, 10)), c.now())
	a.Wait()
	log := lb.String()
	if !strings.Contains(log, "on-complete hook killed after hook_timeout") {
		t.Fatalf("timeout not logged:\n%s", log)
	}
	if !strings.Contains(log, errNoMover.Error()) {
		t.Fatalf("missing Move command not logged:\n%s", log)
	}
}

func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(t.TempDir(), "done")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.torrent", "d4:infod...ee")
	write("bad.torrent", "not bencode")
	write("x.magnet", "# a comment\nmagnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567\n")
	write("y.magnet", "http://example.invalid/not-a-magnet\n")
	write("notes.txt", "ignore me")
	write("good.torrent.added", "an earlier file of the same name")

	f, c := newFake(), newClock()
	f.addFn = func(spec core.AddSpec) (core.InfoHash, error) {
		if strings.HasPrefix(spec.Source, "magnet:") {
			return hash(2), nil
		}
		b, err := os.ReadFile(spec.Source)
		if err != nil || !bytes.HasPrefix(b, []byte("d")) {
			return core.InfoHash{}, &core.InputError{What: "torrent file", Value: spec.Source, Reason: "not bencoded"}
		}
		return hash(1), nil
	}
	cfg := DefaultConfig()
	cfg.WatchDir = dir
	cfg.WatchLabels = []string{"watched"}
	c.t = time.Now().Add(time.Hour) // every file is old enough to read
	a, lb := newAuto(t, cfg, f, c, "")
	a.scanWatch(context.Background())

	calls := f.takeCalls()
	slices.Sort(calls)
	want := []string{
		"add " + filepath.Join(dir, "bad.torrent") + " watched",
		"add " + good + " watched",
		"add magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567 watched",
	}
	if !slices.Equal(calls, want) {
		t.Fatalf("adds\n got %q\nwant %q", calls, want)
	}
	wantFiles(t, dir, "bad.torrent.invalid", "good.torrent.added", "good.torrent.added.1",
		"notes.txt", "x.magnet.added", "y.magnet.invalid")
	if !strings.Contains(lb.String(), "not bencoded") || !strings.Contains(lb.String(), "not a magnet URI") {
		t.Fatalf("errors not logged:\n%s", lb)
	}

	// A file just written is read at the second scan that sees it unchanged;
	// with watch_done_dir, files are moved there.
	cfg.WatchDoneDir = done
	c2 := &clock{t: time.Now().Add(-time.Hour)} // every file looks fresh
	b, _ := newAuto(t, cfg, f, c2, "")
	fresh := write("fresh.torrent", "d...e")
	b.scanWatch(context.Background())
	wantCalls(t, f)
	b.scanWatch(context.Background())
	wantCalls(t, f, "add "+fresh+" watched")
	wantFiles(t, done, "fresh.torrent.added")
}

func wantFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files in %s\n got %q\nwant %q", dir, got, want)
	}
}

func TestRunWatchesAndStops(t *testing.T) {
	dir := t.TempDir()
	f := newFake()
	f.addFn = func(core.AddSpec) (core.InfoHash, error) { return hash(7), nil }
	cfg := DefaultConfig()
	cfg.WatchDir = dir
	cfg.WatchInterval = 20 * time.Millisecond
	state := filepath.Join(t.TempDir(), "automation.json")
	a, err := New(cfg, f, Options{StateFile: state, Logger: slog.New(slog.NewTextHandler(&logBuf{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errC := make(chan error, 1)
	go func() { errC <- a.Run(ctx) }()
	p := filepath.Join(dir, "drop.torrent")
	if err := os.WriteFile(p, []byte("d...e"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.snapC <- core.Snapshot{Torrents: []core.Torrent{tor(7, core.StateDownloading, 10, 0)}}
	for i := 0; ; i++ {
		if _, err := os.Stat(p + ".added"); err == nil {
			break
		}
		if i > 500 {
			t.Fatal("the watched file was never added")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errC; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state not saved on stop: %v", err)
	}
}

func TestAltSpeed(t *testing.T) {
	f, c := newFake(), newClock() // Monday 2026-11-23 12:00
	cfg := DefaultConfig()
	cfg.AltSpeed = &AltSpeed{Down: 1 << 20, Up: 256 << 10, From: "08:00", To: "18:00", Days: "mon-fri"}
	state := filepath.Join(t.TempDir(), "a.json")
	a, _ := newAuto(t, cfg, f, c, state)
	ctx := context.Background()
	s := snap()
	s.Limits = core.Limits{Down: 5 << 20, Up: 0}
	a.step(ctx, s, c.now())
	wantCalls(t, f, "limits global 1048576 262144")
	s.Limits = core.Limits{Down: 1 << 20, Up: 256 << 10}
	c.add(time.Hour)
	a.step(ctx, s, c.now())
	wantCalls(t, f)
	// Restarted inside the window: still on, nothing sent.
	b, _ := newAuto(t, cfg, f, c, state)
	b.step(ctx, s, c.now())
	wantCalls(t, f)
	// 18:00: the limits from before the window come back.
	c.add(5 * time.Hour)
	b.step(ctx, s, c.now())
	wantCalls(t, f, "limits global 5242880 0")
}

func TestSchedule(t *testing.T) {
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.Local) // a Monday
	at := func(day int, hhmm string) time.Time {
		d, err := parseClock(hhmm)
		if err != nil {
			t.Fatal(err)
		}
		return mon.AddDate(0, 0, day).Add(d)
	}
	tests := []struct {
		from, to, days string
		when           time.Time
		want           bool
	}{
		{"08:00", "18:00", "mon-fri", at(0, "08:00"), true},
		{"08:00", "18:00", "mon-fri", at(0, "07:59"), false},
		{"08:00", "18:00", "mon-fri", at(0, "18:00"), false},
		{"08:00", "18:00", "mon-fri", at(4, "12:00"), true},
		{"08:00", "18:00", "mon-fri", at(5, "12:00"), false},
		{"22:00", "06:00", "fri", at(4, "23:00"), true},
		{"22:00", "06:00", "fri", at(5, "05:59"), true},
		{"22:00", "06:00", "fri", at(5, "06:00"), false},
		{"22:00", "06:00", "fri", at(3, "23:00"), false},
		{"22:00", "06:00", "fri-mon", at(0, "01:00"), true},
		{"00:00", "00:00", "sat,sun", at(6, "13:00"), true},
		{"00:00", "00:00", "sat,sun", at(0, "00:00"), false},
		{"09:00", "10:00", "", at(2, "09:30"), true},
		{"09:00", "10:00", "mon,wed-thu", at(1, "09:30"), false},
		{"09:00", "10:00", "mon,wed-thu", at(3, "09:30"), true},
	}
	for _, tt := range tests {
		a := AltSpeed{From: tt.from, To: tt.to, Days: tt.days}
		s, err := a.schedule()
		if err != nil {
			t.Fatal(err)
		}
		if got := s.active(tt.when); got != tt.want {
			t.Errorf("%s-%s %q at %s: active = %v, want %v", tt.from, tt.to, tt.days, tt.when.Format("Mon 15:04"), got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.MaxActiveDownloads = -1 }, "max_active_downloads"},
		{func(c *Config) { c.RatioLimit = -1 }, "ratio_limit"},
		{func(c *Config) { c.OnComplete = []string{""} }, "on_complete"},
		{func(c *Config) { c.AltSpeed = &AltSpeed{From: "8", To: "18:00"} }, "alt_speed: from"},
		{func(c *Config) { c.AltSpeed = &AltSpeed{From: "08:00", To: "24:00"} }, "alt_speed: to"},
		{func(c *Config) { c.AltSpeed = &AltSpeed{From: "08:00", To: "18:00", Days: "mon-fry"} }, "alt_speed: days"},
		{func(c *Config) { c.WatchDir, c.WatchInterval = "/w", 0 }, "watch_interval"},
	}
	for _, tt := range bad {
		c := DefaultConfig()
		tt.mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error starting %q", err, tt.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestWatchDirUnchangedNotRead: once every file of the watch dir is
// handled, the dir is read again only when its mtime moves, or while that
// mtime is within settle of now (a file created in the same timestamp tick
// as the last read would not move it).
func TestWatchDirUnchangedNotRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("d...e"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f, c := newFake(), newClock()
	f.addFn = func(core.AddSpec) (core.InfoHash, error) { return hash(1), nil }
	cfg := DefaultConfig()
	cfg.WatchDir = dir
	c.t = time.Now().Add(time.Hour) // files and the dir's mtime are old
	a, _ := newAuto(t, cfg, f, c, "")
	first := write("a.torrent")
	a.scanWatch(context.Background())
	wantCalls(t, f, "add "+first+" ")
	a.scanWatch(context.Background()) // forgets a.torrent, renamed aside
	a.scanWatch(context.Background()) // nothing pending: remembers the mtime

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	mod := fi.ModTime()
	sneaked := write("b.torrent")
	old := mod.Add(-time.Minute) // finished writing long ago
	if err := os.Chtimes(sneaked, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, mod, mod); err != nil {
		t.Fatal(err)
	}
	a.scanWatch(context.Background())
	wantCalls(t, f) // mtime unchanged and old: not read

	c.t = mod.Add(settle / 2) // the same mtime, but recent: read
	a.scanWatch(context.Background())
	wantCalls(t, f, "add "+sneaked+" ")

	c.t = time.Now().Add(time.Hour)
	a.scanWatch(context.Background())
	a.scanWatch(context.Background())
	third := write("c.torrent")
	// The dir's mtime moves (set explicitly: the write may fall within
	// the timestamp tick of the last rename).
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(dir, later, later); err != nil {
		t.Fatal(err)
	}
	a.scanWatch(context.Background())
	wantCalls(t, f, "add "+third+" ")
}
