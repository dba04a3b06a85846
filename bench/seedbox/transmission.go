//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/bidtorrent/bidtorrent/interop"
)

// statusSeed is transmission's TR_STATUS_SEED.
const statusSeed = 6

func benchTransmission(o options, set *torrentSet, n int) (r result) {
	r = result{client: "transmission", n: n}
	dir := filepath.Join(o.work, fmt.Sprintf("tr-%d", n))
	_ = os.RemoveAll(dir)
	watch := filepath.Join(dir, "watch")
	if r.err = os.MkdirAll(watch, 0o755); r.err != nil {
		return r
	}
	ip := interop.NewLoopbackIP()
	extra := map[string]any{"watch-dir-enabled": true, "watch-dir": watch}
	tr, err := interop.StartTransmission(dir, "transmission", ip, set.dataDir, extra)
	if err != nil {
		r.err = err
		return r
	}
	defer func() {
		tr.Stop(30 * time.Second)
		if r.err != nil {
			r.err = fmt.Errorf("%w\n%s", r.err, tr.Logs(2000))
		}
	}()
	rpc := &trRPC{addr: tr.RPCAddr()}
	t0 := time.Now()
	if r.err = dropInto(set, n, watch); r.err != nil {
		return r
	}
	// No RPC until every .torrent is added: transmission-daemon 3.00
	// crashed (SIGSEGV) three times out of three when torrent-get was
	// polled while thousands of watch-dir adds were under way, and never
	// without the polls. It saves each added .torrent in its config dir.
	saved := filepath.Join(dir, "transmission.conf", "torrents")
	if r.err = waitAll(n, o.timeout, func() (int, error) { return countDir(saved) }, tr.Exited); r.err != nil {
		return r
	}
	if r.err = waitAll(n, o.timeout, rpc.seeding, tr.Exited); r.err != nil {
		return r
	}
	r.addVerify = time.Since(t0)
	pid := tr.Cmd.Process.Pid
	if r.idleCPU, r.rss, r.load, r.err = idleUsage(pid, 5*time.Second, o.idle); r.err != nil {
		return r
	}
	if r.list, r.err = median(o.lists, func() error { _, err := tr.Remote("-l"); return err }); r.err != nil {
		return r
	}
	tr.Stop(time.Minute)
	t0 = time.Now()
	if tr, r.err = interop.StartTransmission(dir, "transmission", ip, set.dataDir, extra); r.err != nil {
		return r
	}
	rpc = &trRPC{addr: tr.RPCAddr()}
	if r.err = waitAll(n, o.timeout, rpc.seeding, tr.Exited); r.err != nil {
		return r
	}
	r.restart = time.Since(t0)
	_, r.rssRestart, _, r.err = idleUsage(tr.Cmd.Process.Pid, 0, restartSettle)
	return r
}

// trRPC is a minimal client of transmission's JSON RPC.
type trRPC struct {
	addr    string
	session string // X-Transmission-Session-Id
}

// seeding returns how many torrents have status seeding.
func (c *trRPC) seeding() (int, error) {
	_, n, err := c.get()
	return n, err
}

// get returns how many torrents the daemon has and how many of them seed.
func (c *trRPC) get() (total, seeding int, err error) {
	var out struct {
		Result    string `json:"result"`
		Arguments struct {
			Torrents []struct {
				Status int `json:"status"`
			} `json:"torrents"`
		} `json:"arguments"`
	}
	req := []byte(`{"method":"torrent-get","arguments":{"fields":["status"]}}`)
	for try := 0; try < 2; try++ {
		hr, err := http.NewRequest("POST", "http://"+c.addr+"/transmission/rpc", bytes.NewReader(req))
		if err != nil {
			return 0, 0, err
		}
		hr.Header.Set("X-Transmission-Session-Id", c.session)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode == http.StatusConflict { // a new session id
			c.session = resp.Header.Get("X-Transmission-Session-Id")
			resp.Body.Close()
			continue
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("torrent-get: %w", err)
		}
		if out.Result != "success" {
			return 0, 0, fmt.Errorf("torrent-get: %s", out.Result)
		}
		n := 0
		for _, t := range out.Arguments.Torrents {
			if t.Status == statusSeed {
				n++
			}
		}
		return len(out.Arguments.Torrents), n, nil
	}
	return 0, 0, fmt.Errorf("torrent-get: no session id")
}

func countDir(dir string) (int, error) {
	es, err := os.ReadDir(dir)
	return len(es), err
}
