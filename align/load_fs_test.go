package align

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
)

// folderFS copies the folder dir into a fstest.MapFS under root: files that exist nowhere on
// disk, so a loader that reads the OS instead of the FS fails.
func folderFS(t *testing.T, dir, root string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fsys[path.Join(root, filepath.ToSlash(rel))] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// sameStore fails the test unless a and b hold the same variables with the same values.
func sameStore(t *testing.T, what string, a, b *model.Store) {
	t.Helper()
	values := func(s *model.Store) map[string][]float32 {
		out := map[string][]float32{}
		for v := range s.IterVariables() {
			out[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
		return out
	}
	x, y := values(a), values(b)
	if len(x) == 0 || len(x) != len(y) {
		t.Fatalf("%s: %d variables against %d", what, len(x), len(y))
	}
	for p, v := range x {
		if !slices.Equal(v, y[p]) {
			t.Fatalf("%s: %s differs", what, p)
		}
	}
}

// Each loader's FS form loads what its path form loads from the same files: weights, image
// processor and tokenizer.
func TestLoadFSMatchesDisk(t *testing.T) {
	const text = "a photo of a dog wearing sunglasses"
	t.Run("ALIGN", func(t *testing.T) {
		dir := alignFolder(t)
		want, err := LoadALIGN(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LoadALIGNFS(folderFS(t, dir, "judge/align"), "judge/align")
		if err != nil {
			t.Fatal(err)
		}
		sameStore(t, "align", got.Store(), want.Store())
		if !reflect.DeepEqual(got.Processor, want.Processor) || got.Processor == nil {
			t.Errorf("processor %+v, want %+v", got.Processor, want.Processor)
		}
		if got.Tokenizer == nil || !slices.Equal(got.Tokenizer.Encode(text), want.Tokenizer.Encode(text)) {
			t.Error("tokenizer differs from the one loaded from disk")
		}
		if _, err := LoadALIGNFS(folderFS(t, dir, "a"), "/a"); err == nil || !strings.Contains(err.Error(), "not a valid path") {
			t.Errorf("a rooted path: err = %v, want one saying it is not a valid fs path", err)
		}
	})
	t.Run("CLIP", func(t *testing.T) {
		dir := clipTokenizerFolder(t)
		want, err := LoadCLIP(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LoadCLIPFS(folderFS(t, dir, "."), ".")
		if err != nil {
			t.Fatal(err)
		}
		sameStore(t, "clip", got.Store(), want.Store())
		if !reflect.DeepEqual(got.Processor, want.Processor) {
			t.Errorf("processor %+v, want %+v", got.Processor, want.Processor)
		}
		if got.Tokenizer == nil || !slices.Equal(got.Tokenizer.Encode(text), want.Tokenizer.Encode(text)) {
			t.Error("tokenizer differs from the one loaded from disk")
		}
	})
	t.Run("DINO", func(t *testing.T) {
		dir := dinoFolder(t, func(s string) string { return s })
		want, err := LoadDINO(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LoadDINOFS(folderFS(t, dir, "dino"), "dino")
		if err != nil {
			t.Fatal(err)
		}
		sameStore(t, "dino", got.Store(), want.Store())
		if !reflect.DeepEqual(got.Processor, want.Processor) {
			t.Errorf("processor %+v, want %+v", got.Processor, want.Processor)
		}
	})
}

// WithBackend puts each model on the backend given; without it, on the default one.
func TestLoadWithBackend(t *testing.T) {
	b, err := backend.Choose("")
	if err != nil {
		t.Fatal(err)
	}
	// Not finalized: the models' compiled graphs hold it until the test binary exits.
	def := backend.MustDefault()
	if b == def {
		t.Fatal("Choose returned the default backend itself; the test needs another instance")
	}
	alignDir, clipDir, dinoDir := alignFolder(t), clipFolder(t), dinoFolder(t, func(s string) string { return s })
	check := func(what string, got compute.Backend, err error, want compute.Backend) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got != want {
			t.Errorf("%s is on %p, want %p (default %p, given %p)", what, got, want, def, b)
		}
	}
	a, err := LoadALIGN(alignDir, WithBackend(b))
	check("ALIGN", backendOf(a), err, b)
	a, err = LoadALIGN(alignDir)
	check("ALIGN without WithBackend", backendOf(a), err, def)
	c, err := LoadCLIP(clipDir, WithBackend(b))
	check("CLIP", backendOf(c), err, b)
	d, err := LoadDINO(dinoDir, WithBackend(b))
	check("DINO", backendOf(d), err, b)
	// It runs there.
	a, _ = LoadALIGN(alignDir, WithBackend(b))
	if _, err := a.EmbedTexts(context.Background(), []string{"a dog"}); err != nil {
		t.Errorf("ALIGN on the backend given: %v", err)
	}
}

// backendOf is m.Backend(), or nil for a nil model (a failed load).
func backendOf(m interface{ Backend() compute.Backend }) compute.Backend {
	if reflect.ValueOf(m).IsNil() {
		return nil
	}
	return m.Backend()
}
