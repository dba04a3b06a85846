package config

import "testing"

// FuzzDecode feeds the config file parser: it never panics, and a config
// it accepts validates without panicking.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"[engine]\nlisten_addr = \":6881\"\ndownload_limit = \"2MiB\"\nupload_limit = 1000\n",
		"[engine]\ndownload_limit = \"fast\"\n",
		"[wallet]\nchain = \"local\"\n",
		"", "[", "a = [1, 2, {x = 3}]\n", "[engine]\nlisten_addr = 5\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Default()
		if Decode(s, &c) == nil {
			_ = c.Validate()
		}
	})
}
