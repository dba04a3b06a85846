package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Filter is a parsed filter expression: space-separated terms that must all
// match. A term is
//
//	word            the name contains word (case-insensitive)
//	field:value     equality (state:seeding, label:linux, hash:1f2e…, a prefix)
//	field~text      the field contains text (name~debian, label~lin)
//	field>n, <, >=, <=, =   numeric comparison
//	-term           negation
//
// Fields: name, state, label, hash, size, done, progress (percent), ratio,
// peers, seeds, down, up (bytes/s), eta (a duration like 1h30m), bid, price,
// earned, spent (token amounts such as 0.5). Sizes and rates accept K, M, G,
// T units. Quote a value with spaces: name~"big buck".
type Filter struct {
	src   string
	terms []term
}

type term struct {
	neg   bool
	field string
	op    string // ":", "~", "=", ">", "<", ">=", "<="
	str   string
	num   float64
	amt   wallet.Amount
}

var numericFields = map[string]string{
	"size": "size", "done": "size", "progress": "num", "ratio": "num",
	"peers": "num", "seeds": "num", "down": "size", "up": "size", "eta": "dur",
	"bid": "amount", "price": "amount", "earned": "amount", "spent": "amount",
}

var stringFields = map[string]bool{"name": true, "state": true, "label": true, "hash": true}

// ParseFilter parses a filter expression; decimals is the token's number of
// decimals, used to read amounts. The empty expression matches everything.
func ParseFilter(expr string, decimals int) (*Filter, error) {
	f := &Filter{src: strings.TrimSpace(expr)}
	words, err := splitWords(f.src)
	if err != nil {
		return nil, err
	}
	for _, w := range words {
		t, err := parseTerm(w, decimals)
		if err != nil {
			return nil, fmt.Errorf("filter term %q: %w", w, err)
		}
		f.terms = append(f.terms, t)
	}
	return f, nil
}

// String returns the expression as written.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Empty reports whether the filter matches everything.
func (f *Filter) Empty() bool { return f == nil || len(f.terms) == 0 }

func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, has := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			has = true
		case (r == ' ' || r == '\t') && !inQuote:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("filter %q: unclosed quote", s)
	}
	if has {
		out = append(out, cur.String())
	}
	return out, nil
}

func parseTerm(w string, decimals int) (term, error) {
	var t term
	if strings.HasPrefix(w, "-") && len(w) > 1 {
		t.neg, w = true, w[1:]
	}
	i := strings.IndexAny(w, ":~=<>")
	if i < 0 {
		t.field, t.op, t.str = "name", "~", strings.ToLower(w)
		return t, nil
	}
	t.field, t.op = strings.ToLower(w[:i]), w[i:i+1]
	val := w[i+1:]
	if (t.op == "<" || t.op == ">") && strings.HasPrefix(val, "=") {
		t.op += "="
		val = val[1:]
	}
	if stringFields[t.field] {
		if t.op != ":" && t.op != "~" && t.op != "=" {
			return t, fmt.Errorf("field %s takes :, = or ~", t.field)
		}
		t.str = strings.ToLower(val)
		if t.field == "state" && t.op != "~" {
			if !validState(core.State(t.str)) {
				return t, fmt.Errorf("unknown state %q", val)
			}
		}
		return t, nil
	}
	kind, ok := numericFields[t.field]
	if !ok {
		return t, fmt.Errorf("unknown field %q", t.field)
	}
	if t.op == ":" {
		t.op = "="
	}
	if t.op == "~" {
		return t, fmt.Errorf("field %s is numeric: use =, <, >, <= or >=", t.field)
	}
	var err error
	switch kind {
	case "num":
		t.num, err = strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
	case "size":
		var n int64
		n, err = bytesize.Parse(val)
		t.num = float64(n)
	case "dur":
		var d time.Duration
		d, err = time.ParseDuration(val)
		t.num = float64(d)
	case "amount":
		t.amt, err = wallet.ParseAmount(val, decimals)
	}
	if err != nil {
		return t, err
	}
	return t, nil
}

func validState(s core.State) bool {
	switch s {
	case core.StateMetadata, core.StateChecking, core.StateDownloading, core.StateSeeding,
		core.StatePaused, core.StateQueued, core.StateError:
		return true
	}
	return false
}

// Match reports whether t matches every term.
func (f *Filter) Match(t *core.Torrent) bool {
	if f == nil {
		return true
	}
	for i := range f.terms {
		if f.terms[i].match(t) == f.terms[i].neg {
			return false
		}
	}
	return true
}

func (tm *term) match(t *core.Torrent) bool {
	switch tm.field {
	case "name":
		return tm.matchString(t.Name)
	case "state":
		return tm.matchString(string(t.State))
	case "hash":
		return strings.HasPrefix(t.InfoHash.String(), tm.str)
	case "label":
		for _, l := range t.Labels {
			if tm.matchString(l) {
				return true
			}
		}
		return false
	case "size":
		return tm.cmp(float64(t.Size))
	case "done":
		return tm.cmp(float64(t.Done))
	case "progress":
		return tm.cmp(t.Progress() * 100)
	case "ratio":
		return tm.cmp(t.Ratio)
	case "peers":
		return tm.cmp(float64(t.PeerCount))
	case "seeds":
		return tm.cmp(float64(t.SeedCount))
	case "down":
		return tm.cmp(float64(t.DownRate))
	case "up":
		return tm.cmp(float64(t.UpRate))
	case "eta":
		return t.ETA > 0 && tm.cmp(float64(t.ETA))
	case "bid":
		return tm.cmpAmount(t.Market.Bid)
	case "price":
		return tm.cmpAmount(t.Market.Price)
	case "earned":
		return tm.cmpAmount(t.Market.Earned)
	case "spent":
		return tm.cmpAmount(t.Market.Spent)
	}
	return false
}

func (tm *term) matchString(s string) bool {
	s = strings.ToLower(s)
	if tm.op == "~" {
		return strings.Contains(s, tm.str)
	}
	return s == tm.str
}

func (tm *term) cmp(v float64) bool { return cmpOp(tm.op, compareFloat(v, tm.num)) }

func (tm *term) cmpAmount(a wallet.Amount) bool { return cmpOp(tm.op, a.Cmp(tm.amt)) }

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpOp(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case ">":
		return c > 0
	case "<":
		return c < 0
	case ">=":
		return c >= 0
	case "<=":
		return c <= 0
	}
	return false
}
