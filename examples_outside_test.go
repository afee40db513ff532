package gorpo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesCompileOutsideModule copies every Example file of the public packages
// (*example_test.go, package X_test) into a throwaway module that requires gorpo through a
// replace directive, and type-checks them there with go vet: an Example that reaches into
// internal/, or into a test helper of its own package, compiles here but fails there, so a user
// could not copy it. The examples are run, with their // Output:, by the packages' own tests.
func TestExamplesCompileOutsideModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a throwaway module")
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := "1.26"
	for _, line := range strings.Split(string(gomod), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			goVersion = strings.TrimSpace(v)
		}
	}
	dir := t.TempDir()
	mod := fmt.Sprintf("module example.com/outside\n\ngo %s\n\nrequire github.com/gorpo/gorpo v0.0.0\n\nreplace github.com/gorpo/gorpo => %s\n", goVersion, root)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	copied := 0
	for _, pkg := range publicPackages {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, "github.com/gorpo/gorpo"), "/")
		if rel == "" {
			rel = "." // the module's root package
		}
		files, err := filepath.Glob(filepath.Join(root, rel, "*example_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, rel, filepath.Base(f))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
			copied++
		}
	}
	if copied == 0 {
		t.Fatal("no example files found")
	}
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = dir
	tidy.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Logf("go mod tidy (the replace may still resolve without it): %v\n%s", err, out)
	}
	vet := exec.Command("go", "vet", "./...")
	vet.Dir = dir
	vet.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	vet.Stdout, vet.Stderr = &out, &out
	if err := vet.Run(); err != nil {
		t.Errorf("the %d example files do not compile outside the module: %v\n%s", copied, err, out.String())
	}
}
