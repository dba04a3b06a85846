package daemon

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestDecodeConfig(t *testing.T) {
	c := DefaultConfig()
	if c.SSHListen != "127.0.0.1:2222" || c.MetricsListen != "" {
		t.Fatalf("defaults %+v", c)
	}
	md, err := toml.Decode(`
ssh_listen = "127.0.0.1:2022"
authorized_keys = "~/.ssh/authorized_keys"
host_key = ""
metrics_listen = "127.0.0.1:9101"
`, &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Undecoded()) > 0 {
		t.Fatalf("undecoded %v", md.Undecoded())
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SSHListen != "127.0.0.1:2022" || c.MetricsListen != "127.0.0.1:9101" {
		t.Fatalf("decoded %+v", c)
	}
	for _, bad := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.SSHListen = "2222" }, "ssh_listen"},
		{func(c *Config) { c.SSHListen = "127.0.0.1:99999" }, "ssh_listen"},
		{func(c *Config) { c.MetricsListen = "localhost" }, "metrics_listen"},
		{func(c *Config) { c.MemoryLimit = "lots" }, "memory_limit"},
		{func(c *Config) { c.MemoryLimit = "16MiB" }, "memory_limit"},
	} {
		c := DefaultConfig()
		bad.mod(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("Validate() = %v, want an error about %s", err, bad.want)
		}
	}
}

func TestMemoryLimitBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "96MiB": 96 << 20, "1G": 1 << 30} {
		c := DefaultConfig()
		c.MemoryLimit = in
		got, err := c.MemoryLimitBytes()
		if err != nil || got != want {
			t.Errorf("MemoryLimitBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
