package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PassphraseEnv is the environment variable that can hold the keystore
// passphrase (for scripts; a prompt or a passphrase file is preferred).
const PassphraseEnv = "BIDTORRENT_PASSPHRASE"

// CredentialName is the name of the passphrase among systemd's
// credentials ($CREDENTIALS_DIRECTORY/passphrase, from
// LoadCredential=passphrase:/etc/bidtorrent/passphrase).
const CredentialName = "passphrase"

// maxPassphrase bounds what is read from a file or a stream.
const maxPassphrase = 4096

// Passphrase returns the passphrase a command was given without asking:
// from file when set, else $BIDTORRENT_PASSPHRASE, else (with
// credentials) systemd's $CREDENTIALS_DIRECTORY/passphrase. It returns
// "" and no error when there is none of these.
func Passphrase(file string, credentials bool) (string, error) {
	if file != "" {
		return PassphraseFile(file)
	}
	if p := os.Getenv(PassphraseEnv); p != "" {
		return p, nil
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); credentials && dir != "" {
		p, err := PassphraseFile(filepath.Join(dir, CredentialName))
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return p, err
	}
	return "", nil
}

// PassphraseFile reads a passphrase from a file (one line; the trailing
// newline is not part of it).
func PassphraseFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read the passphrase file: %w", err)
	}
	defer f.Close()
	p, err := ReadPassphrase(f)
	if errors.Is(err, ErrEmptyPassphrase) {
		return "", fmt.Errorf("passphrase file %s is empty", path)
	} else if err != nil {
		return "", fmt.Errorf("passphrase file %s: %w", path, err)
	}
	return p, nil
}

// ErrEmptyPassphrase is returned for an empty passphrase.
var ErrEmptyPassphrase = errors.New("empty passphrase")

// ReadPassphrase reads a passphrase from r: all of it (at most 4 KiB)
// without trailing newlines.
func ReadPassphrase(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPassphrase+1))
	if err != nil {
		return "", fmt.Errorf("cannot read the passphrase: %w", err)
	}
	if len(b) > maxPassphrase {
		return "", fmt.Errorf("passphrase longer than %d bytes", maxPassphrase)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", ErrEmptyPassphrase
	}
	return p, nil
}
