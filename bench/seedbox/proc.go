//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// Linux port Go runs on).
const clockTicks = 100

// cpuTicks returns utime+stime of pid.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return u + s, nil
}

// rss returns VmRSS of pid in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// idleUsage waits settle, then measures pid's CPU over d (% of one core),
// its RSS at the end and the load average then.
// restartSettle is how long after a restart its RSS is read.
const restartSettle = 30 * time.Second

func idleUsage(pid int, settle, d time.Duration) (cpu float64, mem int64, load string, err error) {
	time.Sleep(settle)
	t0 := time.Now()
	c0, err := cpuTicks(pid)
	if err != nil {
		return 0, 0, "", err
	}
	time.Sleep(d)
	c1, err := cpuTicks(pid)
	if err != nil {
		return 0, 0, "", err
	}
	el := time.Since(t0).Seconds()
	cpu = float64(c1-c0) / clockTicks / el * 100
	if mem, err = rss(pid); err != nil {
		return 0, 0, "", err
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	return cpu, mem, load, nil
}

func numCPU() int { return runtime.NumCPU() }
