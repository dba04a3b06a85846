package contracts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBuildReproducible recompiles the sources with the pinned solc
// (contracts/node_modules, from `npm ci`) and requires byte-identical
// artifacts to the committed build/. Without node or the installed
// compiler it skips, except under CI=true where it fails.
func TestBuildReproducible(t *testing.T) {
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: run `npm ci` in contracts/ first)", why)
		}
		t.Skip(why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "solc", "package.json")); err != nil {
		missing("solc is not installed in contracts/node_modules (npm ci)")
	}
	out := t.TempDir()
	cmd := exec.Command(node, "build.js", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.js: %v\n%s", err, b)
	}
	want, _ := filepath.Glob(filepath.Join("build", "*.json"))
	got, _ := filepath.Glob(filepath.Join(out, "*.json"))
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("built %d artifacts, %d committed", len(got), len(want))
	}
	for _, w := range want {
		a, _ := os.ReadFile(w)
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(w)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from a fresh build (%v): run `node build.js` in contracts/ and commit build/", w, err)
		}
	}
}

// TestNoPush0: the code runs on TRON's TVM, which enables PUSH0 (0x5f)
// only by a governance vote; paris output never contains it as an opcode.
func TestNoPush0(t *testing.T) {
	for _, a := range []Artifact{Vault, Factory, Token} {
		for _, code := range [][]byte{a.Code, a.Runtime} {
			for i := 0; i < len(code); i++ {
				op := code[i]
				if op == 0x5f {
					t.Fatalf("%s has PUSH0 at %d", a.Name, i)
				}
				if op == 0xfe { // INVALID: what follows is data (metadata, constructor args)
					break
				}
				if op >= 0x60 && op <= 0x7f {
					i += int(op - 0x5f)
				}
			}
		}
	}
}
