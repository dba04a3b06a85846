package wallet

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for key, mut := range map[string]func(*Config){
		"chain":           func(c *Config) { c.Chain = "ropsten" },
		"token":           func(c *Config) { c.Token = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp5" },
		"api_key_env":     func(c *Config) { c.APIKeyEnv = "abc-123 secret" },
		"fee_limit_sun":   func(c *Config) { c.FeeLimitSun = 0 },
		"lock_timeout":    func(c *Config) { c.LockTimeout = Duration{} },
		"rpc_timeout":     func(c *Config) { c.RPCTimeout = Duration{-time.Second} },
		"confirm_timeout": func(c *Config) { c.ConfirmTimeout = Duration{} },
	} {
		c := DefaultConfig()
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), key+" = ") {
			t.Errorf("bad %s: %v", key, err)
		}
	}
	for name, n := range Networks {
		c := DefaultConfig()
		c.Chain = name
		if c.Validate() != nil || c.Network().ChainID != n.ChainID {
			t.Errorf("network %s", name)
		}
	}
}

func TestConfigTOML(t *testing.T) {
	var c struct {
		Wallet Config `toml:"wallet"`
	}
	c.Wallet = DefaultConfig()
	md, err := toml.Decode(`
[wallet]
chain = "shasta"
endpoint = "127.0.0.1:50051"
rpc_timeout = "3s"
confirm_timeout = "2m"
fee_limit_sun = 15000000
api_key_env = "MY_TRON_KEY"
`, &c)
	if err != nil || len(md.Undecoded()) != 0 {
		t.Fatalf("decode: %v %v", err, md.Undecoded())
	}
	w := c.Wallet
	if w.Chain != "shasta" || w.RPCTimeout.Duration != 3*time.Second || w.ConfirmTimeout.Duration != 2*time.Minute ||
		w.FeeLimitSun != 15_000_000 || w.LockTimeout != DefaultConfig().LockTimeout || w.Validate() != nil {
		t.Errorf("decoded %+v", w)
	}
	t.Setenv("MY_TRON_KEY", "k-123")
	if w.APIKey() != "k-123" {
		t.Errorf("APIKey() = %q", w.APIKey())
	}
	if _, err := toml.Decode("[wallet]\nrpc_timeout = \"soon\"\n", &c); err == nil || !strings.Contains(err.Error(), "bad duration") {
		t.Errorf("bad duration: %v", err)
	}
	var sb strings.Builder
	if err := toml.NewEncoder(&sb).Encode(DefaultConfig()); err != nil || !strings.Contains(sb.String(), `lock_timeout = "5s"`) {
		t.Errorf("encode: %v %s", err, sb.String())
	}
}

// TestConfigPlaintext: public nodes are dialled with TLS; plaintext is
// refused for a public mainnet endpoint and allowed for a node of one's
// own (loopback, private network).
func TestConfigPlaintext(t *testing.T) {
	c := DefaultConfig()
	c.Chain = "mainnet"
	if ep, plain := c.Dial(); ep != "grpc.trongrid.io:443" || plain {
		t.Errorf("mainnet default: %s plaintext=%v", ep, plain)
	}
	c.Endpoint = "grpc.trongrid.io:50051"
	if ep, plain := c.Dial(); ep != c.Endpoint || plain {
		t.Errorf("configured endpoint: %s plaintext=%v", ep, plain)
	}
	for ep, ok := range map[string]bool{
		"grpc.trongrid.io:50051": false, "203.0.113.7:50051": false, "[2001:db8::1]:50051": false, "nohost": false,
		"127.0.0.1:50051": true, "localhost:50051": true, "[::1]:50051": true, "192.168.1.20:50051": true, "10.0.0.5:50051": true,
	} {
		c.Endpoint, c.Plaintext = ep, true
		err := c.Validate()
		if (err == nil) != ok || (err != nil && !strings.HasPrefix(err.Error(), "plaintext = ")) {
			t.Errorf("mainnet plaintext to %s: %v", ep, err)
		}
	}
}

// TestConfigTestNetsTLS: the test networks' public nodes are dialled with
// TLS too (revision 2.3 and before dialled them in plaintext on 50051,
// where anyone on the path could answer for the node a payee asks about
// a payer's transfer); plaintext is only for a node of one's own, and
// plaintext without an endpoint is refused.
func TestConfigTestNetsTLS(t *testing.T) {
	for _, chain := range []string{"nile", "shasta"} {
		c := DefaultConfig()
		c.Chain = chain
		ep, plain := c.Dial()
		if plain || !strings.HasSuffix(ep, ":443") || !strings.Contains(ep, chain) {
			t.Errorf("%s default: %s plaintext=%v, want its public node over TLS on 443", chain, ep, plain)
		}
		for ep, ok := range map[string]bool{
			"": false, "grpc." + chain + ".trongrid.io:50051": false, "203.0.113.7:50051": false,
			"127.0.0.1:50051": true, "localhost:50051": true, "192.168.1.20:50051": true,
		} {
			c.Endpoint, c.Plaintext = ep, true
			err := c.Validate()
			if (err == nil) != ok || (err != nil && !strings.HasPrefix(err.Error(), "plaintext = ")) {
				t.Errorf("%s plaintext to %q: %v", chain, ep, err)
			}
		}
	}
}
