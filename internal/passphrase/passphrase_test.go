package passphrase

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	for _, c := range []struct {
		in, want string
		err      string
	}{
		{in: "secret\n", want: "secret"},
		{in: "secret\r\n", want: "secret"},
		{in: " two words \n\n", want: " two words "},
		{in: "\n", err: "empty passphrase"},
		{in: "", err: "empty passphrase"},
		{in: strings.Repeat("x", 4097), err: "longer than 4096"},
	} {
		got, err := Read(strings.NewReader(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Read(%.20q) = %q, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Read(%.20q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := Read(strings.NewReader("")); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: %v, want ErrEmpty", err)
	}
}

func TestGivenOrder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pass")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cred := filepath.Join(dir, "creds")
	if err := os.Mkdir(cred, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cred, CredentialName), []byte("from-credentials"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", cred)
	t.Setenv(Env, "from-env")

	check := func(file string, credentials bool, want string) {
		t.Helper()
		got, err := Given(file, credentials)
		if err != nil || got != want {
			t.Errorf("Given(%q, %v) = %q, %v; want %q", file, credentials, got, err, want)
		}
	}
	check(file, true, "from-file")
	check("", true, "from-env")
	t.Setenv(Env, "")
	check("", true, "from-credentials")
	check("", false, "")
	if _, err := Given(filepath.Join(dir, "missing"), true); err == nil {
		t.Error("a missing passphrase file is not an error")
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if _, err := Given(empty, false); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an empty passphrase file: %v", err)
	}
}
