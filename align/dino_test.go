package align

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

func TestDINOParity(t *testing.T) {
	io := fixtures.IO(t, "dino_vit")
	clipIONames(t, io, "pixel_values", "last_hidden_state", "cls")
	d, err := LoadDINO(fixtures.Path(t, "parity", "dino_vit"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Finalize()
	pixels, shape := fixtures.Float32(t, io, "pixel_values")
	ctx := context.Background()
	last, lastShape, err := d.LastHiddenStateNCHW(ctx, pixels, shape)
	if err != nil {
		t.Fatal(err)
	}
	want, wantShape := fixtures.Float32(t, io, "last_hidden_state")
	if !slices.Equal(lastShape, wantShape) {
		t.Fatalf("last_hidden_state: shape %v, want %v", lastShape, wantShape)
	}
	e := fixtures.RelErr(last, want)
	t.Logf("last_hidden_state: max|a-b|/max|b| = %.3g", e)
	if e > clipParityTol {
		t.Errorf("last_hidden_state: relative error %.3g > %.3g", e, clipParityTol)
	}
	cls, err := d.ImageFeaturesNCHW(ctx, pixels, shape)
	if err != nil {
		t.Fatal(err)
	}
	clipCheckRows(t, io, "cls", cls)
}

// dinoFolder copies the DINO fixture with the preprocess fixture's ViTImageProcessor config,
// renaming its tensors through rename.
func dinoFolder(t testing.TB, rename func(string) string, extra ...*safetensors.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	clipCopyFile(t, fixtures.Path(t, "parity", "dino_vit", "config.json"), filepath.Join(dir, "config.json"))
	clipCopyFile(t, fixtures.Path(t, "parity", "preprocess", "dino_preprocessor_config.json"), filepath.Join(dir, "preprocessor_config.json"))
	f, err := safetensors.Open(fixtures.Path(t, "parity", "dino_vit", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.FromFloat32(rename(name), shape, v))
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), append(ts, extra...), nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// EmbedImages on the fixture photos gives the class tokens of transformers' own pixel values; a
// ViTForImageClassification-style checkpoint ("vit." prefix, a pooler and a classifier) loads to
// the same model.
func TestDINOEmbedImages(t *testing.T) {
	dir := dinoFolder(t, func(name string) string { return "vit." + name },
		safetensors.FromFloat32("vit.pooler.dense.weight", []int{2, 2}, make([]float32, 4)),
		safetensors.FromFloat32("classifier.weight", []int{2, 2}, make([]float32, 4)))
	d, err := LoadDINO(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkEmbedImages(t, d, "dino", d.Config.HiddenSize)
}

func TestDINOErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := LoadDINO(empty); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("no config.json: %v", err)
	}
	clipCopyFile(t, fixtures.Path(t, "parity", "dino_vit", "config.json"), filepath.Join(empty, "config.json"))
	if _, err := LoadDINO(empty); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("no weights: %v", err)
	}
	dir := dinoFolder(t, func(name string) string {
		if name == "encoder.layer.1.intermediate.dense.weight" {
			return "encoder.layer.1.intermediate.dense.kernel"
		}
		return name
	})
	_, err := LoadDINO(dir)
	if !errors.Is(err, weights.ErrMismatch) || !strings.Contains(err.Error(), "encoder.layer.1.intermediate.dense.weight") ||
		!strings.Contains(err.Error(), "encoder.layer.1.intermediate.dense.kernel") {
		t.Errorf("renamed tensor: %v", err)
	}
	for _, c := range []struct{ json, field string }{
		{`{"model_type": "dinov2"}`, "model_type"},
		{`{"hidden_act": "gelu_10"}`, "hidden_act"},
		{`{"hidden_size": 30, "num_attention_heads": 4}`, "num_attention_heads"},
		{`{"image_size": [224, 224]}`, "image_size"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(c.json), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadDINO(dir); err == nil || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: %v, want an error naming %q and the file", c.json, err, c.field)
		}
	}
	d, err := LoadDINO(fixtures.Path(t, "parity", "dino_vit"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ImageFeaturesNCHW(context.Background(), make([]float32, 3*16*16), []int{1, 3, 16, 16}); err == nil {
		t.Error("accepted 16×16 pixels for a 32×32 model")
	}
}

// BenchmarkDINO measures EmbedImages throughput (image processor included) on the parity
// fixture's configuration, 32 images at a time.
func BenchmarkDINO(b *testing.B) {
	d, err := LoadDINO(dinoFolder(b, func(s string) string { return s }))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Finalize()
	const batch = 32
	images := clipBenchImages(batch)
	ctx := context.Background()
	if _, err := d.EmbedImages(ctx, images); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := d.EmbedImages(ctx, images); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
}

// ViTConfig takes transformers' defaults for absent fields and the file's values otherwise.
func TestViTConfig(t *testing.T) {
	c, err := ParseViTConfig([]byte(`{}`))
	if err != nil || c != DefaultViTConfig() || c.LayerNormEps != 1e-12 || c.NumPatches() != 196 {
		t.Fatalf("%+v, %v", c, err)
	}
	c, err = LoadViTConfig(fixtures.Path(t, "parity", "dino_vit"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ImageSize != 32 || c.PatchSize != 8 || c.LayerNormEps != 1e-6 || !c.QKVBias || c.HiddenAct != "gelu" {
		t.Fatalf("fixture config %+v", c)
	}
}
