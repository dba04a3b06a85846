//go:build linux

package interop

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var ipCounter atomic.Uint32

// NewLoopbackIP returns a fresh 127.x.y.z address for one peer. The second
// octet comes from the process id, so concurrent test binaries on one
// machine rarely share addresses with each other.
func NewLoopbackIP() netip.Addr {
	n := ipCounter.Add(1)
	b := byte(os.Getpid()%200) + 20
	return netip.AddrFrom4([4]byte{127, b, byte(n / 250), byte(n%250) + 2})
}

// FreePort returns a TCP port that was free on ip a moment ago.
func FreePort(ip netip.Addr) (uint16, error) {
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port on %s: %w", ip, err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port), nil
}

// FreeAddr returns ip with a free TCP port.
func FreeAddr(ip netip.Addr) (netip.AddrPort, error) {
	p, err := FreePort(ip)
	return netip.AddrPortFrom(ip, p), err
}

// WritePayload writes size pseudo-random bytes (fixed by seed) to path and
// returns their SHA-256 in hex.
func WritePayload(path string, size int64, seed uint64) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("cannot make payload dir: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("cannot create payload: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, rng, size); err != nil {
		return "", fmt.Errorf("cannot write payload: %w", err)
	}
	if err := w.Flush(); err != nil {
		return "", fmt.Errorf("cannot write payload: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("cannot write payload: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SHA256File returns the SHA-256 of a file in hex.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("cannot hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Mktorrent makes a single-file torrent of payload with mktorrent (an
// independent implementation), with pieces of 2^pieceLog2 bytes.
func Mktorrent(payload, out string, pieceLog2 int, trackers ...string) (TorrentInfo, error) {
	args := []string{"-d", "-l", strconv.Itoa(pieceLog2), "-o", out}
	for _, tr := range trackers {
		args = append(args, "-a", tr)
	}
	args = append(args, payload)
	cmd := exec.Command("mktorrent", args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return TorrentInfo{}, fmt.Errorf("mktorrent failed: %w: %s", err, b)
	}
	return ReadTorrent(out)
}

// Aria2 is a running aria2c with one torrent.
type Aria2 struct {
	*Proc
	Addr netip.AddrPort // BitTorrent listen address
	rpc  string         // JSON-RPC URL
}

// StartAria2 runs aria2c on torrent, saving to (or seeding from) saveDir,
// listening and dialing on ip only, with DHT, LPD and PEX off. With seed it
// hash-checks existing data and seeds forever; otherwise it exits once the
// download is complete and verified (exit status 0). extra options go
// before the torrent.
func StartAria2(dir, label string, ip netip.Addr, torrent, saveDir string, seed bool, extra ...string) (*Aria2, error) {
	addr, err := FreeAddr(ip)
	if err != nil {
		return nil, err
	}
	rpcPort, err := FreePort(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		return nil, err
	}
	args := []string{
		"--no-conf=true", "--enable-color=false", "--summary-interval=0", "--show-console-readout=false",
		"--console-log-level=notice", "--log=" + filepath.Join(dir, label+".log"), "--log-level=info",
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--disable-ipv6=true", "--interface=" + ip.String(), "--bt-external-ip=" + ip.String(),
		"--listen-port=" + strconv.Itoa(int(addr.Port())),
		"--file-allocation=none", "--check-integrity=true", "--bt-hash-check-seed=true",
		"--bt-save-metadata=false", "--auto-save-interval=0", "--allow-overwrite=true",
		"--stop-with-process=" + strconv.Itoa(os.Getpid()),
		"-d", saveDir,
	}
	if seed {
		// RPC tells when the hash check is over; it also keeps aria2
		// running after downloads end, so leechers go without it.
		args = append(args, "--seed-ratio=0.0", "--enable-rpc=true",
			"--rpc-listen-port="+strconv.Itoa(int(rpcPort)), "--rpc-listen-all=false")
	} else {
		args = append(args, "--seed-time=0")
	}
	args = append(args, extra...)
	args = append(args, torrent)
	p, err := StartProc(dir, label, "aria2c", args...)
	if err != nil {
		return nil, err
	}
	return &Aria2{Proc: p, Addr: addr, rpc: fmt.Sprintf("http://127.0.0.1:%d/jsonrpc", rpcPort)}, nil
}

// WaitSeeding waits until aria2 has verified its data and seeds it.
func (a *Aria2) WaitSeeding(timeout time.Duration) error {
	return a.poll(timeout, 100*time.Millisecond, func() (bool, string) {
		var res struct {
			Result []struct {
				Status, Seeder, CompletedLength, TotalLength string
			}
		}
		body := `{"jsonrpc":"2.0","id":"1","method":"aria2.tellActive","params":[["status","seeder","completedLength","totalLength"]]}`
		resp, err := http.Post(a.rpc, "application/json", strings.NewReader(body))
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if json.Unmarshal(b, &res) == nil {
			for _, r := range res.Result {
				if r.Seeder == "true" && r.CompletedLength == r.TotalLength {
					return true, ""
				}
			}
		}
		return false, string(b)
	}, func(err error) error {
		return fmt.Errorf("aria2 exited before seeding: %v", err)
	}, func(last string) error {
		return fmt.Errorf("aria2 not seeding after %v (last status %s)", timeout, last)
	})
}

// Transmission is a running transmission-daemon.
type Transmission struct {
	*Proc
	Addr netip.AddrPort // BitTorrent listen address
	rpc  string         // HOST:PORT for transmission-remote
	dir  string
}

// StartTransmission runs transmission-daemon in the foreground with its
// config in dir/LABEL.conf, listening on ip only, with DHT, LPD, PEX, uTP,
// port mapping and RPC authentication off. extra settings.json keys
// override the harness's.
func StartTransmission(dir, label string, ip netip.Addr, downloadDir string, extra map[string]any) (*Transmission, error) {
	addr, err := FreeAddr(ip)
	if err != nil {
		return nil, err
	}
	rpcAddr, err := FreeAddr(ip)
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, label+".conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return nil, fmt.Errorf("cannot make transmission config dir: %w", err)
	}
	settings := map[string]any{
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"port-forwarding-enabled": false, "blocklist-enabled": false,
		"bind-address-ipv4": ip.String(), "bind-address-ipv6": "::1",
		"peer-port": addr.Port(), "peer-port-random-on-start": false,
		"rpc-bind-address": rpcAddr.Addr().String(), "rpc-port": rpcAddr.Port(),
		"rpc-authentication-required": false, "rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
		"download-dir": downloadDir, "incomplete-dir-enabled": false, "watch-dir-enabled": false,
		"ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
		"speed-limit-up-enabled": false, "speed-limit-down-enabled": false, "alt-speed-enabled": false,
		"start-added-torrents": true, "message-level": 2, "rename-partial-files": false,
	}
	for k, v := range extra {
		settings[k] = v
	}
	b, _ := json.MarshalIndent(settings, "", "  ")
	if err := os.WriteFile(filepath.Join(conf, "settings.json"), b, 0o644); err != nil {
		return nil, fmt.Errorf("cannot write transmission settings: %w", err)
	}
	p, err := StartProc(dir, label, "transmission-daemon",
		"-f", "-g", conf, "-T", "-O", "-Y", "-M", "--no-utp",
		"-r", rpcAddr.Addr().String(), "-p", strconv.Itoa(int(rpcAddr.Port())),
		"-i", ip.String(), "-P", strconv.Itoa(int(addr.Port())),
		"-w", downloadDir, "--no-incomplete-dir", "--log-info",
		"-e", filepath.Join(dir, label+".log"))
	if err != nil {
		return nil, err
	}
	tr := &Transmission{Proc: p, Addr: addr, rpc: rpcAddr.String(), dir: dir}
	// Wait for the RPC port, then switch PEX off (no daemon flag for it).
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := tr.Remote("--no-pex"); err == nil {
			break
		} else if time.Now().After(deadline) {
			tr.Stop(time.Second)
			return nil, fmt.Errorf("transmission RPC not up: %w", err)
		}
		if exited, err := tr.Exited(); exited {
			return nil, fmt.Errorf("transmission-daemon exited: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return tr, nil
}

// RPCAddr is the HOST:PORT of the daemon's RPC (transmission-remote's
// first argument; http://RPCAddr/transmission/rpc).
func (tr *Transmission) RPCAddr() string { return tr.rpc }

// Remote runs transmission-remote against this daemon and returns its
// combined output.
func (tr *Transmission) Remote(args ...string) (string, error) {
	cmd := exec.Command("transmission-remote", append([]string{tr.rpc}, args...)...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return string(b), fmt.Errorf("transmission-remote %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(b))
	}
	return string(b), nil
}

// Add adds a torrent file or magnet, saving to (or seeding from) dataDir.
func (tr *Transmission) Add(torrent, dataDir string) error {
	out, err := tr.Remote("-w", dataDir, "-a", torrent)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "success") {
		return fmt.Errorf("transmission did not add %s: %s", torrent, strings.TrimSpace(out))
	}
	return nil
}

// WaitDone waits until the daemon's first torrent is 100% done and
// verified, as transmission-remote -t 1 -i reports it.
func (tr *Transmission) WaitDone(timeout time.Duration) error {
	return tr.poll(timeout, 250*time.Millisecond, func() (bool, string) {
		out, err := tr.Remote("-t", "1", "-i")
		return err == nil && strings.Contains(out, "Percent Done: 100%") && !strings.Contains(out, "State: Verifying") &&
			!strings.Contains(out, "Will Verify"), out
	}, func(err error) error {
		return fmt.Errorf("transmission-daemon exited: %v", err)
	}, func(last string) error {
		return fmt.Errorf("transmission not done after %v; last info:\n%s", timeout, last)
	})
}

// ErrMissing reports a peer program that is not installed.
var ErrMissing = errors.New("program not installed")

// Need returns ErrMissing (wrapped, naming the programs) unless every
// program is on PATH.
func Need(programs ...string) error {
	var missing []string
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (apt-get install transmission-cli transmission-daemon aria2 mktorrent)",
			ErrMissing, strings.Join(missing, ", "))
	}
	return nil
}

// OurConfig is a bidtorrent config file for a loopback test peer listening
// on listen and dialing from its address: DHT, PEX, LSD, uTP and port
// forwarding off.
func OurConfig(listen netip.AddrPort) string {
	return fmt.Sprintf(`[engine]
listen_addr = %q
dial_addr = %q
dht = false
pex = false
lsd = false
utp = false
port_forwarding = false
`, listen.String(), listen.Addr().String())
}
