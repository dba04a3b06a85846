package wallet

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"time"
)

// DefaultBTTContract is the BTT TRC-20 contract on TRON mainnet (18
// decimals since the 2021 redenomination). The local ledger uses the same
// address as its token id, so cheques look alike on both.
const DefaultBTTContract = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"

// Config is the [wallet] section of the config file. Secrets never live
// here: the keystore is in the data dir, and the TRON API key is read
// from the environment variable APIKeyEnv names.
type Config struct {
	// Chain is "local" (the embedded ledger, default), "mainnet", "nile"
	// or "shasta".
	Chain string `toml:"chain"`
	// Ledger is the local ledger file; empty means DATA_DIR/ledger.db.
	// The global --ledger flag overrides it.
	Ledger string `toml:"ledger"`
	// ChequeBook is the cheque book file; empty means
	// DATA_DIR/chequebook.db.
	ChequeBook string `toml:"cheque_book"`
	// LockTimeout bounds the wait for another process holding the ledger
	// or cheque book file.
	LockTimeout Duration `toml:"lock_timeout"`
	// Token is the BTT TRC-20 contract (and the local ledger's token id).
	Token string `toml:"token"`
	// Endpoint is the TRON gRPC node, host:port; empty means the network's
	// public TronGrid node (Network.Endpoint).
	Endpoint string `toml:"endpoint"`
	// Plaintext dials Endpoint without TLS. It is refused unless Endpoint
	// is set and on this machine or a private network (a node of your
	// own), on every network: anyone on the path to a public node could
	// read and answer for it, and a payee believes what its node says a
	// payer's transfer did (PROTOCOL.md §11.2).
	Plaintext bool `toml:"plaintext"`
	// APIKeyEnv names the environment variable holding the
	// TRON-PRO-API-KEY (the key itself never goes in this file).
	APIKeyEnv string `toml:"api_key_env"`
	// FeeLimitSun caps the TRX (in sun) a TRC-20 transfer may burn for
	// energy.
	FeeLimitSun int64 `toml:"fee_limit_sun"`
	// VaultFactory is the VaultFactory contract (contracts/) that makes
	// payers' cheque vaults on this network and that payees ask for a
	// payer's vault; empty: no vaults (cheques are IOUs the payer settles
	// by transfer).
	VaultFactory string `toml:"vault_factory"`
	// VaultFreeShare is the percent (0–100) of a payer's vault's
	// unreserved balance, less its announced withdrawal, that a seller
	// counts as the payer's cover besides the payer's reservation for the
	// seller. 0 (the default) counts reservations only: the sellers of
	// one vault can then never together extend more than it holds. More
	// trusts that the payer's other payees do not cash that balance first
	// (PROTOCOL.md §18.5).
	VaultFreeShare int `toml:"vault_free_share"`
	// RPCTimeout bounds each call to the TRON node.
	RPCTimeout Duration `toml:"rpc_timeout"`
	// ConfirmTimeout bounds the wait for a transaction to be confirmed.
	ConfirmTimeout Duration `toml:"confirm_timeout"`
}

// Duration is a time.Duration written as "10s" in TOML.
type Duration struct{ time.Duration }

// MarshalText writes the duration as Go syntax ("1m30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (use e.g. \"10s\")", b)
	}
	d.Duration = v
	return nil
}

// DefaultConfig returns the embedded defaults: the local ledger.
func DefaultConfig() Config {
	return Config{
		Chain:          "local",
		LockTimeout:    Duration{5 * time.Second},
		Token:          DefaultBTTContract,
		APIKeyEnv:      "TRON_PRO_API_KEY",
		FeeLimitSun:    30_000_000, // 30 TRX
		RPCTimeout:     Duration{10 * time.Second},
		ConfirmTimeout: Duration{90 * time.Second},
	}
}

// Network describes a TRON network.
type Network struct {
	Name     string
	ChainID  uint64
	Endpoint string // public gRPC node, dialled with TLS
}

// Networks are the chains Config.Chain may name. Every public node is
// dialled with TLS on port 443, test networks included: a payee believes
// what its node says of a payer's transfer (PROTOCOL.md §11.2), so a
// plaintext path would let anyone on it answer for the node. (Revision
// 2.3 and before dialled the test networks' plaintext port 50051.)
var Networks = map[string]Network{
	"local":   {"local", ChainIDLocal, ""},
	"mainnet": {"mainnet", ChainIDMainnet, "grpc.trongrid.io:443"},
	"nile":    {"nile", ChainIDNile, "grpc.nile.trongrid.io:443"},
	"shasta":  {"shasta", ChainIDShasta, "grpc.shasta.trongrid.io:443"},
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports the first invalid value, naming its key.
func (c Config) Validate() error {
	if _, ok := Networks[c.Chain]; !ok {
		return fmt.Errorf("chain = %q: want \"local\", \"mainnet\", \"nile\" or \"shasta\"", c.Chain)
	}
	if _, err := ParseAddress(c.Token); err != nil {
		return fmt.Errorf("token = %q: %w", c.Token, err)
	}
	if c.VaultFactory != "" {
		if _, err := ParseAddress(c.VaultFactory); err != nil {
			return fmt.Errorf("vault_factory = %q: %w", c.VaultFactory, err)
		}
	}
	if c.APIKeyEnv != "" && !envName.MatchString(c.APIKeyEnv) {
		return fmt.Errorf("api_key_env = %q: must be the name of an environment variable (the key itself never goes in the config)", c.APIKeyEnv)
	}
	if c.Plaintext && c.Chain != "local" && !privateHost(c.Endpoint) {
		return fmt.Errorf("plaintext = true: refused for %s endpoint %q; plaintext is only for a node on this machine or a private network (set endpoint to it), public nodes are dialled with TLS", c.Chain, c.Endpoint)
	}
	if c.VaultFreeShare < 0 || c.VaultFreeShare > 100 {
		return fmt.Errorf("vault_free_share = %d: must be a percent from 0 to 100", c.VaultFreeShare)
	}
	if c.FeeLimitSun <= 0 {
		return fmt.Errorf("fee_limit_sun = %d: must be positive", c.FeeLimitSun)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"lock_timeout", c.LockTimeout}, {"rpc_timeout", c.RPCTimeout}, {"confirm_timeout", c.ConfirmTimeout}} {
		if d.v.Duration <= 0 {
			return fmt.Errorf("%s = %q: must be positive", d.key, d.v)
		}
	}
	return nil
}

// Dial returns the node to dial and whether to dial it without TLS: the
// configured endpoint (TLS unless Plaintext) or the network's public node
// (always TLS).
func (c Config) Dial() (endpoint string, plaintext bool) {
	if c.Endpoint == "" {
		return c.Network().Endpoint, false
	}
	return c.Endpoint, c.Plaintext
}

// privateHost reports whether endpoint (host:port) names this machine or
// an address of a private network.
func privateHost(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast())
}

// Network returns the configured network.
func (c Config) Network() Network { return Networks[c.Chain] }

// APIKey returns the TRON API key from the environment (empty if unset).
func (c Config) APIKey() string {
	if c.APIKeyEnv == "" {
		return ""
	}
	return os.Getenv(c.APIKeyEnv)
}

// FactoryAddress returns the parsed VaultFactory, zero when unset (call
// Validate first).
func (c Config) FactoryAddress() Address {
	a, _ := ParseAddress(c.VaultFactory)
	return a
}

// TokenAddress returns the parsed Token (call Validate first).
func (c Config) TokenAddress() Address {
	a, _ := ParseAddress(c.Token)
	return a
}
