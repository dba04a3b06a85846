//go:build linux

package interop

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	procsMu sync.Mutex // guards procs
	procs   []*Proc    // every process StartProc started
)

// Running returns the labels of started processes that have not exited.
func Running() []string {
	procsMu.Lock()
	defer procsMu.Unlock()
	var names []string
	for _, p := range procs {
		if exited, _ := p.Exited(); !exited {
			names = append(names, fmt.Sprintf("%s (pid %d)", p.Name, p.Cmd.Process.Pid))
		}
	}
	return names
}

// StopAll stops every started process that is still running.
func StopAll() {
	procsMu.Lock()
	ps := append([]*Proc(nil), procs...)
	procsMu.Unlock()
	for _, p := range ps {
		p.Stop(2 * time.Second)
	}
}

// Proc is a child process in its own process group whose stdout and stderr
// go to files: NAME.out and NAME.err in the directory given to StartProc.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	OutPath string // stdout
	ErrPath string // stderr
	Started time.Time

	done  chan struct{}
	err   error // Wait's result; read after done is closed
	ended time.Time
}

// StartProc starts name with args, logging to dir/NAME.out and dir/NAME.err
// (label names the files; it defaults to the program's base name).
func StartProc(dir, label, name string, args ...string) (*Proc, error) {
	if label == "" {
		label = filepath.Base(name)
	}
	p := &Proc{
		Name:    label,
		OutPath: filepath.Join(dir, label+".out"),
		ErrPath: filepath.Join(dir, label+".err"),
		done:    make(chan struct{}),
	}
	out, err := os.Create(p.OutPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create log for %s: %w", label, err)
	}
	errf, err := os.Create(p.ErrPath)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("cannot create log for %s: %w", label, err)
	}
	fmt.Fprintf(errf, "# %s %s\n", name, strings.Join(args, " "))
	p.Cmd = exec.Command(name, args...)
	p.Cmd.Stdout = out
	p.Cmd.Stderr = errf
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.Started = time.Now()
	if err := p.Cmd.Start(); err != nil {
		out.Close()
		errf.Close()
		return nil, fmt.Errorf("cannot start %s: %w", label, err)
	}
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	go func() {
		p.err = p.Cmd.Wait()
		p.ended = time.Now()
		out.Close()
		errf.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its Wait error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// poll calls check every interval until it reports done (poll returns
// nil), the process exits (exited's error, given the Wait error) or
// timeout passes (late's, given the last status check reported).
func (p *Proc) poll(timeout, interval time.Duration, check func() (done bool, status string), exited func(error) error, late func(last string) error) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if gone, err := p.Exited(); gone {
			return exited(err)
		}
		done, status := check()
		if done {
			return nil
		}
		last = status
		time.Sleep(interval)
	}
	return late(last)
}

// Wait waits up to timeout for the process to exit and returns its Wait
// error, or an error saying it is still running.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %v", p.Name, timeout)
	}
}

// Elapsed is the wall time from start to exit (or to now while running).
func (p *Proc) Elapsed() time.Duration {
	select {
	case <-p.done:
		return p.ended.Sub(p.Started)
	default:
		return time.Since(p.Started)
	}
}

// MaxRSS is the exited process's peak resident set size in bytes (0 while
// it runs). Children of the process are not counted.
func (p *Proc) MaxRSS() int64 {
	select {
	case <-p.done:
	default:
		return 0
	}
	if ru, ok := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024 // Linux reports KiB
	}
	return 0
}

// Stop sends SIGTERM to the process group, waits up to grace, then sends
// SIGKILL to the group and waits for the exit. It is safe to call twice.
func (p *Proc) Stop(grace time.Duration) {
	pgid := p.Cmd.Process.Pid
	if exited, _ := p.Exited(); !exited {
		syscall.Kill(-pgid, syscall.SIGTERM) //nolint:errcheck // may be gone already
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	// Kill the group even after the leader exited: nothing it spawned
	// may outlive the test.
	syscall.Kill(-pgid, syscall.SIGKILL) //nolint:errcheck // usually gone already
	<-p.done
}

// Logs returns the last max bytes of the process's stderr and stdout.
func (p *Proc) Logs(max int) string {
	var b strings.Builder
	for _, f := range []string{p.ErrPath, p.OutPath} {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(&b, "--- %s: %v\n", f, err)
			continue
		}
		if len(data) > max {
			data = append([]byte("…"), data[len(data)-max:]...)
		}
		fmt.Fprintf(&b, "--- %s (%d bytes shown)\n%s\n", filepath.Base(f), len(data), data)
	}
	return b.String()
}

// Stdout returns what the process has written to stdout so far.
func (p *Proc) Stdout() string {
	data, _ := os.ReadFile(p.OutPath)
	return string(data)
}
