//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bidtorrent/bidtorrent/interop"
)

// ours drives one bidtorrent daemon.
type ours struct {
	o       options
	dir     string
	conf    string
	dataDir string
	key     string
	ssh     netip.AddrPort
	pprof   netip.AddrPort // with -profile
	proc    *interop.Proc
	starts  int
}

func benchOurs(o options, set *torrentSet, n int) (r result) {
	r = result{client: "bidtorrent", n: n}
	if o.memLimit != "" {
		r.client += " (memory_limit " + o.memLimit + ")"
	}
	d := &ours{o: o, dir: filepath.Join(o.work, fmt.Sprintf("ours-%d", n))}
	_ = os.RemoveAll(d.dir)
	if err := d.setup(set.dataDir); err != nil {
		r.err = err
		return r
	}
	defer func() {
		if d.proc != nil {
			d.proc.Stop(30 * time.Second)
		}
		if r.err != nil && d.proc != nil {
			r.err = fmt.Errorf("%w\n%s", r.err, d.proc.Logs(2000))
		}
	}()
	if r.err = d.start(); r.err != nil {
		return r
	}
	t0 := time.Now()
	if r.err = dropInto(set, n, filepath.Join(d.dir, "watch")); r.err != nil {
		return r
	}
	if r.err = waitAll(n, o.timeout, d.seeding, d.proc.Exited); r.err != nil {
		return r
	}
	r.addVerify = time.Since(t0)
	pid := d.proc.Cmd.Process.Pid
	if r.rssActive, r.err = rss(pid); r.err != nil {
		return r
	}
	if o.parkAfter > 0 {
		// Every torrent is complete and has no peer: each leaves the
		// client park_after after it was verified (core/park.go).
		t0 = time.Now()
		if r.err = waitAll(n, o.parkAfter+5*time.Minute, d.parked, d.proc.Exited); r.err != nil {
			return r
		}
		r.park = time.Since(t0)
	}
	if r.idleCPU, r.rss, r.load, r.err = idleUsage(pid, 5*time.Second, o.idle); r.err != nil {
		return r
	}
	if o.profile {
		if r.err = d.saveProfiles(); r.err != nil {
			return r
		}
	}
	if r.list, r.err = median(o.lists, func() error { _, err := d.list(); return err }); r.err != nil {
		return r
	}
	if r.tuiMedian, r.tuiWorst, r.err = d.tuiLatency(); r.err != nil {
		return r
	}
	d.proc.Stop(time.Minute)
	t0 = time.Now()
	if r.err = d.start(); r.err != nil {
		return r
	}
	if r.err = waitAll(n, o.timeout, d.seeding, d.proc.Exited); r.err != nil {
		return r
	}
	r.restart = time.Since(t0)
	_, r.rssRestart, _, r.err = idleUsage(d.proc.Cmd.Process.Pid, 0, restartSettle)
	return r
}

func (d *ours) setup(data string) error {
	state := filepath.Join(d.dir, "state")
	for _, p := range []string{state, filepath.Join(d.dir, "watch")} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	d.key = filepath.Join(d.dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d.key).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen: %w: %s", err, out)
	}
	pub, err := os.ReadFile(d.key + ".pub")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(state, "authorized_keys"), pub, 0o600); err != nil {
		return err
	}
	d.dataDir = state
	ip := interop.NewLoopbackIP()
	listen, err := interop.FreeAddr(ip)
	if err != nil {
		return err
	}
	if d.ssh, err = interop.FreeAddr(ip); err != nil {
		return err
	}
	daemonLines := ""
	if d.o.profile {
		if d.pprof, err = interop.FreeAddr(ip); err != nil {
			return err
		}
		daemonLines = fmt.Sprintf("pprof_listen = %q\n", d.pprof.String())
	}
	if d.o.memLimit != "" {
		daemonLines += fmt.Sprintf("memory_limit = %q\n", d.o.memLimit)
	}
	conf := interop.OurConfig(listen) + fmt.Sprintf(`download_dir = %q
park_after = %q

[daemon]
ssh_listen = %q
`+daemonLines+`

[automation]
watch_dir = %q
watch_interval = "1s"
`, data, d.o.parkAfter.String(), d.ssh.String(), filepath.Join(d.dir, "watch"))
	d.conf = filepath.Join(d.dir, "config.toml")
	return os.WriteFile(d.conf, []byte(conf), 0o600)
}

// saveProfiles fetches the daemon's heap profile (binary, and as text
// with runtime.MemStats) and its goroutines into its work dir.
func (d *ours) saveProfiles() error {
	for _, f := range []struct{ path, file string }{
		{"heap?gc=1", "heap.pprof"},
		{"heap?debug=1", "heap.txt"},
		{"goroutine?debug=1", "goroutine.txt"},
	} {
		resp, err := http.Get("http://" + d.pprof.String() + "/debug/pprof/" + f.path)
		if err != nil {
			return fmt.Errorf("cannot fetch the daemon's %s: %w", f.file, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("cannot fetch the daemon's %s: %s", f.file, resp.Status)
		}
		p := filepath.Join(d.dir, f.file)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "  saved", p)
	}
	return nil
}

// start runs the daemon and waits for its SSH server.
func (d *ours) start() error {
	d.starts++
	p, err := interop.StartProc(d.dir, fmt.Sprintf("daemon-%d", d.starts), d.o.bin,
		"--config", d.conf, "--data-dir", d.dataDir, "daemon", "--no-wallet")
	if err != nil {
		return err
	}
	d.proc = p
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := d.list()
		if err == nil {
			return nil
		}
		if exited, werr := p.Exited(); exited {
			return fmt.Errorf("the daemon exited: %v", werr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon's SSH server is not up: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// list runs `list --json` over SSH and returns the torrents' states
// ("seeding (parked)" for a parked one).
func (d *ours) list() ([]string, error) {
	cmd := exec.Command("ssh", "-p", fmt.Sprint(d.ssh.Port()), "-i", d.key,
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", d.ssh.Addr().String(), "list", "--json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ssh list --json: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var ts []struct {
		State  string `json:"state"`
		Parked bool   `json:"parked"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(out, &ts); err != nil {
		return nil, fmt.Errorf("list --json: %w", err)
	}
	states := make([]string, len(ts))
	for i, t := range ts {
		states[i] = t.State
		if t.Parked {
			states[i] += " (parked)"
		}
	}
	return states, nil
}

func (d *ours) seeding() (int, error) { return d.count("seeding", "seeding (parked)") }

func (d *ours) parked() (int, error) { return d.count("seeding (parked)") }

// count returns how many torrents are in one of states.
func (d *ours) count(states ...string) (int, error) {
	got, err := d.list()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range got {
		if slices.Contains(states, s) {
			n++
		}
	}
	return n, nil
}
