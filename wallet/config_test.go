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
