package diffusion_test

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
)

// mapFS copies the folder dir into a fstest.MapFS under root: files that exist nowhere on disk,
// so a loader that reads the OS instead of the FS fails.
func mapFS(t *testing.T, dir, root string) fstest.MapFS {
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
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fsys[path.Join(root, filepath.ToSlash(rel))] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// storeValues returns every variable of store under scope, by path, as float32 values.
func storeValues(t *testing.T, store *model.Store) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for v := range store.IterVariables() {
		out[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	return out
}

// samePipeline fails the test unless a and b hold the same weights, tokenizer and scheduler.
func samePipeline(t *testing.T, a, b *diffusion.Pipeline) {
	t.Helper()
	for _, c := range []struct {
		name string
		x, y *model.Store
	}{
		{"unet", a.UNet.Store(), b.UNet.Store()},
		{"vae", a.VAE.Store(), b.VAE.Store()},
		{"text_encoder", a.TextEncoder.Store(), b.TextEncoder.Store()},
	} {
		x, y := storeValues(t, c.x), storeValues(t, c.y)
		if len(x) == 0 || len(x) != len(y) {
			t.Fatalf("%s: %d variables against %d", c.name, len(x), len(y))
		}
		for p, vx := range x {
			if !slices.Equal(vx, y[p]) {
				t.Fatalf("%s: %s differs", c.name, p)
			}
		}
	}
	prompt := "a photo of a dog on the Moon"
	if x, y := a.Tokenizer.Encode(prompt), b.Tokenizer.Encode(prompt); !slices.Equal(x, y) {
		t.Errorf("tokenizer: %v against %v", x, y)
	}
	if a.Tokenizer.Pad() != b.Tokenizer.Pad() || a.Tokenizer.MaxLength() != b.Tokenizer.MaxLength() {
		t.Errorf("tokenizer special tokens differ")
	}
	if !reflect.DeepEqual(a.Scheduler, b.Scheduler) {
		t.Errorf("scheduler %+v against %+v", a.Scheduler, b.Scheduler)
	}
	if !slices.Equal(a.Notes, b.Notes) {
		t.Errorf("notes %q against %q", a.Notes, b.Notes)
	}
}

// A folder loaded from an fs.FS is the folder loaded from disk: every weight, the tokenizer, the
// scheduler and the notes; sharded and fp16-variant weights included.
func TestLoadPipelineFSMatchesDisk(t *testing.T) {
	t.Run("single files", func(t *testing.T) {
		dir := tinyDir(t)
		want, err := diffusion.LoadPipeline(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := diffusion.LoadPipelineFS(mapFS(t, dir, "models/sd"), "models/sd")
		if err != nil {
			t.Fatal(err)
		}
		samePipeline(t, got, want)
		// "." is the root of the FS.
		got, err = diffusion.LoadPipelineFS(mapFS(t, dir, "."), ".")
		if err != nil {
			t.Fatal(err)
		}
		samePipeline(t, got, want)
	})
	t.Run("sharded fp16", func(t *testing.T) {
		dir := tinyDir(t)
		want, err := diffusion.LoadPipeline(dir)
		if err != nil {
			t.Fatal(err)
		}
		// As TestFolderVariantAndShards: fp16-named files (float32 inside) beside corrupt
		// full-precision ones, the U-Net's sharded.
		for _, c := range []struct{ sub, file, variant string }{
			{"vae", "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"},
			{"text_encoder", "model.safetensors", "model.fp16.safetensors"},
		} {
			from := filepath.Join(dir, c.sub, c.file)
			if err := os.Rename(from, filepath.Join(dir, c.sub, c.variant)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(from, []byte("corrupt"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		unet := filepath.Join(dir, "unet")
		shard(t, unet, "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16")
		if err := os.WriteFile(filepath.Join(unet, "diffusion_pytorch_model.safetensors"), []byte("corrupt"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := diffusion.LoadPipelineFS(mapFS(t, dir, "sd"), "sd", diffusion.Variant("fp16"))
		if err != nil {
			t.Fatal(err)
		}
		samePipeline(t, got, want)
	})
}

// The component loaders' FS forms read what their path forms read, and refuse a folder name an
// fs.FS cannot hold, naming it.
func TestLoadComponentsFS(t *testing.T) {
	dir := tinyDir(t)
	fsys := mapFS(t, dir, "sd")
	want, err := diffusion.LoadUNet(filepath.Join(dir, "unet"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := diffusion.LoadUNetFS(fsys, "sd/unet")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(storeValues(t, u.Store()), storeValues(t, want.Store())) {
		t.Error("LoadUNetFS: weights differ from LoadUNet's")
	}
	if _, err := diffusion.LoadVAEFS(fsys, "sd/vae"); err != nil {
		t.Error(err)
	}
	if _, err := diffusion.LoadTextEncoderFS(fsys, "sd/text_encoder"); err != nil {
		t.Error(err)
	}
	if _, err := diffusion.LoadCLIPTokenizerFS(fsys, "sd/tokenizer"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"/sd", "sd/../sd", "sd/"} {
		_, err := diffusion.LoadPipelineFS(fsys, bad)
		if err == nil || !strings.Contains(err.Error(), "not a valid path") || !strings.Contains(err.Error(), bad) {
			t.Errorf("LoadPipelineFS(%q): err = %v, want one naming the invalid path", bad, err)
		}
	}
	_, err = diffusion.LoadPipelineFS(fsys, "elsewhere")
	if err == nil || !strings.Contains(err.Error(), "elsewhere/model_index.json") {
		t.Errorf("a missing folder: err = %v, want one naming elsewhere/model_index.json", err)
	}
}

// WithBackend puts every model on the backend given, not the default one, and the models run
// there; without it they share the default.
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
	dir := tinyDir(t)
	p, err := diffusion.LoadPipeline(dir, diffusion.WithBackend(b))
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]any{"unet": p.UNet.Backend(), "vae": p.VAE.Backend(), "text_encoder": p.TextEncoder.Backend()} {
		if got != b {
			t.Errorf("%s is on %p, want the backend given (%p; default %p)", name, got, b, def)
		}
	}
	// It runs there: a generation on b gives the default backend's pixels.
	onDefault, err := diffusion.LoadPipeline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if onDefault.UNet.Backend() != def || onDefault.TextEncoder.Backend() != def {
		t.Error("without WithBackend the models are not on the default backend")
	}
	x, _ := generate(t, p, []string{"a dog"}, diffusion.Steps(1), diffusion.Size(16, 16))
	y, _ := generate(t, onDefault, []string{"a dog"}, diffusion.Steps(1), diffusion.Size(16, 16))
	if !slices.Equal(x, y) {
		t.Errorf("the same folder on two Go backends: max |a-b| = %g", maxAbsDiff(x, y))
	}
}
