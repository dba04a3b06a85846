package bttbid

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// The version 3 vectors of docs/PROTOCOL.md §14: keep them in step. The
// key, addresses, peer IDs and time are §14's; the HELLO's nonce is the
// bytes 00…0f, the other side's f0 e1 … 0f (sellerNonce), the vault that
// of §11.1 and wallet TestVaultChequeVector14.
var (
	helloNonce  = Nonce{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	sellerNonce = Nonce{0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f}
)

func v14Key(t *testing.T) *wallet.Key {
	t.Helper()
	k, err := wallet.KeyFromHex("24cbc3b1e4a2cd54242206c7c406e85528028e4489e50d20bb93f6b44e653076")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func checkHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("%s:\n got %s\nwant %s", what, h, want)
	}
}

func TestVersion3Vectors(t *testing.T) {
	k := v14Key(t)
	vault := mustAddr(t, "414a62316623ad457f02cdc5d997ded67a383ec569")
	infoHash := mustHex20(t, "c9e15763f722f23e98a29decdfae341b98d53056")
	buyerID := mustHex20(t, "2d4254303030312d000102030405060708090a0b")
	sellerID := mustHex20(t, "2d7142343532302d6162636465666768696a6b6c")
	token := mustAddr(t, "41032017411f4663b317fe77c257d28d5cd1b26e3d")

	// HELLO v3: the signing string of §7.1 with "version: 3"; nonce and
	// vault are not in it (a version 2 receiver must verify it).
	h := &Hello{Version: 3, ChainID: ChainNile, Token: token, Address: Address(k.Address()), Time: 1764000000,
		Nonce: helloNonce, Vault: vault}
	msg := HelloSigningBytes(h, infoHash, buyerID, sellerID)
	checkHex(t, "HELLO v3 TIP-191 hash", []byte(mustUnhex(t, tip191(msg))), "0d5ca4443880841eb362416c4ab0173bf6cfadcae678a7b057141c1db7b40cca")
	sig, err := k.SignMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	h.Sig = Signature(sig)
	checkHex(t, "HELLO v3 signature", sig[:], "ea5677fa4c590247941bc17579b1386552eff32571427fcc88e8419e27f6bed2682e80fc309c4b5dd4f73607d11223ad658cdc220b10f8fa96a868d0863612431b")
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "HELLO v3 payload", b, "64343a6164647232313a414799a56c0d4cd33838c1f002e2ab73b8dda0c774353a636861696e693334343831343831383865353a6e6f6e636531363a000102030405060708090a0b0c0d0e0f333a73696736353aea5677fa4c590247941bc17579b1386552eff32571427fcc88e8419e27f6bed2682e80fc309c4b5dd4f73607d11223ad658cdc220b10f8fa96a868d0863612431b313a74353a68656c6c6f353a746f6b656e32313a41032017411f4663b317fe77c257d28d5cd1b26e3d323a7473693137363430303030303065313a76693365353a7661756c7432313a414a62316623ad457f02cdc5d997ded67a383ec56965")
	if m, err := Decode(b); err != nil || *m.(*Hello) != *h {
		t.Fatalf("HELLO v3 round trip: %v %+v", err, m)
	}

	// AUTH: the buyer proves its HELLO on this connection by signing the
	// seller's nonce.
	am := AuthSigningBytes(infoHash, buyerID, sellerID, Address(k.Address()), sellerNonce)
	want := "btt_bid AUTH\nversion: 3\ninfohash: c9e15763f722f23e98a29decdfae341b98d53056\n" +
		"sender: 2d4254303030312d000102030405060708090a0b\nreceiver: 2d7142343532302d6162636465666768696a6b6c\n" +
		"address: 414799a56c0d4cd33838c1f002e2ab73b8dda0c774\nnonce: f0e1d2c3b4a5968778695a4b3c2d1e0f\n"
	if string(am) != want {
		t.Fatalf("AuthSigningBytes:\n%s\nwant\n%s", am, want)
	}
	asig, _ := k.SignMessage(am)
	checkHex(t, "AUTH TIP-191 hash", []byte(mustUnhex(t, tip191(am))), "2e59e6077d8dcca0bfb6e328bd46dd90db8dfabc7befe1f502ebf7500ea201ee")
	ab, _ := Encode(&Auth{Sig: Signature(asig)})
	checkHex(t, "AUTH payload", ab, "64333a73696736353ac8731e2c11ef6d24d58846e2631d656f0ed4a192ba0311a5915126bd94ec3b9139a2bad46c8769d48793a71e24d8fb80975775930d1924a98ceca2972e2497e51c313a74343a6175746865")

	// Licence presentation v3: the §16.8 vector's licence, bound to the
	// seller's nonce.
	lic := &License{InfoHash: infoHash, Buyer: Address(k.Address()), Payee: mustAddr(t, "4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c"),
		ChainID: ChainNile, Token: token, Price: wallet.NewAmount(5000000000000000000)}
	pm := LicensePresentationBytesV3(lic, infoHash, sellerID, buyerID, 1764000000, sellerNonce)
	want = "btt_bid license presentation\nversion: 3\ninfohash: c9e15763f722f23e98a29decdfae341b98d53056\n" +
		"seller: 2d7142343532302d6162636465666768696a6b6c\nbuyer: 2d4254303030312d000102030405060708090a0b\n" +
		"nonce: f0e1d2c3b4a5968778695a4b3c2d1e0f\nchain: 3448148188\ntoken: 41032017411f4663b317fe77c257d28d5cd1b26e3d\n" +
		"payee: 4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c\naddress: 414799a56c0d4cd33838c1f002e2ab73b8dda0c774\n" +
		"price: 5000000000000000000\ntime: 1764000000\n"
	if string(pm) != want {
		t.Fatalf("LicensePresentationBytesV3:\n%s\nwant\n%s", pm, want)
	}
	psig, _ := k.SignMessage(pm)
	checkHex(t, "presentation v3 TIP-191 hash", []byte(mustUnhex(t, tip191(pm))), "a63d396aaa6ee3c6a84f73d914a6d42e606e9ab70d1cb7ef08f7089709dbfb56")
	checkHex(t, "presentation v3 signature", psig[:], "ba829b630530b06f7575eedf9fa562807ca3c18cadf9591aeba0343eb5b7fbc4105578e9ee100ed846ac0fae4ed587980ec503b6b9bb25be73573fe6f333861f1c")
	other := LicensePresentationBytesV3(lic, infoHash, sellerID, buyerID, 1764000000, helloNonce)
	if wallet.VerifyMessage(k.Address(), other, psig) == nil {
		t.Error("a presentation verified under another connection's nonce")
	}

	// CHEQUE with a vault: the §14 cheque signed in the vault's domain
	// (wallet TestVaultChequeVector14 checks it against go-ethereum).
	wc, err := wallet.SignVaultCheque(k, wallet.ChainIDNile, wallet.Address(vault), wallet.Address(token),
		wallet.MustParseAddress("TA8kuttZSqEvfLdJfkpN49i47tQcsskDg9"), wallet.NewAmount(1048576000000000000))
	if err != nil {
		t.Fatal(err)
	}
	c := &Cheque{ChainID: ChainNile, Token: token, Payer: Address(k.Address()), Beneficiary: Address(wc.Beneficiary),
		Payout: wc.Cumulative, Sig: Signature(wc.Signature), Vault: vault}
	cb, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "CHEQUE v3 payload", cb, "6431313a62656e656669636961727932313a4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c353a636861696e693334343831343831383865353a706179657232313a414799a56c0d4cd33838c1f002e2ab73b8dda0c774363a7061796f7574383a0e8d4a5100000000333a73696736353a0dfb94cba5e354a3b0a7933297a33236b89715a613a2c1169118388a43e7bbcf7e86c3b580a94db825f71166f3e9e4e6d98c560883a9d9e00de278859e2469bd1c313a74363a636865717565353a746f6b656e32313a41032017411f4663b317fe77c257d28d5cd1b26e3d353a7661756c7432313a414a62316623ad457f02cdc5d997ded67a383ec56965")
	if m, err := Decode(cb); err != nil || *m.(*Cheque) != *c {
		t.Fatalf("CHEQUE with vault round trip: %v %+v", err, m)
	}
	if !bytes.Contains(cb, append([]byte("5:vault21:"), vault[:]...)) {
		t.Error("no vault key")
	}
}

func mustUnhex(t *testing.T, s string) string {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVersion3Fields: the HELLO nonce is exactly 16 bytes and not all
// zero; vault keys are addresses; an AUTH needs its signature.
func TestVersion3Fields(t *testing.T) {
	a1, a2, sg := testAddr(1), testAddr(2), testSig(7, 27)
	bad := []string{
		"d4:addr21:" + string(a2[:]) + "5:chaini1e5:nonce3:abc3:sig65:" + string(sg[:]) + "1:t5:hello5:token21:" + string(a1[:]) + "2:tsi1e1:vi3ee",
		"d4:addr21:" + string(a2[:]) + "5:chaini1e5:nonce16:" + string(make([]byte, 16)) + "3:sig65:" + string(sg[:]) + "1:t5:hello5:token21:" + string(a1[:]) + "2:tsi1e1:vi3ee",
		"d4:addr21:" + string(a2[:]) + "5:chaini1e3:sig65:" + string(sg[:]) + "1:t5:hello5:token21:" + string(a1[:]) + "2:tsi1e1:vi3e5:vault3:abce",
		"d1:t4:authe",
	}
	for i, p := range bad {
		if _, err := Decode([]byte(p)); err == nil || err.(*Error).Code != CodeInvalidField {
			t.Errorf("case %d: %v", i, err)
		}
	}
}
