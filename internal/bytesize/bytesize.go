// Package bytesize is the one way bidtorrent writes and reads byte counts
// and rates: the CLI, the config, the TUI and the daemon all format "1.5M"
// and parse "2MiB", "500K/s" or "unlimited" through it.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

// Format renders n bytes in binary units, compactly enough for a table
// column: "512B", "1.5K", "12K", "700M", "1.5G". Below ten units it shows
// one decimal, from ten on none.
func Format(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + "B"
	}
	f := float64(n)
	for _, u := range []string{"K", "M", "G", "T", "P"} {
		f /= unit
		if f < unit || u == "P" {
			if f < 10 {
				return strconv.FormatFloat(f, 'f', 1, 64) + u
			}
			return strconv.FormatFloat(f, 'f', 0, 64) + u
		}
	}
	return strconv.FormatInt(n, 10) + "B" // not reached
}

// FormatRate renders a rate in bytes per second ("2.0M/s"); zero or less
// is "unlimited".
func FormatRate(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return Format(n) + "/s"
}

// max is the largest count Parse accepts (2^62): anything more is a typo.
const max = 1 << 62

// Parse reads a byte count: a number (fractions allowed) with an optional
// binary unit K, M, G or T in any case, optionally followed by "iB", "i"
// or "B": "4096", "1.5M", "2MiB", "256kb".
func Parse(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || f < 0 || f*float64(mult) > max {
		return 0, fmt.Errorf("bad size %q: want a number of bytes with an optional unit K, M, G or T, e.g. 1.5M or 2MiB", s)
	}
	return int64(f * float64(mult)), nil
}

// ParseRate reads a rate in bytes per second: a size as Parse reads it
// with an optional "/s" or "ps" ("500K", "2MiB/s", "1Mps"), or "0", "",
// "∞" or "unlimited" for no limit (0).
func ParseRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	if strings.HasSuffix(t, "/s") {
		t = strings.TrimSpace(strings.TrimSuffix(t, "/s"))
	} else if len(t) > 2 && strings.EqualFold(t[len(t)-2:], "ps") {
		t = t[:len(t)-2]
	}
	if t == "∞" || strings.EqualFold(t, "unlimited") {
		return 0, nil
	}
	n, err := Parse(t)
	if err != nil {
		return 0, fmt.Errorf("bad rate %q: want bytes per second, e.g. 500K or 2MiB (0 for unlimited)", s)
	}
	return n, nil
}
