//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"time"

	"github.com/creack/pty"
)

// tuiKeys is how many keystrokes the TUI column times.
const tuiKeys = 20

// tuiLatency attaches a TUI to the daemon over SSH on a 200×50
// pseudo-terminal, as a person would, waits for the list, then presses j
// and k in turn, each once the screen is quiet, and times each from
// writing the key to the last byte of the frame it causes (output quiet
// for 30 ms after it). It returns the median and the slowest.
func (d *ours) tuiLatency() (median, worst time.Duration, err error) {
	cmd := exec.Command("ssh", "-t", "-p", fmt.Sprint(d.ssh.Port()), "-i", d.key,
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", d.ssh.Addr().String())
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		return 0, 0, fmt.Errorf("cannot start ssh on a pty: %w", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		ptmx.Close()
	}()
	var (
		mu    sync.Mutex
		out   bytes.Buffer // everything so far, for the start-up check
		last  time.Time    // when the last byte came
		count int
	)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				mu.Lock()
				if out.Len() < 1<<20 {
					out.Write(buf[:n])
				}
				last, count = time.Now(), count+n
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	state := func() (time.Time, int, bool) {
		mu.Lock()
		defer mu.Unlock()
		return last, count, bytes.Contains(out.Bytes(), []byte("torrents"))
	}
	// quiet waits until nothing came for q, and returns the last byte's time.
	quiet := func(q, limit time.Duration) (time.Time, error) {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			l, _, _ := state()
			if !l.IsZero() && time.Since(l) >= q {
				return l, nil
			}
			time.Sleep(time.Millisecond)
		}
		return time.Time{}, fmt.Errorf("the TUI's output did not settle in %v", limit)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, _, ok := state(); ok {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("the TUI did not show its list in a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ds []time.Duration
	for i := range tuiKeys {
		if _, err := quiet(time.Second, time.Minute); err != nil {
			return 0, 0, err
		}
		_, before, _ := state()
		key := "j"
		if i%2 == 1 {
			key = "k"
		}
		t0 := time.Now()
		if _, err := ptmx.Write([]byte(key)); err != nil {
			return 0, 0, err
		}
		for {
			if _, n, _ := state(); n > before {
				break
			}
			if time.Since(t0) > 10*time.Second {
				return 0, 0, fmt.Errorf("no frame 10 s after pressing %s", key)
			}
			time.Sleep(100 * time.Microsecond)
		}
		l, err := quiet(30*time.Millisecond, 10*time.Second)
		if err != nil {
			return 0, 0, err
		}
		ds = append(ds, l.Sub(t0))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)-1], nil
}
