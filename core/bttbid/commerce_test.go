package bttbid

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

func testIH(fill byte) (ih [20]byte) {
	for i := range ih {
		ih[i] = fill
	}
	return ih
}

func samplePledge(payer byte, amount uint64) Pledge {
	return Pledge{ChainID: ChainLocal, Token: testAddr(1), Payer: testAddr(payer), Payee: testAddr(3),
		InfoHash: testIH(0xaa), Amount: wallet.NewAmount(amount), Goal: wallet.NewAmount(1000),
		Deadline: 1767225600, Time: 1764000000, Sig: testSig(payer, 28)}
}

func sampleCommerce(t testing.TB) []Message {
	cheque := Cheque{ChainID: ChainLocal, Token: testAddr(1), Payer: testAddr(2), Beneficiary: testAddr(3),
		Payout: wallet.NewAmount(5_000_000), Sig: testSig(9, 27)}
	p := samplePledge(2, 250)
	lic := License{InfoHash: testIH(0xaa), Buyer: testAddr(2), Payee: testAddr(3), ChainID: ChainNile,
		Token: testAddr(1), Price: wallet.NewAmount(1_000_000), Sig: testSig(4, 27)}
	pres := lic
	pres.Time, pres.PresentSig = 1764000000, testSig(5, 28)
	funded := &Funded{InfoHash: testIH(0xaa)}
	for i := range MaxFundedPledges {
		funded.Pledges = append(funded.Pledges, samplePledge(byte(10+i), 100))
	}
	return []Message{
		&Tip{Cheque: cheque, For: PurposeTip, Amount: wallet.NewAmount(1_000_000), InfoHash: testIH(0xaa),
			Memo: "merci pour le seed — 🙏", NoteSig: testSig(8, 28)},
		&Tip{Cheque: cheque, For: PurposeTip, Amount: cheque.Payout, InfoHash: testIH(0), Memo: strings.Repeat("é", 70), NoteSig: testSig(8, 27)},
		&Tip{Cheque: cheque, For: PurposePurchase, Amount: wallet.NewAmount(1), InfoHash: testIH(0xaa), NoteSig: testSig(8, 28)},
		&Tip{Cheque: Cheque{ChainID: ChainMainnet, Token: testAddr(1), Payer: testAddr(2), Beneficiary: testAddr(3),
			Payout: maxAmount(t), Sig: testSig(9, 27)}, For: PurposePledge, Amount: maxAmount(t), InfoHash: testIH(0xff), NoteSig: testSig(8, 28)},
		&lic,
		&pres,
		&p,
		&Campaign{InfoHash: testIH(0xaa), Goal: wallet.NewAmount(1000), Deadline: 1767225600, Pledged: wallet.Amount{}, Count: 0},
		&Campaign{InfoHash: testIH(0xaa), Goal: maxAmount(t), Deadline: 1<<63 - 1, Pledged: maxAmount(t), Count: 1<<63 - 1},
		&Funded{InfoHash: testIH(0xaa), Pledges: []Pledge{p}},
		funded,
	}
}

// TestCommerceGolden pins version 2 wire bytes (docs/PROTOCOL.md §16).
func TestCommerceGolden(t *testing.T) {
	ihb, a1, a2, a3, sg := testIH(0xaa), testAddr(1), testAddr(2), testAddr(3), testSig(4, 27)
	ih := string(ihb[:])
	tests := []golden{
		{&Campaign{InfoHash: testIH(0xaa), Goal: wallet.NewAmount(1000), Deadline: 1767225600, Pledged: wallet.NewAmount(255), Count: 1},
			"d5:counti1e8:deadlinei1767225600e4:goal2:\x03\xe82:ih20:" + ih + "7:pledged1:\xff1:t8:campaigne"},
		{&License{InfoHash: testIH(0xaa), Buyer: testAddr(2), Payee: testAddr(3), ChainID: 1, Token: testAddr(1),
			Price: wallet.NewAmount(1), Sig: testSig(4, 27)},
			"d5:buyer21:" + string(a2[:]) + "5:chaini1e2:ih20:" + ih + "4:lsig65:" + string(sg[:]) +
				"5:payee21:" + string(a3[:]) + "5:price1:\x011:t7:license5:token21:" + string(a1[:]) + "e"},
	}
	checkGolden(t, tests)
}

func TestHelloVersions(t *testing.T) {
	if Version != 3 {
		t.Fatalf("Version = %d, want 3", Version)
	}
	h := &Hello{Version: 2, ChainID: ChainLocal, Token: testAddr(1), Address: testAddr(2), Time: 1764000000, Sig: testSig(7, 27)}
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("1:vi2ee")) {
		t.Fatalf("version 2 HELLO encodes as %q", b)
	}
	// A version 2 HELLO has no nonce or vault, and still decodes.
	if m, err := Decode(b); err != nil || !m.(*Hello).Nonce.IsZero() || !m.(*Hello).Vault.IsZero() {
		t.Fatalf("v=2 HELLO decodes as %+v, %v", m, err)
	}
	// A version 1 peer's HELLO (the §14 vector's fields) still decodes.
	h.Version = 1
	b, _ = Encode(h)
	m, err := Decode(b)
	if err != nil {
		t.Fatalf("v=1 HELLO rejected: %v", err)
	}
	if m.(*Hello).Version != 1 {
		t.Fatalf("v=1 HELLO decodes as %+v", m)
	}
}

// TestFundedWorstCase shows MaxFundedPledges is the largest count whose
// worst case fits MaxMessageSize.
func TestFundedWorstCase(t *testing.T) {
	worst := func(payer byte) Pledge {
		return Pledge{ChainID: 1<<63 - 1, Token: testAddr(1), Payer: testAddr(payer), Payee: testAddr(3),
			InfoHash: testIH(0xaa), Amount: maxAmount(t), Goal: maxAmount(t),
			Deadline: 1<<63 - 1, Time: 1<<63 - 1, Sig: testSig(payer, 28)}
	}
	f := &Funded{InfoHash: testIH(0xaa)}
	for i := range MaxFundedPledges {
		f.Pledges = append(f.Pledges, worst(byte(i+10)))
	}
	b, err := Encode(f)
	if err != nil {
		t.Fatalf("worst-case FUNDED of %d pledges: %v", MaxFundedPledges, err)
	}
	var pe encoder
	p := worst(99)
	pe.pledge(&p)
	one := len(pe.w.encode())
	t.Logf("worst case: FUNDED of %d pledges is %d bytes, one pledge %d bytes", MaxFundedPledges, len(b), one)
	if len(b)+one <= MaxMessageSize {
		t.Fatalf("%d+%d bytes: one more worst-case pledge would fit; raise MaxFundedPledges", len(b), one)
	}
	if _, err := Decode(b); err != nil {
		t.Fatalf("worst-case FUNDED does not decode: %v", err)
	}
}

func TestLicensePresentationBytes(t *testing.T) {
	k, err := wallet.KeyFromHex("24cbc3b1e4a2cd54242206c7c406e85528028e4489e50d20bb93f6b44e653076")
	if err != nil {
		t.Fatal(err)
	}
	lic := &License{
		InfoHash: mustHex20(t, "c9e15763f722f23e98a29decdfae341b98d53056"),
		Buyer:    Address(k.Address()),
		Payee:    mustAddr(t, "4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c"),
		ChainID:  ChainNile,
		Token:    mustAddr(t, "41032017411f4663b317fe77c257d28d5cd1b26e3d"),
		Price:    wallet.NewAmount(5000000000000000000),
	}
	infoHash := lic.InfoHash
	seller := mustHex20(t, "2d7142343532302d6162636465666768696a6b6c")
	buyer := mustHex20(t, "2d4254303030312d000102030405060708090a0b")
	got := string(LicensePresentationBytes(lic, infoHash, seller, buyer, 1764000000))
	want := "btt_bid license presentation\n" +
		"version: 2\n" +
		"infohash: c9e15763f722f23e98a29decdfae341b98d53056\n" +
		"seller: 2d7142343532302d6162636465666768696a6b6c\n" +
		"buyer: 2d4254303030312d000102030405060708090a0b\n" +
		"chain: 3448148188\n" +
		"token: 41032017411f4663b317fe77c257d28d5cd1b26e3d\n" +
		"payee: 4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c\n" +
		"address: 414799a56c0d4cd33838c1f002e2ab73b8dda0c774\n" +
		"price: 5000000000000000000\n" +
		"time: 1764000000\n"
	if got != want {
		t.Fatalf("LicensePresentationBytes:\n%s\nwant\n%s", got, want)
	}
	sig, err := k.SignMessage([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if err := wallet.VerifyMessage(wallet.Address(lic.Buyer), []byte(want), sig); err != nil {
		t.Fatalf("wallet does not verify the presentation: %v", err)
	}
	// The vector of docs/PROTOCOL.md §16 (RFC 6979, so fixed).
	if h := tip191([]byte(got)); h != "b203bd7990632884120df917f9fb33c50d335bdad946543b7791cff46be0b231" {
		t.Fatalf("TIP-191 hash %s", h)
	}
	if s := hex.EncodeToString(sig[:]); s != "5a6e7a907d5410761b2c3d5e370bad53376452679bd45cf46a9ce1d436c223730af0d851e1d9f00771efb779023b8a38143695f92a01055adf56eae70b1ba2ca1c" {
		t.Fatalf("signature %s", s)
	}
	// The same licence on another connection, or the other way round, is
	// another string: a captured presentation cannot be replayed.
	for _, other := range []string{
		string(LicensePresentationBytes(lic, infoHash, buyer, seller, 1764000000)),
		string(LicensePresentationBytes(lic, infoHash, seller, testIH(1), 1764000000)),
		string(LicensePresentationBytes(lic, testIH(1), seller, buyer, 1764000000)),
		string(LicensePresentationBytes(lic, infoHash, seller, buyer, 1764000001)),
	} {
		if other == want {
			t.Fatal("presentation string does not bind the connection")
		}
		if wallet.VerifyMessage(wallet.Address(lic.Buyer), []byte(other), sig) == nil {
			t.Fatal("presentation signature verifies over another connection's string")
		}
	}
}

func TestSkewOK(t *testing.T) {
	now := time.Unix(1764000000, 0)
	for _, c := range []struct {
		ts   int64
		want bool
	}{
		{1764000000, true}, {1764000600, true}, {1763999400, true}, {1764000601, false}, {1763999399, false}, {1, false},
	} {
		if got := SkewOK(c.ts, now); got != c.want {
			t.Errorf("SkewOK(%d) = %v, want %v", c.ts, got, c.want)
		}
	}
}

func TestCommerceErrorCodes(t *testing.T) {
	for _, c := range []struct {
		code Code
		n    int64
		name string
	}{{CodeUnderpaid, 407, "underpaid"}, {CodeNotPayee, 408, "not_payee"}, {CodeBadLicense, 409, "bad_license"}} {
		if int64(c.code) != c.n || c.code.String() != c.name || c.code.Disables() {
			t.Errorf("code %d: %q disables=%v, want %d %q disable 0", c.code, c.code, c.code.Disables(), c.n, c.name)
		}
	}
	if CodeBadAward == CodeUnderpaid || CodeBadAward.String() != "bad_award" {
		t.Fatal("406 must stay bad_award")
	}
}

// bencoded field values of valid version 2 messages, for the rejection
// table: each case changes one key.
func commerceFields(typ Type) map[string]string {
	a := func(fill byte) string { x := testAddr(fill); return "21:" + string(x[:]) }
	s := func(fill byte) string { x := testSig(fill, 27); return "65:" + string(x[:]) }
	ihb := testIH(0xaa)
	ih := "20:" + string(ihb[:])
	switch typ {
	case TypeTip:
		return map[string]string{"t": "3:tip", "chain": "i1651799148e", "token": a(1), "payer": a(2), "beneficiary": a(3),
			"payout": "2:\x01\x00", "sig": s(4), "for": "3:tip", "amount": "1:\x10", "ih": ih, "memo": "5:hello", "nsig": s(5)}
	case TypeLicense:
		return map[string]string{"t": "7:license", "ih": ih, "buyer": a(2), "payee": a(3), "chain": "i1651799148e",
			"token": a(1), "price": "1:\x05", "lsig": s(4), "time": "i1764000000e", "psig": s(5)}
	case TypePledge:
		return map[string]string{"t": "6:pledge", "chain": "i1651799148e", "token": a(1), "payer": a(2), "payee": a(3),
			"ih": ih, "amount": "1:\x05", "goal": "2:\x03\xe8", "deadline": "i1767225600e", "time": "i1764000000e", "sig": s(4)}
	case TypeCampaign:
		return map[string]string{"t": "8:campaign", "ih": ih, "goal": "2:\x03\xe8", "deadline": "i1767225600e",
			"pledged": "0:", "count": "i0e"}
	case TypeFunded:
		p := commerceFields(TypePledge)
		delete(p, "t")
		return map[string]string{"t": "6:funded", "ih": ih, "pledges": "l" + dict(p) + "e"}
	}
	panic("no fields for " + string(typ))
}

func TestCommerceDecodeErrors(t *testing.T) {
	with := func(typ Type, mod func(map[string]string)) string {
		f := commerceFields(typ)
		mod(f)
		return dict(f)
	}
	set := func(k, v string) func(map[string]string) { return func(f map[string]string) { f[k] = v } }
	del := func(k string) func(map[string]string) { return func(f map[string]string) { delete(f, k) } }
	pledges := func(n int, mod func(i int, f map[string]string)) func(map[string]string) {
		return func(f map[string]string) {
			l := "l"
			for i := range n {
				p := commerceFields(TypePledge)
				delete(p, "t")
				x := testAddr(byte(10 + i))
				p["payer"] = "21:" + string(x[:])
				if mod != nil {
					mod(i, p)
				}
				l += dict(p)
			}
			f["pledges"] = l + "e"
		}
	}
	tests := []struct {
		name  string
		in    string
		field string
	}{
		{"tip control", with(TypeTip, func(map[string]string) {}), ""},
		{"tip missing nsig", with(TypeTip, del("nsig")), "nsig"},
		{"tip missing sig", with(TypeTip, del("sig")), "sig"},
		{"tip missing for", with(TypeTip, del("for")), "for"},
		{"tip missing amount", with(TypeTip, del("amount")), "amount"},
		{"tip missing ih", with(TypeTip, del("ih")), "ih"},
		{"tip missing beneficiary", with(TypeTip, del("beneficiary")), "beneficiary"},
		{"tip uses ben", with(TypeTip, func(f map[string]string) { f["ben"] = f["beneficiary"]; delete(f, "beneficiary") }), "beneficiary"},
		{"tip bad purpose", with(TypeTip, set("for", "6:refund")), "for"},
		{"tip purpose int", with(TypeTip, set("for", "i1e")), "for"},
		{"tip zero amount", with(TypeTip, set("amount", "0:")), "amount"},
		{"tip amount above payout", with(TypeTip, set("amount", "2:\x01\x01")), "amount"},
		{"tip amount leading zero", with(TypeTip, set("amount", "2:\x00\x01")), "amount"},
		{"tip ih 19 bytes", with(TypeTip, set("ih", "19:"+strings.Repeat("a", 19))), "ih"},
		{"tip ih int", with(TypeTip, set("ih", "i5e")), "ih"},
		{"tip memo 141 bytes", with(TypeTip, set("memo", "141:"+strings.Repeat("m", 141))), "memo"},
		{"tip memo 140 bytes ok", with(TypeTip, set("memo", "140:"+strings.Repeat("m", 140))), ""},
		{"tip memo bad utf8", with(TypeTip, set("memo", "3:a\xc3\x28")), "memo"},
		{"tip memo on purchase", with(TypeTip, set("for", "8:purchase")), "memo"},
		{"purchase without memo ok", with(TypeTip, func(f map[string]string) { f["for"] = "8:purchase"; delete(f, "memo") }), ""},
		{"tip nsig v", with(TypeTip, set("nsig", "65:"+strings.Repeat("\x01", 65))), "nsig"},
		{"tip chain zero", with(TypeTip, set("chain", "i0e")), "chain"},
		{"tip payer prefix", with(TypeTip, set("payer", "21:\x42"+strings.Repeat("\x01", 20))), "payer"},

		{"license control", with(TypeLicense, func(map[string]string) {}), ""},
		{"license grant ok", with(TypeLicense, func(f map[string]string) { delete(f, "time"); delete(f, "psig") }), ""},
		{"license time without psig", with(TypeLicense, del("psig")), "psig"},
		{"license psig without time", with(TypeLicense, del("time")), "time"},
		{"license time zero", with(TypeLicense, set("time", "i0e")), "time"},
		{"license zero price", with(TypeLicense, set("price", "0:")), "price"},
		{"license missing lsig", with(TypeLicense, del("lsig")), "lsig"},
		{"license missing buyer", with(TypeLicense, del("buyer")), "buyer"},
		{"license payee short", with(TypeLicense, set("payee", "20:"+strings.Repeat("\x41", 20))), "payee"},
		{"license missing ih", with(TypeLicense, del("ih")), "ih"},
		{"license missing token", with(TypeLicense, del("token")), "token"},

		{"pledge control", with(TypePledge, func(map[string]string) {}), ""},
		{"pledge zero amount", with(TypePledge, set("amount", "0:")), "amount"},
		{"pledge zero goal", with(TypePledge, set("goal", "0:")), "goal"},
		{"pledge after deadline", with(TypePledge, set("time", "i1767225601e")), "time"},
		{"pledge deadline zero", with(TypePledge, set("deadline", "i0e")), "deadline"},
		{"pledge missing payee", with(TypePledge, del("payee")), "payee"},
		{"pledge missing sig", with(TypePledge, del("sig")), "sig"},
		{"pledge amount 33 bytes", with(TypePledge, set("amount", "33:"+strings.Repeat("\x01", 33))), "amount"},

		{"campaign control", with(TypeCampaign, func(map[string]string) {}), ""},
		{"campaign zero goal", with(TypeCampaign, set("goal", "0:")), "goal"},
		{"campaign negative count", with(TypeCampaign, set("count", "i-1e")), "count"},
		{"campaign missing pledged", with(TypeCampaign, del("pledged")), "pledged"},
		{"campaign missing deadline", with(TypeCampaign, del("deadline")), "deadline"},

		{"funded control", with(TypeFunded, func(map[string]string) {}), ""},
		{"funded max ok", with(TypeFunded, pledges(MaxFundedPledges, nil)), ""},
		{"funded too many pledges", with(TypeFunded, pledges(MaxFundedPledges+1, nil)), "pledges"},
		{"funded empty", with(TypeFunded, set("pledges", "le")), "pledges"},
		{"funded missing pledges", with(TypeFunded, del("pledges")), "pledges"},
		{"funded pledges not list", with(TypeFunded, set("pledges", "i1e")), "pledges"},
		{"funded pledge not dict", with(TypeFunded, set("pledges", "li1ee")), "pledges"},
		{"funded bad inner pledge", with(TypeFunded, pledges(2, func(i int, f map[string]string) {
			if i == 1 {
				f["amount"] = "0:"
			}
		})), "pledges"},
		{"funded repeated payer", with(TypeFunded, pledges(2, func(_ int, f map[string]string) { x := testAddr(7); f["payer"] = "21:" + string(x[:]) })), "pledges"},
		{"funded other torrent", with(TypeFunded, pledges(2, func(i int, f map[string]string) {
			if i == 0 {
				x := testIH(0xbb)
				f["ih"] = "20:" + string(x[:])
			}
		})), "pledges"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.in) > MaxMessageSize {
				t.Fatalf("case is %d bytes, above MaxMessageSize", len(tt.in))
			}
			m, err := Decode([]byte(tt.in))
			if strings.HasSuffix(tt.name, "control") || strings.HasSuffix(tt.name, " ok") {
				if err != nil {
					t.Fatalf("valid message rejected: %v", err)
				}
				if _, err := Encode(m); err != nil {
					t.Fatalf("decoded message does not encode: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) = %#v, %v; want invalid_field in %q", tt.in, m, err, tt.field)
			}
			if e.Code != CodeInvalidField || e.Field != tt.field {
				t.Fatalf("error %v: code %v field %q, want invalid_field %q", e, e.Code, e.Field, tt.field)
			}
			if m != nil {
				t.Fatalf("Decode returned a message with an error: %#v", m)
			}
		})
	}
}

func TestCommerceEncodeRejects(t *testing.T) {
	tip := func(mod func(*Tip)) Message {
		m := sampleCommerce(t)[0].(*Tip)
		c := *m
		mod(&c)
		return &c
	}
	lic := func(mod func(*License)) Message {
		l := *sampleCommerce(t)[5].(*License)
		mod(&l)
		return &l
	}
	pl := func(mod func(*Pledge)) Message { p := samplePledge(2, 5); mod(&p); return &p }
	many := &Funded{InfoHash: testIH(0xaa)}
	for i := range MaxFundedPledges + 1 {
		many.Pledges = append(many.Pledges, samplePledge(byte(10+i), 1))
	}
	tests := []struct {
		name  string
		m     Message
		field string
	}{
		{"nil tip", (*Tip)(nil), ""},
		{"nil funded", (*Funded)(nil), ""},
		{"tip zero amount", tip(func(m *Tip) { m.Amount = wallet.Amount{} }), "amount"},
		{"tip amount above payout", tip(func(m *Tip) { m.Amount = wallet.NewAmount(5_000_001) }), "amount"},
		{"tip bad purpose", tip(func(m *Tip) { m.For = "gift" }), "for"},
		{"tip memo too long", tip(func(m *Tip) { m.Memo = strings.Repeat("x", MaxMemo+1) }), "memo"},
		{"tip memo bad utf8", tip(func(m *Tip) { m.Memo = "\xff" }), "memo"},
		{"tip memo on pledge", tip(func(m *Tip) { m.For = PurposePledge }), "memo"},
		{"tip zero nsig", tip(func(m *Tip) { m.NoteSig = Signature{} }), "nsig"},
		{"tip zero payer", tip(func(m *Tip) { m.Cheque.Payer = Address{} }), "payer"},
		{"license zero price", lic(func(l *License) { l.Price = wallet.Amount{} }), "price"},
		{"license psig without time", lic(func(l *License) { l.Time = 0 }), "time"},
		{"license time without psig", lic(func(l *License) { l.PresentSig = Signature{} }), "psig"},
		{"pledge zero goal", pl(func(p *Pledge) { p.Goal = wallet.Amount{} }), "goal"},
		{"pledge after deadline", pl(func(p *Pledge) { p.Time = p.Deadline + 1 }), "time"},
		{"campaign zero goal", &Campaign{InfoHash: testIH(1), Deadline: 1}, "goal"},
		{"funded empty", &Funded{InfoHash: testIH(0xaa)}, "pledges"},
		{"funded too many", many, "pledges"},
		{"funded bad pledge", &Funded{InfoHash: testIH(0xaa), Pledges: []Pledge{func() Pledge { p := samplePledge(2, 0); return p }()}}, "pledges"},
	}
	for _, tt := range tests {
		b, err := Encode(tt.m)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalidField || e.Field != tt.field {
			t.Errorf("%s: Encode = %q, %v; want invalid_field in %q", tt.name, b, err, tt.field)
		}
	}
}

// A version 1 decoder sees the new types as unknown: check the names are
// distinct from version 1's so that holds.
func TestCommerceTypesAreNew(t *testing.T) {
	old := map[Type]bool{TypeHello: true, TypeAsk: true, TypeBid: true, TypeAward: true, TypeOutbid: true,
		TypeCheque: true, TypeReceipt: true, TypeError: true}
	for _, m := range sampleCommerce(t) {
		if old[m.Type()] {
			t.Fatalf("type %q reuses a version 1 name", m.Type())
		}
	}
	if _, err := Decode([]byte("d1:t7:refunde")); err == nil {
		t.Fatal("unknown type decodes")
	}
}
