package bttbid

import (
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/wallet"
	"golang.org/x/crypto/sha3"
)

// tip191 is the TronWeb signMessageV2 hash; the wallet owns signing, this
// only pins the example in docs/PROTOCOL.md.
func tip191(msg []byte) string {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte("\x19TRON Signed Message:\n" + strconv.Itoa(len(msg))))
	h.Write(msg)
	return hex.EncodeToString(h.Sum(nil))
}

func TestTIP191MatchesTronWeb(t *testing.T) {
	// ../shared/testdata/tron-vectors.json, message "hello".
	if got, want := tip191([]byte("hello")), "a07d8e5b946cc0416662f5420751673680809e5f10313e20c7c5badb0ef4226d"; got != want {
		t.Fatalf("TIP-191 hash of hello = %s, want %s", got, want)
	}
}

func mustHex20(t *testing.T, s string) (b [20]byte) {
	t.Helper()
	if n, err := hex.Decode(b[:], []byte(s)); err != nil || n != 20 {
		t.Fatalf("bad hex %q", s)
	}
	return b
}

func mustAddr(t *testing.T, s string) Address {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	a, err := AddressFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The example of docs/PROTOCOL.md §7.1: keep them in step.
func TestHelloSigningBytes(t *testing.T) {
	h := &Hello{
		Version: 1,
		ChainID: ChainNile,
		Token:   mustAddr(t, "41032017411f4663b317fe77c257d28d5cd1b26e3d"),
		Address: mustAddr(t, "414799a56c0d4cd33838c1f002e2ab73b8dda0c774"),
		Time:    1764000000,
	}
	infoHash := mustHex20(t, "c9e15763f722f23e98a29decdfae341b98d53056")
	sender := mustHex20(t, "2d4254303030312d000102030405060708090a0b")
	receiver := mustHex20(t, "2d7142343532302d6162636465666768696a6b6c")
	got := string(HelloSigningBytes(h, infoHash, sender, receiver))
	want := "btt_bid HELLO\n" +
		"version: 1\n" +
		"infohash: c9e15763f722f23e98a29decdfae341b98d53056\n" +
		"sender: 2d4254303030312d000102030405060708090a0b\n" +
		"receiver: 2d7142343532302d6162636465666768696a6b6c\n" +
		"chain: 3448148188\n" +
		"token: 41032017411f4663b317fe77c257d28d5cd1b26e3d\n" +
		"address: 414799a56c0d4cd33838c1f002e2ab73b8dda0c774\n" +
		"time: 1764000000\n"
	if got != want {
		t.Fatalf("HelloSigningBytes:\n%s\nwant\n%s", got, want)
	}
	if got, want := tip191([]byte(got)), "bd99f9d6315063564fffa4062bb7fdae9e57b9a73487f83b944130fd631178a8"; got != want {
		t.Fatalf("TIP-191 hash %s, want %s", got, want)
	}
	// Signed by the first key of the TronWeb vectors (RFC 6979, so fixed).
	k, err := wallet.KeyFromHex("24cbc3b1e4a2cd54242206c7c406e85528028e4489e50d20bb93f6b44e653076")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.SignMessage([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	const wantSig = "42fdfba49ed94861815ba0c39f6b1f3f109962f2fbf813c3a23adc95681b14812fcf8578bb7becc86de9b295c82e0f723167648bea5817451f81b7bdb567348a1c"
	if hex.EncodeToString(sig[:]) != wantSig {
		t.Fatalf("signature %x, want %s", sig[:], wantSig)
	}
	if err := wallet.VerifyMessage(wallet.Address(h.Address), []byte(want), sig); err != nil {
		t.Fatalf("wallet does not verify the HELLO signature: %v", err)
	}
	copy(h.Sig[:], sig[:])
	if _, err := Encode(h); err != nil {
		t.Fatalf("signed HELLO does not encode: %v", err)
	}
	// Swapping the peer IDs (the other direction) must change what is signed.
	if string(HelloSigningBytes(h, infoHash, receiver, sender)) == want {
		t.Fatal("sender and receiver are not bound in order")
	}
}

func TestReceiptSigningBytes(t *testing.T) {
	c := &Cheque{
		ChainID:     ChainLocal,
		Token:       mustAddr(t, "41032017411f4663b317fe77c257d28d5cd1b26e3d"),
		Payer:       mustAddr(t, "414799a56c0d4cd33838c1f002e2ab73b8dda0c774"),
		Beneficiary: mustAddr(t, "4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c"),
	}
	r := &Receipt{Payout: wallet.NewAmount(1048576000000000000), Owed: wallet.NewAmount(1100000000000000000)}
	got := string(ReceiptSigningBytes(c.Account(), r))
	want := "btt_bid RECEIPT\n" +
		"version: 1\n" +
		"chain: 1651799148\n" +
		"token: 41032017411f4663b317fe77c257d28d5cd1b26e3d\n" +
		"payer: 414799a56c0d4cd33838c1f002e2ab73b8dda0c774\n" +
		"beneficiary: 4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c\n" +
		"payout: 1048576000000000000\n" +
		"owed: 1100000000000000000\n"
	if got != want {
		t.Fatalf("ReceiptSigningBytes:\n%s\nwant\n%s", got, want)
	}
}

// The payloads of docs/PROTOCOL.md §14 decode to what the text says, and
// the document still carries them.
func TestProtocolVectors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatalf("cannot read the spec: %v", err)
	}
	const helloHex = "64343a6164647232313a414799a56c0d4cd33838c1f002e2ab73b8dda0c774353a636861696e693334343831343831383865333a73696736353a42fdfba49ed94861815ba0c39f6b1f3f109962f2fbf813c3a23adc95681b14812fcf8578bb7becc86de9b295c82e0f723167648bea5817451f81b7bdb567348a1c313a74353a68656c6c6f353a746f6b656e32313a41032017411f4663b317fe77c257d28d5cd1b26e3d323a7473693137363430303030303065313a7669316565"
	const chequeHex = "6431313a62656e656669636961727932313a4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c353a636861696e693334343831343831383865353a706179657232313a414799a56c0d4cd33838c1f002e2ab73b8dda0c774363a7061796f7574383a0e8d4a5100000000333a73696736353ac81137ebb7da7ffcb17b32f6b6e149d402e59a2800aaaa961d99c6a0d1eacb543cdee93a05815eacc2d441fe4ce511becc365157035fbe2e3a74d9586ba2434a1c313a74363a636865717565353a746f6b656e32313a41032017411f4663b317fe77c257d28d5cd1b26e3d65"
	for _, h := range []string{helloHex, chequeHex} {
		if !strings.Contains(string(doc), h) {
			t.Errorf("PROTOCOL.md no longer carries vector %.40s…", h)
		}
	}
	b, _ := hex.DecodeString(helloHex)
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	h := m.(*Hello)
	if h.ChainID != ChainNile || h.Time != 1764000000 || h.Address.String() != "414799a56c0d4cd33838c1f002e2ab73b8dda0c774" {
		t.Fatalf("HELLO vector decodes to %+v", h)
	}
	b, _ = hex.DecodeString(chequeHex)
	m, err = Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	c := m.(*Cheque)
	wc := wallet.Cheque{ChainID: c.ChainID, Token: wallet.Address(c.Token), Payer: wallet.Address(c.Payer),
		Beneficiary: wallet.Address(c.Beneficiary), Cumulative: c.Payout, Signature: wallet.Signature(c.Sig)}
	if got := hex.EncodeToString(func() []byte { d := wc.Digest(); return d[:] }()); got != "3827777f631300458e64eff472c513a4defb4bf4e0736ee5ba0cb0726b119e8a" {
		t.Fatalf("CHEQUE vector digest %s", got)
	}
	if signer, err := wallet.Recover(wc.Digest(), wc.Signature); err != nil || signer != wc.Payer {
		t.Fatalf("CHEQUE vector signed by %v (%v), want the payer", signer, err)
	}
}
