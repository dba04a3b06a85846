// Package passphrase reads a keystore passphrase given without a prompt:
// from a file, the environment, systemd's credentials or a stream.
package passphrase

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Env is the environment variable that can hold the keystore
// passphrase (for scripts; a prompt or a passphrase file is preferred).
const Env = "BIDTORRENT_PASSPHRASE"

// CredentialName is the name of the passphrase among systemd's
// credentials ($CREDENTIALS_DIRECTORY/passphrase, from
// LoadCredential=passphrase:/etc/bidtorrent/passphrase).
const CredentialName = "passphrase"

// maxPassphrase bounds what is read from a file or a stream.
const maxPassphrase = 4096

// Given returns the passphrase a command was given without asking:
// from file when set, else $BIDTORRENT_PASSPHRASE, else (with
// credentials) systemd's $CREDENTIALS_DIRECTORY/passphrase. It returns
// "" and no error when there is none of these.
func Given(file string, credentials bool) (string, error) {
	if file != "" {
		return File(file)
	}
	if p := os.Getenv(Env); p != "" {
		return p, nil
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); credentials && dir != "" {
		p, err := File(filepath.Join(dir, CredentialName))
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return p, err
	}
	return "", nil
}

// File reads a passphrase from a file (one line; the trailing
// newline is not part of it).
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read the passphrase file: %w", err)
	}
	defer f.Close()
	p, err := Read(f)
	if errors.Is(err, ErrEmpty) {
		return "", fmt.Errorf("passphrase file %s is empty", path)
	} else if err != nil {
		return "", fmt.Errorf("passphrase file %s: %w", path, err)
	}
	return p, nil
}

// ErrEmpty is returned for an empty passphrase.
var ErrEmpty = errors.New("empty passphrase")

// Read reads a passphrase from r: all of it (at most 4 KiB)
// without trailing newlines.
func Read(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPassphrase+1))
	if err != nil {
		return "", fmt.Errorf("cannot read the passphrase: %w", err)
	}
	if len(b) > maxPassphrase {
		return "", fmt.Errorf("passphrase longer than %d bytes", maxPassphrase)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", ErrEmpty
	}
	return p, nil
}
