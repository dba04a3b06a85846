package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/sshtest"
	"github.com/bidtorrent/bidtorrent/tui"
	"github.com/bidtorrent/bidtorrent/wallet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeEngine implements tui.Engine (and so Engine) with function fields;
// nil fields succeed and do nothing. Snapshots go to every subscriber,
// latest value wins.
type fakeEngine struct {
	AddFn    func(core.AddSpec) (core.InfoHash, error)
	RemoveFn func(core.InfoHash, bool) error
	PauseFn  func(core.InfoHash) error
	ResumeFn func(core.InfoHash) error
	TipFn    func(ctx context.Context, ih core.InfoHash, to string, amount wallet.Amount, memo string) error
	BuyFn    func(ctx context.Context, ih core.InfoHash, maxPrice wallet.Amount) error
	PledgeFn func(ctx context.Context, ih core.InfoHash, amount wallet.Amount) error

	mu   sync.Mutex
	last *core.Snapshot
	subs map[int]chan core.Snapshot
	next int
}

func (f *fakeEngine) publish(s core.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = &s
	for _, ch := range f.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

func (f *fakeEngine) Subscribe() (<-chan core.Snapshot, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[int]chan core.Snapshot{}
	}
	ch := make(chan core.Snapshot, 1)
	if f.last != nil {
		ch <- *f.last
	}
	id := f.next
	f.next++
	f.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			delete(f.subs, id)
		})
	}
}

func (f *fakeEngine) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *fakeEngine) Add(ctx context.Context, spec core.AddSpec) (core.InfoHash, error) {
	if f.AddFn != nil {
		return f.AddFn(spec)
	}
	return core.InfoHash{}, nil
}

func (f *fakeEngine) Remove(ctx context.Context, ih core.InfoHash, del bool) error {
	if f.RemoveFn != nil {
		return f.RemoveFn(ih, del)
	}
	return nil
}

func (f *fakeEngine) Pause(ctx context.Context, ih core.InfoHash) error {
	if f.PauseFn != nil {
		return f.PauseFn(ih)
	}
	return nil
}

func (f *fakeEngine) Resume(ctx context.Context, ih core.InfoHash) error {
	if f.ResumeFn != nil {
		return f.ResumeFn(ih)
	}
	return nil
}

func (f *fakeEngine) Recheck(context.Context, core.InfoHash) error         { return nil }
func (f *fakeEngine) AddPeer(context.Context, core.InfoHash, string) error { return nil }
func (f *fakeEngine) SetFilePriority(context.Context, core.InfoHash, int, core.Priority) error {
	return nil
}
func (f *fakeEngine) SetSequential(context.Context, core.InfoHash, bool) error    { return nil }
func (f *fakeEngine) SetLimits(context.Context, core.InfoHash, core.Limits) error { return nil }
func (f *fakeEngine) SetLabels(context.Context, core.InfoHash, []string) error    { return nil }
func (f *fakeEngine) SetMarket(context.Context, core.InfoHash, core.MarketSettings) error {
	return nil
}
func (f *fakeEngine) Settle(context.Context) error { return nil }
func (f *fakeEngine) Tip(ctx context.Context, ih core.InfoHash, to string, amount wallet.Amount, memo string) error {
	if f.TipFn != nil {
		return f.TipFn(ctx, ih, to, amount, memo)
	}
	return nil
}

func (f *fakeEngine) Buy(ctx context.Context, ih core.InfoHash, maxPrice wallet.Amount) error {
	if f.BuyFn != nil {
		return f.BuyFn(ctx, ih, maxPrice)
	}
	return nil
}

func (f *fakeEngine) Pledge(ctx context.Context, ih core.InfoHash, amount wallet.Amount) error {
	if f.PledgeFn != nil {
		return f.PledgeFn(ctx, ih, amount)
	}
	return nil
}

func mustHash(t *testing.T, s string) core.InfoHash {
	t.Helper()
	ih, err := core.ParseInfoHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return ih
}

func tokens18(t *testing.T, s string) wallet.Amount {
	t.Helper()
	a, err := wallet.ParseAmount(s, 18)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testSnapshot has three torrents; two infohashes share the prefix "ab".
func testSnapshot(t *testing.T) core.Snapshot {
	ubuntu := core.Torrent{
		InfoHash: mustHash(t, "ab12000000000000000000000000000000000001"), Name: "ubuntu-24.04.iso",
		State: core.StateSeeding, Size: 4 << 30, Done: 4 << 30, Uploaded: 12 << 30, Ratio: 3,
		UpRate: 2 << 20, PeerCount: 7, Labels: []string{"linux"}, DataDir: "/srv/dl",
	}
	ubuntu.Format = core.FormatHybrid
	copy(ubuntu.InfoHashV2[:], bytes.Repeat([]byte{0xab}, 32))
	ubuntu.Market.Earned = tokens18(t, "1.5")
	ubuntu.Market.Price = tokens18(t, "0.0002")
	debian := core.Torrent{
		InfoHash: mustHash(t, "ab34000000000000000000000000000000000002"), Name: "debian-13.iso",
		State: core.StateDownloading, Size: 1 << 30, Done: 1 << 29, DownRate: 5 << 20, PeerCount: 3,
	}
	buck := core.Torrent{
		InfoHash: mustHash(t, "cd56000000000000000000000000000000000003"), Name: "Big Buck Bunny",
		State: core.StatePaused, Size: 300 << 20, Done: 0,
	}
	s := core.Snapshot{Time: time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC),
		Torrents: []core.Torrent{ubuntu, debian, buck}}
	s.Totals.DownRate, s.Totals.UpRate, s.Totals.Peers = 5<<20, 2<<20, 10
	s.Totals.Earned = tokens18(t, "1.5")
	s.Totals.Spent = tokens18(t, "0.25")
	s.Limits.Down = 10 << 20
	s.Wallet = core.WalletStatus{Address: "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4", Chain: "local", Token: "BTT", Decimals: 18,
		Balance: tokens18(t, "100")}
	return s
}

// env is one daemon serving on loopback with an in-process client key.
type env struct {
	srv      *Server
	eng      *fakeEngine
	addr     string
	metrics  string
	key      gossh.Signer
	dataDir  string
	log      *bytes.Buffer
	cancel   context.CancelFunc
	errC     chan error
	stopOnce sync.Once
}

func newSigner(t *testing.T) gossh.Signer { return sshtest.NewKey(t) }

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, eng *fakeEngine, ui func(*fakeEngine) UI) *env {
	t.Helper()
	e := &env{eng: eng, key: newSigner(t), dataDir: t.TempDir(), errC: make(chan error, 1)}
	keys := "# test keys\n\n" + string(gossh.MarshalAuthorizedKey(e.key.PublicKey()))
	if err := os.WriteFile(filepath.Join(e.dataDir, "authorized_keys"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	opts := Options{DataDir: e.dataDir, Logger: slog.New(slog.NewTextHandler(logs, nil)), Version: "1.2.0-rc 1"}
	if ui != nil {
		opts.UI = ui(eng)
	}
	cfg := DefaultConfig()
	cfg.SSHListen = "127.0.0.1:0"
	srv, err := New(cfg, eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	sshLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr, e.metrics = sshLn.Addr().String(), mLn.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.errC <- srv.Serve(ctx, sshLn, mLn) }()
	t.Cleanup(func() {
		e.stop(t)
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs)
		}
	})
	return e
}

func (e *env) stop(t *testing.T) {
	e.stopOnce.Do(func() {
		e.cancel()
		if err := <-e.errC; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func (e *env) dial(t *testing.T, key gossh.Signer) (*gossh.Client, error) {
	t.Helper()
	return gossh.Dial("tcp", e.addr, &gossh.ClientConfig{
		User:            "alice",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.FixedHostKey(e.srv.HostKey()),
		Timeout:         10 * time.Second,
	})
}

// run runs one remote command and returns its stdout, stderr and exit
// status.
func (e *env) run(t *testing.T, stdin string, cmd string) (string, string, int) {
	t.Helper()
	c, err := e.dial(t, e.key)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	return e.runOnIn(t, c, stdin, cmd)
}

func (e *env) runOn(t *testing.T, c *gossh.Client, cmd string) (string, string, int) {
	t.Helper()
	return e.runOnIn(t, c, "", cmd)
}

func (e *env) runOnIn(t *testing.T, c *gossh.Client, stdin string, cmd string) (string, string, int) {
	t.Helper()
	return sshtest.Run(t, c, stdin, cmd)
}

func TestRemoteCommands(t *testing.T) {
	eng := &fakeEngine{}
	var mu sync.Mutex
	var got []string
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, s)
	}
	taken := func() []string {
		mu.Lock()
		defer mu.Unlock()
		g := got
		got = nil
		return g
	}
	eng.PauseFn = func(ih core.InfoHash) error { note("pause " + ih.String()); return nil }
	eng.ResumeFn = func(ih core.InfoHash) error {
		return errors.New("engine says no")
	}
	eng.RemoveFn = func(ih core.InfoHash, del bool) error { note(fmt.Sprintf("rm %s %v", ih, del)); return nil }
	eng.AddFn = func(spec core.AddSpec) (core.InfoHash, error) {
		src := spec.Source
		if !strings.HasPrefix(src, "magnet:") {
			b, err := os.ReadFile(src) // a temporary file holding stdin
			if err != nil {
				return core.InfoHash{}, err
			}
			src = "file:" + string(b)
		}
		note(fmt.Sprintf("add %s paused=%v labels=%v dir=%s", src, spec.Paused, spec.Labels, spec.DataDir))
		return mustHash(t, "ef00000000000000000000000000000000000009"), nil
	}
	eng.publish(testSnapshot(t))
	e := start(t, eng, nil)

	out, stderr, code := e.run(t, "", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "HASH") ||
		!strings.Contains(lines[1], "ab1200000000") || !strings.Contains(lines[1], "seeding") ||
		!strings.Contains(lines[1], "ubuntu-24.04.iso") || !strings.Contains(lines[2], "50.0%") {
		t.Fatalf("list: code %d, stderr %q, out:\n%s", code, stderr, out)
	}

	out, _, code = e.run(t, "", `list --json state:seeding earned>1`)
	var js []torrentJSON
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 0 {
		t.Fatalf("list --json: %v (code %d)\n%s", err, code, out)
	}
	if len(js) != 1 || js[0].Name != "ubuntu-24.04.iso" || js[0].Market.Earned != "1.5" ||
		js[0].Market.Price != "0.0002" || js[0].Size != 4<<30 || js[0].Labels[0] != "linux" ||
		js[0].Format != "hybrid" || js[0].InfoHashV2 != strings.Repeat("ab", 32) {
		t.Fatalf("list --json = %+v", js)
	}
	out, _, code = e.run(t, "", `list --json 'name~big buck'`)
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 0 || len(js) != 1 || js[0].Name != "Big Buck Bunny" {
		t.Fatalf("list with a quoted filter: code %d, %v\n%s", code, err, out)
	}
	_, stderr, code = e.run(t, "", "list state:sleeping")
	if code != 2 || !strings.Contains(stderr, "unknown state") {
		t.Fatalf("bad filter: code %d, stderr %q", code, stderr)
	}

	out, stderr, code = e.run(t, "", "pause cd5")
	if code != 0 || strings.TrimSpace(out) != "cd56000000000000000000000000000000000003" {
		t.Fatalf("pause: code %d, out %q, stderr %q", code, out, stderr)
	}
	if g := taken(); len(g) != 1 || g[0] != "pause cd56000000000000000000000000000000000003" {
		t.Fatalf("engine got %q", g)
	}
	_, stderr, code = e.run(t, "", "pause ab")
	if code != 1 || !strings.Contains(stderr, "ambiguous: 2 torrents start with ab") {
		t.Fatalf("ambiguous pause: code %d, stderr %q", code, stderr)
	}
	_, stderr, code = e.run(t, "", "pause 99")
	if code != 1 || !strings.Contains(stderr, "no such torrent") {
		t.Fatalf("unknown pause: code %d, stderr %q", code, stderr)
	}
	_, stderr, code = e.run(t, "", "resume ab34")
	if code != 1 || !strings.Contains(stderr, "engine says no") {
		t.Fatalf("failing resume: code %d, stderr %q", code, stderr)
	}
	if g := taken(); len(g) != 0 {
		t.Fatalf("engine got %q after failed commands", g)
	}
	// Issue 17: data is deleted only inside the download roots: ubuntu's
	// is in /srv/dl, so it is refused and kept in the engine; cd56 has no
	// data dir of its own (the default, inside).
	_, stderr, code = e.run(t, "", "rm --delete-data AB12 cd56")
	if g := taken(); code != 1 || len(g) != 1 || g[0] != "rm cd56000000000000000000000000000000000003 true" ||
		!strings.Contains(stderr, "refusing to delete /srv/dl: it is outside the download roots") {
		t.Fatalf("rm --delete-data: code %d, stderr %q, engine got %q", code, stderr, g)
	}
	_, _, code = e.run(t, "", "rm AB12")
	if g := taken(); code != 0 || len(g) != 1 || g[0] != "rm ab12000000000000000000000000000000000001 false" {
		t.Fatalf("rm: code %d, engine got %q", code, g)
	}

	out, _, code = e.run(t, "", "add --paused --label a,b magnet:?xt=urn:btih:ef00000000000000000000000000000000000009")
	if g := taken(); code != 0 || strings.TrimSpace(out) != "ef00000000000000000000000000000000000009" ||
		len(g) != 1 || g[0] != "add magnet:?xt=urn:btih:ef00000000000000000000000000000000000009 paused=true labels=[a b] dir=" {
		t.Fatalf("add: code %d, out %q, engine got %q", code, out, g)
	}
	// Issue 17: a remote session downloads only inside the download
	// roots (DATA_DIR/downloads by default).
	_, stderr, code = e.run(t, "d8:announce...e", "add --dir /srv/x -")
	if g := taken(); code != 1 || len(g) != 0 || !strings.Contains(stderr, "/srv/x is outside the download roots") {
		t.Fatalf("add outside the roots: code %d, stderr %q, engine got %q", code, stderr, g)
	}
	root, _ := filepath.EvalSymlinks(filepath.Join(e.dataDir, "downloads"))
	_, _, code = e.run(t, "d8:announce...e", "add --dir "+root+"/x -")
	if g := taken(); code != 0 || len(g) != 1 || g[0] != "add file:d8:announce...e paused=false labels=[] dir="+root+"/x" {
		t.Fatalf("add from stdin: code %d, engine got %q", code, g)
	}

	out, _, code = e.run(t, "", "stats --json")
	var st statsJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("stats --json: %v (code %d)\n%s", err, code, out)
	}
	if st.Torrents != 3 || st.States["seeding"] != 1 || st.Earned != "1.5" || st.Spent != "0.25" ||
		st.Limits.Down != 10<<20 || st.Wallet.Balance != "100" || st.Wallet.Decimals != 18 || st.Peers != 10 ||
		st.Version != "1.2.0-rc 1" {
		t.Fatalf("stats --json = %+v", st)
	}
	out, _, code = e.run(t, "", "stats")
	if code != 0 || !strings.Contains(out, "earned     1.5 BTT") {
		t.Fatalf("stats: code %d\n%s", code, out)
	}

	_, stderr, code = e.run(t, "", "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: code %d, stderr %q", code, stderr)
	}
	_, _, code = e.run(t, "", "list --bogus")
	if code != 2 {
		t.Fatalf("bad flag: code %d, want 2", code)
	}
	out, _, code = e.run(t, "", "help")
	if code != 0 || !strings.Contains(out, "stats") {
		t.Fatalf("help: code %d\n%s", code, out)
	}
	// No command and no terminal: told what to do, exit 2.
	_, stderr, code = e.run(t, "", "")
	if code != 2 || !strings.Contains(stderr, "no terminal") {
		t.Fatalf("bare session: code %d, stderr %q", code, stderr)
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	eng := &fakeEngine{}
	eng.publish(testSnapshot(t))
	e := start(t, eng, nil)
	if _, err := e.dial(t, newSigner(t)); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("dial with an unknown key: %v", err)
	}
	_, err := gossh.Dial("tcp", e.addr, &gossh.ClientConfig{
		User:            "alice",
		Auth:            []gossh.AuthMethod{gossh.Password("hunter2")},
		HostKeyCallback: gossh.FixedHostKey(e.srv.HostKey()),
	})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("dial with a password: %v", err)
	}
	// A key listed with options the daemon cannot honour is refused too.
	restricted := newSigner(t)
	line := `from="10.0.0.1" ` + string(gossh.MarshalAuthorizedKey(restricted.PublicKey()))
	f, err := os.OpenFile(e.srv.AuthorizedKeysPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line)
	f.Close()
	if _, err := e.dial(t, restricted); err == nil {
		t.Fatal("a key with from= options was let in")
	}
	// The allowed key still works, and a key added to the file works at once.
	c, err := e.dial(t, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if v := string(c.ServerVersion()); v != "SSH-2.0-bidtorrent_1.2.0_rc_1" {
		t.Errorf("server version %q", v)
	}
	c.Close()
}

func TestHostKeyKept(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	a, err := New(cfg, &fakeEngine{}, Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, &fakeEngine{}, Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.HostKey().Marshal(), b.HostKey().Marshal()) {
		t.Fatal("host key changed between starts")
	}
	fi, err := os.Stat(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %v, want 0600", fi.Mode().Perm())
	}
	if a.HostKey().Type() != gossh.KeyAlgoED25519 {
		t.Fatalf("host key type %s", a.HostKey().Type())
	}
}

// ptySession opens a session with a terminal and no command (the UI).
type ptySession struct {
	c     *gossh.Client
	s     *gossh.Session
	in    io.WriteCloser
	out   *syncBuf
	waitC chan error
}

func (e *env) attach(t *testing.T) *ptySession {
	t.Helper()
	c, err := e.dial(t, e.key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	p := &ptySession{c: c, s: s, out: &syncBuf{}, waitC: make(chan error, 1)}
	s.Stdout = p.out
	s.Stderr = p.out
	if p.in, err = s.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm-256color", 30, 110, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitC <- s.Wait() }()
	t.Cleanup(func() { c.Close() })
	return p
}

// waitFor waits until the session's output holds text (the UI drew it).
func (p *ptySession) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the UI never showed %q; got:\n%q", text, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTwoUISessionsAndCommands(t *testing.T) {
	eng := &fakeEngine{}
	eng.publish(testSnapshot(t))
	e := start(t, eng, func(f *fakeEngine) UI { return TUI(f, tui.DefaultConfig()) })

	a := e.attach(t)
	b := e.attach(t)
	a.waitFor(t, "ubuntu-24.04.iso")
	b.waitFor(t, "ubuntu-24.04.iso")

	// A command runs while both UIs are attached.
	out, _, code := e.run(t, "", "list --json")
	if code != 0 || !strings.Contains(out, "debian-13.iso") {
		t.Fatalf("list while attached: code %d\n%s", code, out)
	}

	// One user quits; the other's UI keeps following the engine.
	if _, err := a.in.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.waitC:
		if err != nil {
			t.Fatalf("the quitting session ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the session did not end after q")
	}
	s := testSnapshot(t)
	s.Torrents = append(s.Torrents, core.Torrent{InfoHash: mustHash(t, "1111000000000000000000000000000000000004"),
		Name: "arch-2026.iso", State: core.StateDownloading, Size: 1 << 30})
	eng.publish(s)
	b.waitFor(t, "arch-2026.iso")

	// Stopping the daemon ends the remaining session and its subscription.
	e.stop(t)
	select {
	case <-b.waitC:
	case <-time.After(20 * time.Second):
		t.Fatal("the session outlived the daemon")
	}
	if n := eng.subscribers(); n != 0 {
		t.Fatalf("%d snapshot subscriptions left after stop", n)
	}
}

func TestConcurrentCommands(t *testing.T) {
	eng := &fakeEngine{}
	eng.publish(testSnapshot(t))
	e := start(t, eng, nil)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, stderr, code := e.run(t, "", "list --json state:downloading")
			if code != 0 || !strings.Contains(out, "debian-13.iso") || strings.Contains(out, "ubuntu") {
				errs <- fmt.Sprintf("code %d, stderr %q, out %q", code, stderr, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestSilentConnectionDropped(t *testing.T) {
	prev := handshakeTimeout
	handshakeTimeout = 200 * time.Millisecond
	defer func() { handshakeTimeout = prev }()
	eng := &fakeEngine{}
	eng.publish(testSnapshot(t))
	e := start(t, eng, nil)
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Say nothing: the server's banner arrives, then the connection closes.
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if !strings.HasPrefix(string(b), "SSH-2.0-bidtorrent") {
		t.Fatalf("server sent %q", b)
	}
	// A client that logs in and opens a session keeps its connection past
	// the limit (as an OpenSSH ControlMaster connection would).
	cl, err := e.dial(t, e.key)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, _, code := e.runOn(t, cl, "stats"); code != 0 {
		t.Fatalf("stats: code %d", code)
	}
	time.Sleep(400 * time.Millisecond)
	if out, _, code := e.runOn(t, cl, "stats --json"); code != 0 || !strings.Contains(out, `"torrents": 3`) {
		t.Fatalf("stats after the handshake limit: code %d\n%s", code, out)
	}
}
