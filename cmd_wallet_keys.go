package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/bidtorrent/bidtorrent/internal/app"
	"github.com/bidtorrent/bidtorrent/internal/passphrase"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// The key verbs: new, import, show; and how the CLI gets a passphrase.

func walletNew(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(ctx context.Context, r *walletRun) error {
		e, err := r.environment()
		if err != nil {
			return err
		}
		if e.Keystore.Exists() {
			return fmt.Errorf("a key already exists at %s", e.Keystore.Path())
		}
		pass, err := r.c.passphrase(r.passFile, true)
		if err != nil {
			return err
		}
		k, err := wallet.GenerateKey()
		if err != nil {
			return err
		}
		if err := e.Keystore.Save(k, pass); err != nil {
			return err
		}
		return r.printAddress(k.Address(), e.Keystore.Path())
	}
}

func walletImport(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	mnFile := fs.String("mnemonic-file", "", "import the BIP-39 mnemonic in `FILE`")
	index := fs.Int("index", 0, "mnemonic account `N` on m/44'/195'/0'/0/N")
	hexFile := fs.String("hex-file", "", "import the hex private key in `FILE`")
	ksFile := fs.String("keystore-file", "", "import the v3 keystore JSON `FILE` (its passphrase becomes this wallet's)")
	return func(ctx context.Context, r *walletRun) error {
		n := 0
		for _, f := range []string{*mnFile, *hexFile, *ksFile} {
			if f != "" {
				n++
			}
		}
		if n != 1 {
			return r.usageError("give exactly one of --mnemonic-file, --hex-file, --keystore-file")
		}
		e, err := r.environment()
		if err != nil {
			return err
		}
		if e.Keystore.Exists() {
			return fmt.Errorf("a key already exists at %s", e.Keystore.Path())
		}
		var k *wallet.Key
		var pass string
		switch {
		case *mnFile != "":
			b, err := os.ReadFile(*mnFile)
			if err != nil {
				return fmt.Errorf("cannot read the mnemonic file: %w", err)
			}
			if k, err = wallet.KeyFromMnemonic(string(b), *index); err != nil {
				return err
			}
		case *hexFile != "":
			b, err := os.ReadFile(*hexFile)
			if err != nil {
				return fmt.Errorf("cannot read the key file: %w", err)
			}
			if k, err = wallet.KeyFromHex(string(b)); err != nil {
				return err
			}
		default:
			b, err := os.ReadFile(*ksFile)
			if err != nil {
				return fmt.Errorf("cannot read the keystore file: %w", err)
			}
			if pass, err = r.c.passphrase(r.passFile, false); err != nil {
				return err
			}
			if k, err = wallet.DecryptKeyJSON(b, pass); err != nil {
				return fmt.Errorf("cannot import %s: %w", *ksFile, err)
			}
		}
		if pass == "" {
			if pass, err = r.c.passphrase(r.passFile, true); err != nil {
				return err
			}
		}
		if err := e.Keystore.Save(k, pass); err != nil {
			return err
		}
		return r.printAddress(k.Address(), e.Keystore.Path())
	}
}

func walletShow(fs *flag.FlagSet) func(context.Context, *walletRun) error {
	return func(ctx context.Context, r *walletRun) error {
		e, err := r.environment()
		if err != nil {
			return err
		}
		a, err := e.Keystore.Address()
		if err != nil {
			return err
		}
		return r.printAddress(a, e.Keystore.Path())
	}
}

func (r *walletRun) printAddress(a wallet.Address, ks string) error {
	return r.print(addressJSON{Address: a.String(), Hex: a.Hex(), Keystore: ks}, func(w io.Writer) {
		fmt.Fprintf(w, "address  %s\nhex      %s\n", a, a.Hex())
		if ks != "" {
			fmt.Fprintf(w, "keystore %s\n", ks)
		}
	})
}

// unlock reads the passphrase and decrypts the keystore.
func (c *cli) unlock(e *app.Env, passFile string) (*wallet.Key, error) {
	if !e.Keystore.Exists() {
		_, err := e.Keystore.Address() // the ErrNoKeystore error with its hint
		return nil, err
	}
	pass, err := c.passphrase(passFile, false)
	if err != nil {
		return nil, err
	}
	return e.Keystore.Unlock(pass)
}

// passphrase comes from --passphrase-file, $BIDTORRENT_PASSPHRASE, or a
// no-echo prompt on the terminal (asked twice when confirm is set).
func (c *cli) passphrase(file string, confirm bool) (string, error) {
	if p, err := passphrase.Given(file, false); p != "" || err != nil {
		return p, err
	}
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("no passphrase: use --passphrase-file F, set %s, or run in a terminal", passphraseEnv)
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(c.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("cannot read the passphrase: %w", err)
		}
		return string(b), nil
	}
	p, err := read("Passphrase: ")
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", fmt.Errorf("empty passphrase")
	}
	if confirm {
		q, err := read("Repeat passphrase: ")
		if err != nil {
			return "", err
		}
		if p != q {
			return "", fmt.Errorf("the passphrases differ")
		}
	}
	return p, nil
}
