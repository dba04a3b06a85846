package tui

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// fmtRate renders bytes per second; zero is blank so idle rows stay quiet.
func fmtRate(n int64) string {
	if n <= 0 {
		return ""
	}
	return bytesize.Format(n) + "/s"
}

// fmtLimit renders a rate limit; zero means unlimited.
func fmtLimit(n int64) string {
	if n <= 0 {
		return "∞"
	}
	return bytesize.Format(n) + "/s"
}

// fmtETA renders a duration compactly: "45s", "12m", "3h20m", "4d".
func fmtETA(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		return fmt.Sprintf("%dh%02dm", h, m)
	case d < 100*24*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	default:
		return "∞"
	}
}

// fmtRatio renders a share ratio.
func fmtRatio(r float64) string {
	if r <= 0 {
		return "0"
	}
	if r >= 1000 {
		return "999+"
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

// fmtAmount renders a token amount in at most width cells (width <= 0: no
// limit) by dropping fractional digits; a non-zero amount that would show as
// zero is written "<0.001". It never rounds up: amounts shown are never more
// than the real ones.
func fmtAmount(a wallet.Amount, decimals, width int) string {
	s := a.Format(decimals)
	if width <= 0 || len(s) <= width {
		return s
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(whole)+2 <= width && frac != "" {
		keep := frac[:width-len(whole)-1]
		if strings.Trim(keep, "0") == "" && whole == "0" {
			if width < 3 {
				return "<"
			}
			return "<0." + strings.Repeat("0", width-4) + "1"
		}
		return whole + "." + keep
	}
	if len(whole) <= width {
		return whole
	}
	// Enormous amounts: scientific notation, for display only.
	f, _ := new(big.Float).SetString(whole)
	v, _ := f.Float64()
	return ansi.Truncate(strconv.FormatFloat(v, 'e', 1, 64), width, "")
}

// amountFloat converts an amount to a float for charts only.
func amountFloat(a wallet.Amount, decimals int) float64 { return a.Float(decimals) }

// bar renders a progress bar of width cells for p in [0,1].
func bar(p float64, width int) string {
	if width <= 0 {
		return ""
	}
	p = max(0, min(1, p))
	eighths := int(p * float64(width*8))
	full := eighths / 8
	var b strings.Builder
	b.WriteString(strings.Repeat("█", full))
	if full < width {
		if r := eighths % 8; r > 0 {
			b.WriteString(string([]rune("▏▎▍▌▋▊▉")[r-1]))
			full++
		}
		b.WriteString(strings.Repeat("░", width-full))
	}
	return b.String()
}

// pct renders p in [0,1] as a percentage that reads 100% only when done.
func pct(p float64) string {
	v := int(p * 100)
	if v >= 100 && p < 1 {
		v = 99
	}
	return strconv.Itoa(v) + "%"
}

// fit pads or truncates s to exactly w cells.
func fit(s string, w int) string { return align(s, w, false) }

// fitRight right-aligns s in w cells.
func fitRight(s string, w int) string { return align(s, w, true) }

// align pads s on the left (right-aligned) or the right to w cells, or
// truncates it with an ellipsis when it is wider.
func align(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	pad := strings.Repeat(" ", w-sw)
	if right {
		return pad + s
	}
	return s + pad
}

func itoa(i int) string { return strconv.Itoa(i) }
