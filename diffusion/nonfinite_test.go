package diffusion

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// A model whose weights hold a NaN is refused at load, naming the tensor (issue 12: one NaN in
// conv_in.weight used to load and give a fine-tune of NaN losses that ended "done"); the
// AllowNonFinite option loads it anyway.
func TestLoadRefusesNonFiniteWeights(t *testing.T) {
	dir := t.TempDir()
	if err := fixtures.WriteTinySD(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "unet", "diffusion_pytorch_model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, name := range f.Names() {
		tt, _ := f.Tensor(name)
		if name == "conv_in.weight" {
			v, _ := tt.Float32()
			v[3] = float32(math.NaN())
			tt = safetensors.FromFloat32(name, tt.Shape, v)
		}
		ts = append(ts, tt)
	}
	if err := safetensors.Write(path, ts, f.Metadata); err != nil {
		t.Fatal(err)
	}
	_, err = LoadPipeline(dir)
	if !errors.Is(err, ErrNonFiniteWeights) || !strings.Contains(err.Error(), "conv_in.weight (1 of") || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadPipeline: %v, want an error wrapping ErrNonFiniteWeights naming %s and conv_in.weight", err, path)
	}
	t.Log(err)
	if _, err := LoadPipeline(dir, AllowNonFinite()); err != nil {
		t.Fatalf("LoadPipeline with AllowNonFinite: %v", err)
	}
}
