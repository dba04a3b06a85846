package bttbid

import (
	"bytes"
	"sort"
	"strconv"
)

// maxDepth bounds the nesting of lists and dicts, which only unknown keys
// (from later protocol versions) can use.
const maxDepth = 8

// value is one decoded bencode value. Exactly one of the fields is
// meaningful, chosen by kind: 'i' integer, 's' byte string, 'l' list,
// 'd' dict.
type value struct {
	kind byte
	i    int64
	s    []byte
	l    []value
	d    []entry // keys strictly ascending
}

type entry struct {
	key string
	val value
}

func (v value) kindName() string {
	switch v.kind {
	case 'i':
		return "integer"
	case 's':
		return "byte string"
	case 'l':
		return "list"
	default:
		return "dict"
	}
}

// parser is a strict bencode (BEP 3) parser over a bounded input: integers
// fit in int64 with no leading zeros and no "-0", dict keys are byte
// strings in strictly ascending order (so no duplicates), and the input
// holds exactly one value. It never panics.
type parser struct {
	b   []byte
	pos int
}

func parseBencode(b []byte) (value, error) {
	p := parser{b: b}
	v, err := p.value(0)
	if err != nil {
		return value{}, err
	}
	if p.pos != len(p.b) {
		return value{}, p.fail("trailing bytes after the message")
	}
	return v, nil
}

func (p *parser) fail(reason string) error {
	return &Error{Code: CodeMalformed, Reason: reason + " at offset " + strconv.Itoa(p.pos)}
}

func (p *parser) value(depth int) (value, error) {
	if p.pos >= len(p.b) {
		return value{}, p.fail("unexpected end")
	}
	switch c := p.b[p.pos]; {
	case c == 'i':
		p.pos++
		n, err := p.integer('e')
		return value{kind: 'i', i: n}, err
	case c >= '0' && c <= '9':
		s, err := p.str()
		return value{kind: 's', s: s}, err
	case c == 'l' || c == 'd':
		if depth >= maxDepth {
			return value{}, p.fail("nesting too deep")
		}
		p.pos++
		if c == 'l' {
			return p.list(depth)
		}
		return p.dict(depth)
	default:
		return value{}, p.fail("unexpected byte " + strconv.QuoteRune(rune(c)))
	}
}

// integer reads a decimal int64 up to the terminator.
func (p *parser) integer(term byte) (int64, error) {
	end := bytes.IndexByte(p.b[p.pos:], term)
	if end < 0 {
		return 0, p.fail("unterminated integer")
	}
	digits := p.b[p.pos : p.pos+end]
	neg := len(digits) > 0 && digits[0] == '-'
	d := digits
	if neg {
		d = d[1:]
	}
	switch {
	case len(d) == 0:
		return 0, p.fail("empty integer")
	case len(d) > 1 && d[0] == '0', neg && d[0] == '0':
		return 0, p.fail("integer with a leading zero or -0")
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, p.fail("non-digit in integer")
		}
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, &Error{Code: CodeInvalidField, Reason: "integer out of the 64-bit range at offset " + strconv.Itoa(p.pos)}
	}
	p.pos += end + 1
	return n, nil
}

func (p *parser) str() ([]byte, error) {
	start := p.pos
	n, err := p.integer(':')
	if err != nil {
		p.pos = start
		return nil, p.fail("bad string length")
	}
	if p.b[start] == '-' {
		p.pos = start
		return nil, p.fail("negative string length")
	}
	if n > int64(len(p.b)-p.pos) {
		return nil, p.fail("string longer than the message")
	}
	s := p.b[p.pos : p.pos+int(n)]
	p.pos += int(n)
	return s, nil
}

// items calls item for each element of the list or dict (what) being
// parsed, up to and including its closing 'e'.
func (p *parser) items(what string, item func() error) error {
	for {
		if p.pos >= len(p.b) {
			return p.fail("unterminated " + what)
		}
		if p.b[p.pos] == 'e' {
			p.pos++
			return nil
		}
		if err := item(); err != nil {
			return err
		}
	}
}

func (p *parser) list(depth int) (value, error) {
	v := value{kind: 'l'}
	err := p.items("list", func() error {
		e, err := p.value(depth + 1)
		v.l = append(v.l, e)
		return err
	})
	if err != nil {
		return value{}, err
	}
	return v, nil
}

func (p *parser) dict(depth int) (value, error) {
	v := value{kind: 'd'}
	err := p.items("dict", func() error {
		if c := p.b[p.pos]; c < '0' || c > '9' {
			return p.fail("dict key is not a byte string")
		}
		k, err := p.str()
		if err != nil {
			return err
		}
		if n := len(v.d); n > 0 && v.d[n-1].key >= string(k) {
			return p.fail("dict keys not in strictly ascending order")
		}
		e, err := p.value(depth + 1)
		v.d = append(v.d, entry{key: string(k), val: e})
		return err
	})
	if err != nil {
		return value{}, err
	}
	return v, nil
}

// dictWriter builds a bencoded dict; it sorts the keys on write.
type dictWriter struct {
	keys []string
	vals [][]byte
}

func (w *dictWriter) int(key string, n int64) {
	w.keys = append(w.keys, key)
	w.vals = append(w.vals, []byte("i"+strconv.FormatInt(n, 10)+"e"))
}

func (w *dictWriter) bytes(key string, s []byte) {
	w.keys = append(w.keys, key)
	v := make([]byte, 0, len(s)+4)
	v = strconv.AppendInt(v, int64(len(s)), 10)
	v = append(v, ':')
	w.vals = append(w.vals, append(v, s...))
}

func (w *dictWriter) encode() []byte {
	idx := make([]int, len(w.keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return w.keys[idx[a]] < w.keys[idx[b]] })
	out := []byte{'d'}
	for _, i := range idx {
		out = strconv.AppendInt(out, int64(len(w.keys[i])), 10)
		out = append(out, ':')
		out = append(out, w.keys[i]...)
		out = append(out, w.vals[i]...)
	}
	return append(out, 'e')
}
