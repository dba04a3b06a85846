package daemon

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadHostKey reads the host key at path, generating an ed25519 key (mode
// 0600, with a .pub beside it) when the file does not exist.
func loadHostKey(path string, log *slog.Logger) ([]byte, gossh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = generateHostKey(path)
		if err != nil {
			return nil, nil, err
		}
		log.Info("generated SSH host key", "path", path)
	} else if err != nil {
		return nil, nil, fmt.Errorf("cannot read SSH host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot parse SSH host key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("SSH host key is readable by others; chmod 600 it", "path", path, "mode", fi.Mode().Perm())
	}
	return b, signer, nil
}

func generateHostKey(path string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cannot generate SSH host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "bidtorrent daemon")
	if err != nil {
		return nil, fmt.Errorf("cannot encode SSH host key: %w", err)
	}
	b := pem.EncodeToMemory(block)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create SSH host key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create SSH host key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("cannot write SSH host key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("cannot write SSH host key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("cannot write SSH host key: %w", err)
	}
	pub, err := gossh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("cannot encode SSH host public key: %w", err)
	}
	// The .pub is a convenience for known_hosts; failing to write it is not fatal.
	_ = os.WriteFile(path+".pub", gossh.MarshalAuthorizedKey(pub), 0o644)
	return b, nil
}

// authorized reports whether key is listed in the authorized_keys file at
// path. The file is read at every call so edits apply to the next login.
// Lines with options (from=, command=, restrict…) are skipped with a
// warning: the daemon cannot honour them, and granting such a key more than
// its options allow would be worse than refusing it.
func authorized(path string, key gossh.PublicKey, log *slog.Logger) bool {
	f, err := os.Open(path)
	if err != nil {
		log.Warn("cannot read authorized keys; refusing login", "err", err)
		return false
	}
	defer f.Close()
	want := key.Marshal()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		k, _, opts, _, err := gossh.ParseAuthorizedKey(text)
		if err != nil {
			log.Warn("skipping unreadable authorized key", "path", path, "line", line, "err", err)
			continue
		}
		if !bytes.Equal(k.Marshal(), want) {
			continue
		}
		if len(opts) > 0 {
			log.Warn("refusing authorized key with options the daemon cannot honour", "path", path, "line", line, "options", opts)
			return false
		}
		return true
	}
	if err := sc.Err(); err != nil {
		log.Warn("cannot read authorized keys; refusing login", "err", err)
		return false
	}
	return false
}
