package embedded

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// model is a diffusers-like tree, nested folders included, under "model".
func model(weights string) fstest.MapFS {
	return fstest.MapFS{
		"model/model_index.json":                         {Data: []byte(`{"_class_name": "StableDiffusionPipeline"}`)},
		"model/unet/config.json":                         {Data: []byte(`{"in_channels": 12}`)},
		"model/unet/diffusion_pytorch_model.safetensors": {Data: []byte(weights)},
		"model/text_encoder/config.json":                 {Data: []byte(`{}`)},
		"model/tokenizer/vocab.json":                     {Data: []byte(`{"a</w>": 0}`)},
		"model/scheduler/scheduler_config.json":          {Data: []byte(`{"_class_name": "DDIMScheduler"}`)},
		"other.txt":                                      {Data: []byte("not under the root")},
	}
}

// isolate points the user cache folder and the temporary folder at fresh folders.
func isolate(t *testing.T) (cache, tmp string) {
	cache, tmp = t.TempDir(), t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("TMPDIR", tmp)
	return cache, tmp
}

// sameTree fails unless dir holds exactly the files of fsys under root, byte for byte.
func sameTree(t *testing.T, fsys fs.FS, root, dir string) {
	t.Helper()
	want := map[string][]byte{}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		want[strings.TrimPrefix(p, root+"/")] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%s holds %d files, want %d", dir, len(got), len(want))
	}
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("%s: %q, want %q", name, got[name], data)
		}
	}
}

func TestDirRoundTrip(t *testing.T) {
	cache, _ := isolate(t)
	fsys := model("weights v1")
	dir, err := Dir(fsys, "model", "roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != filepath.Join(cache, "gorpo") || !strings.HasPrefix(filepath.Base(dir), "roundtrip-") ||
		len(filepath.Base(dir)) != len("roundtrip-")+16 {
		t.Errorf("folder %s, want %s/gorpo/roundtrip-<16 hex>", dir, cache)
	}
	sameTree(t, fsys, "model", dir)
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("folder mode %v, %v; want 0755", st.Mode().Perm(), err)
	}
	// Nothing is left beside it.
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("%d entries in %s, want 1", len(entries), filepath.Dir(dir))
	}

	// A second call (a MapFS is not memoised: as a later process would) reuses the folder.
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	weights := filepath.Join(dir, "unet", "diffusion_pytorch_model.safetensors")
	if err := os.Chtimes(weights, old, old); err != nil {
		t.Fatal(err)
	}
	again, err := Dir(model("weights v1"), "model", "roundtrip")
	if err != nil || again != dir {
		t.Fatalf("second call: %q, %v; want %q", again, err, dir)
	}
	if st, err := os.Stat(weights); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("second call rewrote %s", weights)
	}

	// Other content, other folder; the first stays.
	other, err := Dir(model("weights v2"), "model", "roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	if other == dir {
		t.Errorf("other weights share folder %s", dir)
	}
	sameTree(t, model("weights v2"), "model", other)
	sameTree(t, fsys, "model", dir)
}

// countFS counts the files opened through it; as a pointer it is comparable, so Dir memoises it.
type countFS struct {
	fs.FS
	opens atomic.Int64
}

func (c *countFS) Open(name string) (fs.File, error) {
	c.opens.Add(1)
	return c.FS.Open(name)
}

func TestDirMemo(t *testing.T) {
	isolate(t)
	fsys := &countFS{FS: model("memo")}
	dir, err := Dir(fsys, "model", "memo")
	if err != nil {
		t.Fatal(err)
	}
	opens := fsys.opens.Load()
	again, err := Dir(fsys, "model", "memo")
	if err != nil || again != dir {
		t.Fatalf("second call: %q, %v; want %q", again, err, dir)
	}
	if n := fsys.opens.Load(); n != opens {
		t.Errorf("second call opened %d files, want 0 (memoised)", n-opens)
	}
}

func TestDirFallsBackToTemp(t *testing.T) {
	_, tmp := isolate(t)
	// A cache folder under a regular file cannot be created, even by root.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(blocker, "cache"))
	t.Setenv("HOME", filepath.Join(blocker, "home"))
	fsys := model("fallback")
	dir, err := Dir(fsys, "model", "fallback")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != filepath.Join(tmp, "gorpo") {
		t.Errorf("folder %s, want under %s/gorpo", dir, tmp)
	}
	sameTree(t, fsys, "model", dir)

	// No cache folder at all.
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if again, err := Dir(fsys, "model", "fallback"); err != nil || again != dir {
		t.Errorf("without HOME: %q, %v; want %q", again, err, dir)
	}
}

// TestMaterialiseRace has several writers race for one folder, as separate processes would.
func TestMaterialiseRace(t *testing.T) {
	parent := t.TempDir()
	fsys := model("race")
	files, sum, err := list(fsys, "model")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	errs := make([]error, len(dirs))
	for i := range dirs {
		wg.Go(func() { dirs[i], errs[i] = materialise(fsys, "model", parent, "race-"+sum, files) })
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != filepath.Join(parent, "race-"+sum) {
			t.Errorf("writer %d: %q, %v", i, dirs[i], errs[i])
		}
	}
	sameTree(t, fsys, "model", dirs[0])
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("%d entries in %s, want 1 (temporary folders left behind)", len(entries), parent)
	}
}

func TestDirErrors(t *testing.T) {
	isolate(t)
	empty := fstest.MapFS{"model/unet": {Mode: fs.ModeDir}, "x.txt": {Data: []byte("x")}}
	if _, err := Dir(empty, "model", "empty"); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty root: %v, want ErrEmpty", err)
	}
	if _, err := Dir(model("x"), "absent", "absent"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent root: %v, want fs.ErrNotExist", err)
	}
	for _, name := range []string{"", ".", "..", "a/b"} {
		if _, err := Dir(model("x"), "model", name); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := Dir(model("x"), "", "root"); err == nil {
		t.Error(`root "" accepted`)
	}
}
