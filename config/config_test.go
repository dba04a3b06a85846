package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const examplePath = "../config.toml.example"

// The example decodes, on a zero Config, to exactly the defaults: every
// value it shows is the real default.
func TestExampleIsDefaults(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := Decode(string(b), &c); err != nil {
		t.Fatalf("decoding the example: %v", err)
	}
	// An empty list in TOML and a nil default mean the same.
	if diff := cmp.Diff(Default(), c, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("config.toml.example differs from Default() (-default +example):\n%s", diff)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("example does not validate: %v", err)
	}
}

// Every key of Config appears in the example (maps, whose keys are free,
// at least as their table name).
func TestExampleDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	md, err := toml.Decode(string(b), &raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keysOf(reflect.TypeFor[Config](), nil) {
		if key.isMap {
			if !strings.Contains(string(b), "["+strings.Join(key.path, ".")+"]") {
				t.Errorf("example does not mention table [%s]", strings.Join(key.path, "."))
			}
			continue
		}
		if key.optional {
			// Off by default (a nil pointer): shown as a commented example.
			name := key.path[len(key.path)-1]
			if !strings.Contains(string(b), "# "+name+" = ") {
				t.Errorf("example does not show optional key %s, even commented", strings.Join(key.path, "."))
			}
			continue
		}
		if !md.IsDefined(key.path...) {
			t.Errorf("example lacks key %s", strings.Join(key.path, "."))
		}
	}
}

type keyPath struct {
	path     []string
	isMap    bool
	optional bool // a pointer: absent means off
}

func keysOf(typ reflect.Type, prefix []string) []keyPath {
	var out []keyPath
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := append(append([]string(nil), prefix...), name)
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Map:
			out = append(out, keyPath{path: p, isMap: true})
		case ft.Kind() == reflect.Pointer:
			out = append(out, keyPath{path: p, optional: true})
		case ft.Kind() == reflect.Struct && !implementsDecoder(ft) && len(prefix) == 0:
			out = append(out, keysOf(ft, p)...)
		default:
			out = append(out, keyPath{path: p})
		}
	}
	return out
}

func implementsDecoder(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(reflect.TypeFor[toml.Unmarshaler]()) ||
		pt.Implements(reflect.TypeFor[interface{ UnmarshalText([]byte) error }]())
}

func TestUnknownKeyIsNamed(t *testing.T) {
	c := Default()
	err := Decode("[engine]\nlisten_adr = \":1\"\n", &c)
	if err == nil || !strings.Contains(err.Error(), "engine.listen_adr") {
		t.Fatalf("got %v, want an error naming engine.listen_adr", err)
	}
}

func TestInvalidValuesAreNamed(t *testing.T) {
	for _, tc := range []struct{ text, key string }{
		{"[engine]\nlisten_addr = \"nonsense\"\n", "listen_addr"},
		{"[engine]\nlisten_addr = \":70000\"\n", "listen_addr"},
		{"[engine]\ndial_addr = \"not-an-ip\"\n", "dial_addr"},
		{"[engine]\nencryption = \"maybe\"\n", "encryption"},
		{"[engine]\ntrackers = [\"ftp://x/announce\"]\n", "trackers"},
		{"[engine]\nupload_limit = -5\n", "upload_limit"},
		{"[engine]\nmax_peers_per_torrent = 0\n", "max_peers_per_torrent"},
	} {
		c := Default()
		err := Decode(tc.text, &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: got %v, want an error naming %s", tc.text, err, tc.key)
		}
	}
	// A value of the wrong type is a decode error that names the key.
	c := Default()
	err := Decode("[engine]\ndownload_limit = \"fast\"\n", &c)
	if err == nil || !strings.Contains(err.Error(), "download_limit") {
		t.Errorf("got %v, want an error naming download_limit", err)
	}
}

func TestRatesAcceptUnits(t *testing.T) {
	c := Default()
	if err := Decode("[engine]\ndownload_limit = \"2MiB\"\nupload_limit = 1000\n", &c); err != nil {
		t.Fatal(err)
	}
	if c.Engine.DownloadLimit != 2<<20 || c.Engine.UploadLimit != 1000 {
		t.Errorf("limits = %d, %d", c.Engine.DownloadLimit, c.Engine.UploadLimit)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(filepath.Join(dir, "missing.toml"), false)
	if err != nil {
		t.Fatalf("missing default file: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("missing file did not give the defaults")
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), true); err == nil {
		t.Errorf("missing explicit file: no error")
	}
	p := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(p, []byte("[engine]\nseed = \"yes\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p, true)
	if err == nil || !strings.Contains(err.Error(), "seed") || !strings.Contains(err.Error(), "c.toml") {
		t.Errorf("got %v, want an error naming the file and the key", err)
	}
}

// TestWalletTestNetTLS: a config file choosing a TRON test network dials
// its public node with TLS, and asking for plaintext to it is refused
// naming the key; plaintext to a node of one's own is accepted.
func TestWalletTestNetTLS(t *testing.T) {
	c := Default()
	if err := Decode("[wallet]\nchain = \"nile\"\n", &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if ep, plain := c.Wallet.Dial(); plain || ep != "grpc.nile.trongrid.io:443" {
		t.Errorf("nile from the config file dials %s plaintext=%v, want TLS", ep, plain)
	}
	for text, ok := range map[string]bool{
		"[wallet]\nchain = \"shasta\"\nplaintext = true\n":                                           false,
		"[wallet]\nchain = \"nile\"\nendpoint = \"grpc.nile.trongrid.io:50051\"\nplaintext = true\n": false,
		"[wallet]\nchain = \"nile\"\nendpoint = \"127.0.0.1:50051\"\nplaintext = true\n":             true,
	} {
		c := Default()
		err := Decode(text, &c)
		if err == nil {
			err = c.Validate()
		}
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "plaintext")) {
			t.Errorf("%q: %v (want accepted=%v)", text, err, ok)
		}
	}
}
