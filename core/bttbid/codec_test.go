package bttbid

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

func testAddr(fill byte) Address {
	var a Address
	a[0] = 0x41
	for i := 1; i < len(a); i++ {
		a[i] = fill
	}
	return a
}

func testSig(fill, v byte) Signature {
	var s Signature
	for i := range s {
		s[i] = fill
	}
	s[64] = v
	return s
}

func maxAmount(t testing.TB) wallet.Amount {
	t.Helper()
	b := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	a, err := wallet.AmountFromBig(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sampleMessages(t testing.TB) []Message {
	return []Message{
		&Hello{Version: 1, ChainID: ChainNile, Token: testAddr(0x11), Address: testAddr(0x22), Time: 1764000000, Sig: testSig(7, 27)},
		&Hello{Version: 65535, ChainID: 1<<63 - 1, Token: testAddr(0), Address: testAddr(0xff), Time: 1, Sig: testSig(0xff, 28)},
		&Ask{Price: wallet.NewAmount(1_000_000_000_000_000), RoundLength: DefaultRound, Credit: 2 * MiB, Cap: 64 * MiB, Slots: 4},
		&Ask{Price: wallet.Amount{}, RoundLength: MinRound, Credit: 1, Cap: 1},
		&Ask{Price: maxAmount(t), RoundLength: MaxRound, Credit: MaxCreditBytes, Cap: MaxCreditBytes, Slots: 65535},
		&Bid{Seq: 1, Price: wallet.NewAmount(1 << 20)},
		&Bid{Seq: 1<<63 - 1, Price: wallet.Amount{}},
		&Award{Round: 0, Seq: 3, Price: wallet.NewAmount(5), Credit: wallet.NewAmount(10)},
		&Award{Round: 99, Seq: 1, Price: maxAmount(t), Credit: maxAmount(t)},
		&Outbid{Round: 7, Seq: 2, Price: wallet.NewAmount(255)},
		&Cheque{ChainID: ChainLocal, Token: testAddr(1), Payer: testAddr(2), Beneficiary: testAddr(3), Payout: wallet.NewAmount(123456789), Sig: testSig(9, 28)},
		&Receipt{Payout: wallet.NewAmount(42), Owed: wallet.NewAmount(50)},
		&Receipt{Payout: wallet.NewAmount(42), Owed: wallet.NewAmount(50), Credit: wallet.NewAmount(4096)},
		&Receipt{Payout: wallet.Amount{}, Owed: wallet.Amount{}, Sig: testSig(1, 27)},
		&ErrorMsg{Code: CodeStaleCheque},
		&ErrorMsg{Code: CodeBadSignature, Text: "signature does not recover 41…", Disable: true},
		&ErrorMsg{Code: 65535, Text: strings.Repeat("é", 128)},
	}
}

// TestRoundTrip: every message of both versions decodes to itself and
// re-encodes to the same bytes.
func TestRoundTrip(t *testing.T) {
	for _, m := range append(sampleMessages(t), sampleCommerce(t)...) {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", m, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%q): %v", b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %s:\n got %#v\nwant %#v", m.Type(), got, m)
		}
		again, err := Encode(got)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("re-encoding %s is not canonical: %q vs %q (%v)", m.Type(), again, b, err)
		}
	}
}

// TestGoldenEncoding pins the wire bytes: a change here breaks every peer.
func TestGoldenEncoding(t *testing.T) {
	tests := []golden{
		{&Bid{Seq: 1, Price: wallet.NewAmount(1 << 20)}, "d5:price3:\x10\x00\x003:seqi1e1:t3:bide"},
		{&Bid{Seq: 2, Price: wallet.Amount{}}, "d5:price0:3:seqi2e1:t3:bide"},
		{&Outbid{Round: 7, Seq: 2, Price: wallet.NewAmount(255)}, "d5:price1:\xff1:ri7e3:seqi2e1:t6:outbide"},
		{&Ask{Price: wallet.NewAmount(1000), RoundLength: 10 * time.Second, Credit: 2097152, Cap: 67108864},
			"d3:capi67108864e6:crediti2097152e5:price2:\x03\xe85:roundi10000e1:t3:aske"},
		{&ErrorMsg{Code: CodeCreditExceeded, Text: "pay up"}, "d4:codei404e3:msg6:pay up1:t5:errore"},
		{&ErrorMsg{Code: CodeBadPiece, Disable: true}, "d4:codei405e7:disablei1e1:t5:errore"},
	}
	checkGolden(t, tests)
}

func TestDecodeIgnoresUnknownKeys(t *testing.T) {
	in := "d5:extrali1ed1:xi2eee5:price1:\x053:seqi4e1:t3:bid7:x_laterle3:zzzi-3ee"
	m, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &Bid{Seq: 4, Price: wallet.NewAmount(5)}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %#v, want %#v", m, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	a1, a2, sig := testAddr(1), testAddr(2), testSig(3, 27)
	hello := func(mod func(map[string]string)) string {
		f := map[string]string{
			"addr":  "21:" + string(a2[:]),
			"chain": "i3448148188e",
			"sig":   "65:" + string(sig[:]),
			"t":     "5:hello",
			"token": "21:" + string(a1[:]),
			"ts":    "i1764000000e",
			"v":     "i1e",
		}
		mod(f)
		return dict(f)
	}
	tests := []struct {
		name  string
		in    string
		code  Code
		field string
	}{
		{"empty", "", CodeMalformed, ""},
		{"not a dict", "i1e", CodeMalformed, ""},
		{"list", "le", CodeMalformed, ""},
		{"truncated", "d1:t3:bid", CodeMalformed, ""},
		{"trailing bytes", "d1:t3:bidee", CodeMalformed, ""},
		{"unsorted keys", "d1:t3:bid3:seqi1e5:price0:e", CodeMalformed, ""},
		{"duplicate keys", "d5:price0:5:price0:3:seqi1e1:t3:bide", CodeMalformed, ""},
		{"leading zero int", "d5:price0:3:seqi01e1:t3:bide", CodeMalformed, ""},
		{"minus zero", "d5:price0:3:seqi-0e1:t3:bide", CodeMalformed, ""},
		{"empty int", "d5:price0:3:seqie1:t3:bide", CodeMalformed, ""},
		{"string too long", "d5:price99:\x01e", CodeMalformed, ""},
		{"huge string length", "d5:price99999999999999999999999:", CodeMalformed, ""},
		{"int key", "di1ei2ee", CodeMalformed, ""},
		{"too deep", "d1:x" + strings.Repeat("l", 20) + strings.Repeat("e", 20) + "e", CodeMalformed, ""},
		{"too large", "d1:x4097:" + strings.Repeat("a", 4097) + "e", CodeTooLarge, ""},
		{"int overflow", "d5:price0:3:seqi9223372036854775808e1:t3:bide", CodeInvalidField, ""},
		{"no type", "d5:price0:3:seqi1ee", CodeInvalidField, "t"},
		{"type not string", "d1:ti1ee", CodeInvalidField, "t"},
		{"unknown type", "d1:t6:refunde", CodeUnknownType, "t"},
		{"missing seq", "d5:price0:1:t3:bide", CodeInvalidField, "seq"},
		{"seq zero", "d5:price0:3:seqi0e1:t3:bide", CodeInvalidField, "seq"},
		{"seq negative", "d5:price0:3:seqi-1e1:t3:bide", CodeInvalidField, "seq"},
		{"seq is string", "d5:price0:3:seq1:11:t3:bide", CodeInvalidField, "seq"},
		{"price is int", "d5:pricei5e3:seqi1e1:t3:bide", CodeInvalidField, "price"},
		{"amount leading zero", "d5:price2:\x00\x053:seqi1e1:t3:bide", CodeInvalidField, "price"},
		{"amount 33 bytes", "d5:price33:" + strings.Repeat("\x01", 33) + "3:seqi1e1:t3:bide", CodeInvalidField, "price"},
		{"hello ok control", hello(func(map[string]string) {}), 0, ""},
		{"address prefix", hello(func(f map[string]string) { f["addr"] = "21:" + "\x42" + strings.Repeat("\x01", 20) }), CodeInvalidField, "addr"},
		{"address length", hello(func(f map[string]string) { f["token"] = "20:" + strings.Repeat("\x41", 20) }), CodeInvalidField, "token"},
		{"sig length", hello(func(f map[string]string) { f["sig"] = "64:" + strings.Repeat("\x01", 64) }), CodeInvalidField, "sig"},
		{"sig v", hello(func(f map[string]string) { f["sig"] = "65:" + strings.Repeat("\x01", 65) }), CodeInvalidField, "sig"},
		{"version zero", hello(func(f map[string]string) { f["v"] = "i0e" }), CodeInvalidField, "v"},
		{"version huge", hello(func(f map[string]string) { f["v"] = "i65536e" }), CodeInvalidField, "v"},
		{"chain zero", hello(func(f map[string]string) { f["chain"] = "i0e" }), CodeInvalidField, "chain"},
		{"no timestamp", hello(func(f map[string]string) { delete(f, "ts") }), CodeInvalidField, "ts"},
		{"round too short", "d3:capi10e6:crediti1e5:price0:5:roundi999e1:t3:aske", CodeInvalidField, "round"},
		{"round too long", "d3:capi10e6:crediti1e5:price0:5:roundi600001e1:t3:aske", CodeInvalidField, "round"},
		{"cap below credit", "d3:capi1e6:crediti2e5:price0:5:roundi1000e1:t3:aske", CodeInvalidField, "cap"},
		{"credit zero", "d3:capi1e6:crediti0e5:price0:5:roundi1000e1:t3:aske", CodeInvalidField, "credit"},
		{"credit huge", "d3:capi1099511627777e6:crediti1099511627777e5:price0:5:roundi1000e1:t3:aske", CodeInvalidField, "credit"},
		{"error code zero", "d4:codei0e1:t5:errore", CodeInvalidField, "code"},
		{"error disable 2", "d4:codei100e7:disablei2e1:t5:errore", CodeInvalidField, "disable"},
		{"error text not utf8", "d4:codei100e3:msg2:\xff\xfe1:t5:errore", CodeInvalidField, "msg"},
		{"error text too long", "d4:codei100e3:msg257:" + strings.Repeat("a", 257) + "1:t5:errore", CodeInvalidField, "msg"},
		{"receipt bad sig", "d4:owed0:6:payout0:3:sig3:abc1:t7:receipte", CodeInvalidField, "sig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in))
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("control message rejected: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) = %#v, %v; want *Error code %v", tt.in, m, err, tt.code)
			}
			if e.Code != tt.code || e.Field != tt.field {
				t.Fatalf("Decode(%q) error %v: code %v field %q, want %v %q", tt.in, e, e.Code, e.Field, tt.code, tt.field)
			}
			if m != nil {
				t.Fatalf("Decode returned a message with an error: %#v", m)
			}
		})
	}
}

// dict bencodes a map whose values are already bencoded.
func dict(f map[string]string) string {
	var w dictWriter
	for k, v := range f {
		w.keys = append(w.keys, k)
		w.vals = append(w.vals, []byte(v))
	}
	return string(w.encode())
}

func TestEncodeRejectsOutOfRange(t *testing.T) {
	good := Hello{Version: 1, ChainID: ChainLocal, Token: testAddr(1), Address: testAddr(2), Time: 1, Sig: testSig(1, 27)}
	tests := []struct {
		name  string
		m     Message
		field string
	}{
		{"nil message", nil, ""},
		{"nil pointer", (*Bid)(nil), ""},
		{"hello version 0", func() Message { h := good; h.Version = 0; return &h }(), "v"},
		{"hello zero address", func() Message { h := good; h.Address = Address{}; return &h }(), "addr"},
		{"hello zero sig", func() Message { h := good; h.Sig = Signature{}; return &h }(), "sig"},
		{"hello negative time", func() Message { h := good; h.Time = -5; return &h }(), "ts"},
		{"bid seq 0", &Bid{}, "seq"},
		{"ask round 0", &Ask{Credit: 1, Cap: 1}, "round"},
		{"ask cap below credit", &Ask{RoundLength: time.Second, Credit: 5, Cap: 4}, "cap"},
		{"ask credit too big", &Ask{RoundLength: time.Second, Credit: MaxCreditBytes + 1, Cap: MaxCreditBytes + 1}, "credit"},
		{"cheque chain 0", &Cheque{Token: testAddr(1), Payer: testAddr(2), Beneficiary: testAddr(3), Sig: testSig(1, 28)}, "chain"},
		{"receipt bad sig v", &Receipt{Sig: testSig(1, 1)}, "sig"},
		{"error code 0", &ErrorMsg{}, "code"},
		{"error text too long", &ErrorMsg{Code: 1, Text: strings.Repeat("x", 257)}, "msg"},
		{"error text not utf8", &ErrorMsg{Code: 1, Text: "\xff"}, "msg"},
	}
	for _, tt := range tests {
		b, err := Encode(tt.m)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalidField || e.Field != tt.field {
			t.Errorf("%s: Encode = %q, %v; want invalid_field in %q", tt.name, b, err, tt.field)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Code: CodeInvalidField, Field: "price", Reason: strings.Repeat("ü", 300)}
	m := e.ErrorMessage()
	if m.Code != CodeInvalidField || !m.Disable {
		t.Fatalf("got %+v", m)
	}
	if _, err := Encode(m); err != nil {
		t.Fatalf("ERROR built from a codec error does not encode: %v", err)
	}
	if (&Error{Code: CodeStaleCheque}).ErrorMessage().Disable {
		t.Fatal("stale_cheque must not disable")
	}
	if got := Code(999).String(); got != "code 999" {
		t.Fatalf("unknown code renders as %q", got)
	}
}

func TestChainIDsAgreeWithWallet(t *testing.T) {
	for _, c := range []struct{ ours, wallet uint64 }{
		{ChainMainnet, wallet.ChainIDMainnet},
		{ChainNile, wallet.ChainIDNile},
		{ChainShasta, wallet.ChainIDShasta},
		{ChainLocal, wallet.ChainIDLocal},
	} {
		if c.ours != c.wallet {
			t.Errorf("chain id %d here, %d in wallet", c.ours, c.wallet)
		}
	}
}

// golden is a message and its exact wire bytes.
type golden struct {
	m    Message
	want string
}

func checkGolden(t *testing.T, tests []golden) {
	t.Helper()
	for _, tt := range tests {
		got, err := Encode(tt.m)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", tt.m, err)
		}
		if string(got) != tt.want {
			t.Errorf("Encode(%#v)\n got %q\nwant %q", tt.m, got, tt.want)
		}
	}
}
