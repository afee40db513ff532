package embedded

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// childEnv marks the child process RunWithoutDisk starts; its value is the test's name.
const childEnv = "GORPO_EMBEDDED_NODISK_CHILD"

// RunWithoutDisk is test support for loaders that read an embed.FS in place. It runs load in a
// child process (the test binary re-executed for t alone) whose user cache folder, temporary
// folder and home are empty folders of its own, and fails t if load fails there or leaves any
// file in them. A child, because Dir remembers its copies for the life of a process: an earlier
// test that called Dir would hide a loader that copies. t must be a top-level test that calls
// RunWithoutDisk first thing.
func RunWithoutDisk(t *testing.T, load func() error) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		if err := load(); err != nil {
			t.Fatal(err)
		}
		return
	}
	cache, tmp, home := t.TempDir(), t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name(), "XDG_CACHE_HOME="+cache, "TMPDIR="+tmp, "HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("loading in a child process: %v\n%s", err, out)
	}
	for _, dir := range []string{cache, tmp, home} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != dir {
				t.Errorf("loading wrote %s; want nothing written to disk", p)
			}
			return err
		})
	}
}
