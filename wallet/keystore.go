package wallet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"
	"golang.org/x/crypto/scrypt"

	"github.com/bidtorrent/bidtorrent/internal/atomicfile"
)

// Scrypt parameters of new keystores. Standard is what TronLink and geth
// use (256 MiB, about a second); Light is for tests.
const (
	StandardScryptN = 1 << 18
	StandardScryptP = 1
	LightScryptN    = 1 << 12
	LightScryptP    = 6
)

// KeystoreFile is the name of the key file inside a Keystore's dir.
const KeystoreFile = "key.json"

// Keystore is one encrypted key in a dedicated directory (mode 0700),
// stored as a Web3 secret-storage v3 JSON file (scrypt + AES-128-CTR,
// mode 0600) — the format geth, TronLink exports and TronWeb read. The
// JSON's "address" field is the 21-byte hex TRON address, readable
// without the passphrase.
type Keystore struct {
	Dir     string
	ScryptN int // zero means StandardScryptN
	ScryptP int // zero means StandardScryptP
}

// Path returns the key file's path.
func (s Keystore) Path() string { return filepath.Join(s.Dir, KeystoreFile) }

// Exists reports whether the key file is present.
func (s Keystore) Exists() bool {
	_, err := os.Stat(s.Path())
	return err == nil
}

// Address reads the key's address without decrypting it.
func (s Keystore) Address() (Address, error) {
	b, err := s.read()
	if err != nil {
		return Address{}, err
	}
	var head struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Address{}, fmt.Errorf("keystore %s is not JSON: %w", s.Path(), err)
	}
	a, err := ParseAddress(head.Address)
	if err != nil {
		return Address{}, fmt.Errorf("keystore %s: %w", s.Path(), err)
	}
	return a, nil
}

// Unlock decrypts the key. A wrong passphrase is ErrWrongPassphrase.
func (s Keystore) Unlock(passphrase string) (*Key, error) {
	b, err := s.read()
	if err != nil {
		return nil, err
	}
	k, err := DecryptKeyJSON(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("cannot unlock %s: %w", s.Path(), err)
	}
	return k, nil
}

// Save encrypts k with passphrase and writes the key file (0600; dir
// 0700), fsynced. It never overwrites an existing key.
func (s Keystore) Save(k *Key, passphrase string) error {
	if passphrase == "" {
		return fmt.Errorf("cannot save the key: empty passphrase")
	}
	n, p := s.ScryptN, s.ScryptP
	if n == 0 {
		n, p = StandardScryptN, StandardScryptP
	}
	b, err := EncryptKeyJSON(k, passphrase, n, p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("cannot create keystore dir: %w", err)
	}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return fmt.Errorf("cannot protect keystore dir: %w", err)
	}
	// Create never replaces an existing file: never replace a key.
	if err := atomicfile.Create(s.Path(), b, 0o600); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("a key already exists at %s", s.Path())
	} else if err != nil {
		return fmt.Errorf("cannot write keystore: %w", err)
	}
	return nil
}

func (s Keystore) read() ([]byte, error) {
	b, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s (create one with: bidtorrent wallet new)", ErrNoKeystore, s.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read keystore: %w", err)
	}
	return b, nil
}

// keystoreJSON is the Web3 secret-storage v3 layout.
type keystoreJSON struct {
	Address string     `json:"address"`
	Crypto  cryptoJSON `json:"crypto"`
	ID      string     `json:"id"`
	Version int        `json:"version"`
}

type cryptoJSON struct {
	Cipher       string         `json:"cipher"`
	CipherText   string         `json:"ciphertext"`
	CipherParams map[string]any `json:"cipherparams"`
	KDF          string         `json:"kdf"`
	KDFParams    map[string]any `json:"kdfparams"`
	MAC          string         `json:"mac"`
}

// EncryptKeyJSON encrypts k as Web3 secret-storage v3 JSON: scrypt
// (N = scryptN, r = 8, p = scryptP, 32-byte key), AES-128-CTR with the
// first 16 bytes, MAC = keccak256(last 16 bytes ‖ ciphertext).
func EncryptKeyJSON(k *Key, passphrase string, scryptN, scryptP int) ([]byte, error) {
	salt, iv, id := make([]byte, 32), make([]byte, aes.BlockSize), make([]byte, 16)
	for _, b := range [][]byte{salt, iv, id} {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("cannot encrypt the key: %w", err)
		}
	}
	dk, err := scrypt.Key([]byte(passphrase), salt, scryptN, 8, scryptP, 32)
	if err != nil {
		return nil, fmt.Errorf("cannot encrypt the key: %w", err)
	}
	defer zero(dk)
	plain := crypto.FromECDSA(k.priv)
	defer zero(plain)
	ct, err := aesCTR(dk[:16], iv, plain)
	if err != nil {
		return nil, fmt.Errorf("cannot encrypt the key: %w", err)
	}
	mac := crypto.Keccak256(dk[16:32], ct)
	id[6] = id[6]&0x0f | 0x40 // UUID version 4
	id[8] = id[8]&0x3f | 0x80
	j := keystoreJSON{
		Address: k.Address().Hex(),
		Crypto: cryptoJSON{
			Cipher:       "aes-128-ctr",
			CipherText:   hex.EncodeToString(ct),
			CipherParams: map[string]any{"iv": hex.EncodeToString(iv)},
			KDF:          "scrypt",
			KDFParams: map[string]any{
				"n": scryptN, "r": 8, "p": scryptP, "dklen": 32, "salt": hex.EncodeToString(salt),
			},
			MAC: hex.EncodeToString(mac),
		},
		ID:      fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:]),
		Version: 3,
	}
	return json.MarshalIndent(j, "", "  ")
}

// DecryptKeyJSON decrypts Web3 secret-storage v3 JSON, as written by
// bidtorrent, geth, TronLink or TronWeb (kdf scrypt or pbkdf2 with
// hmac-sha256, cipher aes-128-ctr). A wrong passphrase is
// ErrWrongPassphrase. If the file names an address (TRON base58 or hex,
// or a 20-byte Ethereum hex), it must match the key.
func DecryptKeyJSON(b []byte, passphrase string) (*Key, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("keystore is not JSON: %w", err)
	}
	if c, ok := raw["Crypto"]; ok && raw["crypto"] == nil {
		raw["crypto"] = c // some old writers capitalise it
	}
	var j struct {
		Address string          `json:"address"`
		Version json.RawMessage `json:"version"`
	}
	var c cryptoJSON
	_ = json.Unmarshal(b, &j)
	if raw["crypto"] == nil {
		return nil, fmt.Errorf("keystore JSON has no crypto section")
	}
	if err := json.Unmarshal(raw["crypto"], &c); err != nil {
		return nil, fmt.Errorf("keystore crypto section: %w", err)
	}
	if v := strings.Trim(string(j.Version), `"`); v != "3" {
		return nil, fmt.Errorf("keystore version %s is not supported (want 3)", v)
	}
	if c.Cipher != "aes-128-ctr" {
		return nil, fmt.Errorf("keystore cipher %q is not supported (want aes-128-ctr)", c.Cipher)
	}
	salt, err := hex.DecodeString(str(c.KDFParams["salt"]))
	if err != nil {
		return nil, fmt.Errorf("keystore salt is not hex")
	}
	dklen := num(c.KDFParams["dklen"])
	if dklen < 32 || dklen > maxDKLen {
		return nil, fmt.Errorf("keystore dklen %d: allowed 32 to %d", dklen, maxDKLen)
	}
	var dk []byte
	switch c.KDF {
	case "scrypt":
		n, r, p := num(c.KDFParams["n"]), num(c.KDFParams["r"]), num(c.KDFParams["p"])
		if err := checkScrypt(n, r, p); err != nil {
			return nil, err
		}
		dk, err = scrypt.Key([]byte(passphrase), salt, n, r, p, dklen)
	case "pbkdf2":
		if prf := str(c.KDFParams["prf"]); prf != "hmac-sha256" {
			return nil, fmt.Errorf("keystore pbkdf2 prf %q is not supported", prf)
		}
		iter := num(c.KDFParams["c"])
		if iter < 1 || iter > maxPBKDF2Iter {
			return nil, fmt.Errorf("keystore pbkdf2 iterations %d: allowed 1 to %d (geth's standard)", iter, maxPBKDF2Iter)
		}
		dk, err = pbkdf2.Key(sha256.New, passphrase, salt, iter, dklen)
	default:
		return nil, fmt.Errorf("keystore kdf %q is not supported", c.KDF)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore kdf: %w", err)
	}
	defer zero(dk)
	ct, err := hex.DecodeString(c.CipherText)
	if err != nil {
		return nil, fmt.Errorf("keystore ciphertext is not hex")
	}
	mac, err := hex.DecodeString(c.MAC)
	if err != nil {
		return nil, fmt.Errorf("keystore mac is not hex")
	}
	if subtle.ConstantTimeCompare(crypto.Keccak256(dk[16:32], ct), mac) != 1 {
		return nil, ErrWrongPassphrase
	}
	iv, err := hex.DecodeString(str(c.CipherParams["iv"]))
	if err != nil {
		return nil, fmt.Errorf("keystore iv is not hex")
	}
	plain, err := aesCTR(dk[:16], iv, ct)
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt keystore: %w", err)
	}
	defer zero(plain)
	k, err := KeyFromBytes(plain)
	if err != nil {
		return nil, err
	}
	if j.Address != "" {
		h := strings.TrimPrefix(strings.ToLower(j.Address), "0x")
		var match bool
		if a, err := ParseAddress(j.Address); err == nil {
			match = a == k.Address()
		} else if _, err := hex.DecodeString(h); err == nil && len(h) == 40 {
			match = h == k.Address().Hex()[2:]
		} else {
			match = true // an address form we do not know: the key decides
		}
		if !match {
			return nil, fmt.Errorf("keystore names address %s but holds the key of %s", j.Address, k.Address())
		}
	}
	return k, nil
}

// Bounds on the KDF parameters of a keystore we read: the file chooses them,
// so without bounds an imported file could make us allocate gigabytes or
// spin for minutes. The maximum is geth's "standard" cost (scrypt N=2^18,
// r=8, p=1: 256 MiB; pbkdf2 262144 rounds, as in the Web3 test vectors).
const (
	maxScryptN    = StandardScryptN
	maxScryptR    = 8
	maxScryptNRP  = StandardScryptN * 8 * StandardScryptP // work, in units of 128-byte blocks mixed
	maxPBKDF2Iter = 1 << 18
	maxDKLen      = 64
)

// checkScrypt refuses scrypt parameters outside the bounds above.
func checkScrypt(n, r, p int) error {
	switch {
	case n < 2 || n > maxScryptN || n&(n-1) != 0:
		return fmt.Errorf("keystore scrypt n=%d: allowed a power of two from 2 to %d (geth's standard)", n, maxScryptN)
	case r < 1 || r > maxScryptR:
		return fmt.Errorf("keystore scrypt r=%d: allowed 1 to %d", r, maxScryptR)
	case p < 1 || p > maxScryptNRP/(n*r):
		return fmt.Errorf("keystore scrypt n*r*p=%d*%d*%d: allowed p >= 1 and a product up to %d (geth's standard)", n, r, p, maxScryptNRP)
	}
	return nil
}

func aesCTR(key, iv, in []byte) ([]byte, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("iv is %d bytes, want %d", len(iv), aes.BlockSize)
	}
	out := make([]byte, len(in))
	cipher.NewCTR(blk, iv).XORKeyStream(out, in)
	return out, nil
}

func str(v any) string { s, _ := v.(string); return s }

func num(v any) int {
	switch n := v.(type) {
	case float64:
		if n > 0 && n < 1<<31 {
			return int(n)
		}
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}
