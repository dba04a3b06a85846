package core

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Config is the [engine] section of the config file.
type Config struct {
	// ListenAddr is where peers connect to us (TCP, and UDP on the same
	// port for uTP, the DHT and the uTP reset of utpreset.go), as
	// host:port. An empty host listens on every interface; port 0 picks a
	// free port.
	ListenAddr string `toml:"listen_addr"`
	// DialAddr is the local IP outgoing peer connections are made from;
	// empty lets the OS choose.
	DialAddr string `toml:"dial_addr"`
	// DownloadDir is where torrents added without a dir are stored; empty
	// means DATA_DIR/downloads.
	DownloadDir string `toml:"download_dir"`
	// DHT, PEX and LSD are the peer discovery switches (BEP 5, 11, 14).
	DHT bool `toml:"dht"`
	PEX bool `toml:"pex"`
	LSD bool `toml:"lsd"`
	// UTP enables uTP (BEP 29) besides TCP. Off by default: the pure-Go uTP
	// of CGO_ENABLED=0 builds is slow and stalls. Off, a uTP SYN to the
	// UDP port is answered with an ST_RESET, so the peer uses TCP at once.
	UTP bool `toml:"utp"`
	// PortForwarding asks the router for the listen port (UPnP, NAT-PMP).
	PortForwarding bool `toml:"port_forwarding"`
	// Encryption is the BitTorrent protocol encryption (MSE) policy:
	// "prefer" (offer it, accept plaintext), "require" (encrypted peers
	// only), "allow" (plaintext first, accept encrypted) or "disable"
	// (plaintext only).
	Encryption string `toml:"encryption"`
	// Trackers are announce URLs added to every torrent.
	Trackers []string `toml:"trackers"`
	// DownloadLimit and UploadLimit are global rates in bytes per second
	// (an integer, or a string such as "2MiB"); 0 is unlimited. They are
	// changeable at run time.
	DownloadLimit Rate `toml:"download_limit"`
	UploadLimit   Rate `toml:"upload_limit"`
	// Seed keeps uploading complete torrents.
	Seed bool `toml:"seed"`
	// MaxPeersPerTorrent caps established connections per torrent.
	MaxPeersPerTorrent int `toml:"max_peers_per_torrent"`
	// ParkAfter is how long a complete torrent stays in the BitTorrent
	// client with no peer before it is parked: out of the client, still
	// seeding, woken by the next peer that asks for it (core/park.go). 0
	// never parks.
	ParkAfter time.Duration `toml:"park_after"`
	// Market is the bandwidth market's terms ([engine.market]).
	Market MarketConfig `toml:"market"`
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		ListenAddr:         ":6881",
		DHT:                true,
		PEX:                true,
		Encryption:         "prefer",
		Trackers:           []string{},
		Seed:               true,
		MaxPeersPerTorrent: 50,
		ParkAfter:          2 * time.Minute,
		Market:             DefaultMarketConfig(),
	}
}

// Validate reports the first invalid value, naming its key.
func (c Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return fmt.Errorf("listen_addr %q: want host:port (e.g. \":6881\")", c.ListenAddr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("listen_addr %q: port must be 0-65535", c.ListenAddr)
	}
	if c.DialAddr != "" && net.ParseIP(c.DialAddr) == nil {
		return fmt.Errorf("dial_addr %q: want an IP address or empty", c.DialAddr)
	}
	switch c.Encryption {
	case "prefer", "require", "allow", "disable":
	default:
		return fmt.Errorf("encryption %q: want prefer, require, allow or disable", c.Encryption)
	}
	for _, tr := range c.Trackers {
		if err := checkTrackerURL(tr); err != nil {
			return fmt.Errorf("trackers: %w", err)
		}
	}
	if c.DownloadLimit < 0 {
		return fmt.Errorf("download_limit %d: must not be negative", c.DownloadLimit)
	}
	if c.UploadLimit < 0 {
		return fmt.Errorf("upload_limit %d: must not be negative", c.UploadLimit)
	}
	if err := c.Market.Validate(); err != nil {
		return err
	}
	if c.ParkAfter < 0 {
		return fmt.Errorf("park_after %s: must not be negative", c.ParkAfter)
	}
	if c.MaxPeersPerTorrent < 1 {
		return fmt.Errorf("max_peers_per_torrent %d: must be at least 1", c.MaxPeersPerTorrent)
	}
	return nil
}

func checkTrackerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return &InputError{What: "tracker URL", Value: s, Reason: "want http://, https:// or udp://host:port/..."}
	}
	switch u.Scheme {
	case "http", "https", "udp", "ws", "wss":
		return nil
	}
	return &InputError{What: "tracker URL", Value: s, Reason: "unsupported scheme " + u.Scheme}
}

// Rate is a transfer rate in bytes per second; 0 means unlimited.
type Rate int64

// UnmarshalTOML accepts an integer (bytes per second) or a string such as
// "512KiB", "2MiB", "1.5M" or "0".
func (r *Rate) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		*r = Rate(x)
		return nil
	case string:
		n, err := ParseRate(x)
		if err != nil {
			return err
		}
		*r = n
		return nil
	}
	return fmt.Errorf("want bytes per second (integer) or a string like \"2MiB\", got %v", v)
}

// ParseRate parses a rate in bytes per second as the whole program does
// (bytesize.ParseRate: "500K", "2MiB/s", "unlimited").
func ParseRate(s string) (Rate, error) {
	n, err := bytesize.ParseRate(s)
	if err != nil {
		return 0, &InputError{What: "rate", Value: s, Reason: "want bytes per second, e.g. 500K or 2MiB"}
	}
	return Rate(n), nil
}

// String formats the rate with a binary unit ("2.0M/s"), or "unlimited".
func (r Rate) String() string { return bytesize.FormatRate(int64(r)) }

// MarketConfig is the [engine.market] section: the bandwidth market's
// terms (docs/PROTOCOL.md §6, §8). Prices and strategies are set per
// torrent and globally with Engine.SetMarket (and the CLI flags).
type MarketConfig struct {
	// Round is the seller's round length ("10s"; 1s…10m).
	Round time.Duration `toml:"round"`
	// FreeShare is the fraction of upload kept for peers without an award
	// (legacy peers, losing bidders), in (0, 1].
	FreeShare float64 `toml:"free_share"`
	// Slots is the number of paid slots per round.
	Slots int `toml:"slots"`
	// CreditMiB and CapMiB are the initial and maximum credit, in MiB of
	// paid service.
	CreditMiB int64 `toml:"credit_mib"`
	CapMiB    int64 `toml:"cap_mib"`
	// Tolerance is how far past its credit a buyer's debt may go before it
	// is disconnected, as a fraction (0.25 = 25 %).
	Tolerance float64 `toml:"tolerance"`
	// SettleThreshold settles once what the wallet can settle reaches
	// this many base units (received cheques on the local ledger, issued
	// ones on TRON: wallet.Wallet.Due; "" or "0": only on shutdown and on
	// command).
	SettleThreshold string `toml:"settle_threshold"`
	// UnsecuredLimit is the most a payer whose funds cannot be shown (TRON
	// without a vault) may owe us unsettled, in base units (PROTOCOL.md
	// §8.6); "" is one initial credit step at the price in force.
	UnsecuredLimit string `toml:"unsecured_limit"`
	// MinTip is the least tip accepted, in base units (PROTOCOL.md
	// §16.3); "" is market.DefaultMinTip.
	MinTip string `toml:"min_tip"`
	// TipsPerMinute is how many tips one payer may have accepted per
	// minute (§16.3).
	TipsPerMinute int `toml:"tips_per_minute"`
	// MaxPledges is the most pledges held per torrent we publish, and
	// FUNDED proof pledges kept per torrent we pledged to (§16.5, §16.7).
	MaxPledges int `toml:"max_pledges"`
}

// DefaultMarketConfig returns the protocol's defaults.
func DefaultMarketConfig() MarketConfig {
	d := market.DefaultConfig()
	return MarketConfig{Round: d.Round, FreeShare: d.FreeShare, Slots: d.Slots,
		CreditMiB: int64(d.Credit >> 20), CapMiB: int64(d.Cap >> 20), Tolerance: d.Tolerance,
		MinTip: d.MinTip.String(), TipsPerMinute: d.TipsPerMinute, MaxPledges: d.MaxPledges}
}

func (c MarketConfig) market() market.Config {
	d := market.DefaultConfig()
	d.Round, d.FreeShare, d.Slots, d.Tolerance = c.Round, c.FreeShare, c.Slots, c.Tolerance
	d.Credit, d.Cap = uint64(max(c.CreditMiB, 0))<<20, uint64(max(c.CapMiB, 0))<<20
	d.Unsecured, _ = c.unsecured() // (Validate reports a bad value)
	d.MinTip, _ = c.minTip()
	d.TipsPerMinute, d.MaxPledges = c.TipsPerMinute, c.MaxPledges
	return d
}

// Validate reports the first invalid value, naming its key.
func (c MarketConfig) Validate() error {
	if err := c.market().Validate(); err != nil {
		return fmt.Errorf("market: %w", err)
	}
	if _, err := c.threshold(); err != nil {
		return fmt.Errorf("market: settle_threshold %q: want base units, e.g. \"1000000000000000000\"", c.SettleThreshold)
	}
	if _, err := c.unsecured(); err != nil {
		return fmt.Errorf("market: unsecured_limit %q: want base units, e.g. \"1000000000000000000\"", c.UnsecuredLimit)
	}
	if _, err := c.minTip(); err != nil {
		return fmt.Errorf("market: min_tip %q: want base units, e.g. \"100\"", c.MinTip)
	}
	return nil
}

func (c MarketConfig) minTip() (wallet.Amount, error) {
	if c.MinTip == "" {
		return wallet.Amount{}, nil // market.DefaultMinTip
	}
	return wallet.ParseAmount(c.MinTip, 0)
}

func (c MarketConfig) unsecured() (wallet.Amount, error) {
	if c.UnsecuredLimit == "" {
		return wallet.Amount{}, nil
	}
	return wallet.ParseAmount(c.UnsecuredLimit, 0)
}

func (c MarketConfig) threshold() (wallet.Amount, error) {
	if c.SettleThreshold == "" {
		return wallet.Amount{}, nil
	}
	return wallet.ParseAmount(c.SettleThreshold, 0)
}
