package basemodel

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gorpo/gorpo/internal/backend"
)

// A model initialised from another's export holds that export's weights, in its trained
// variables and in their moving averages; a folder of another shape or vocabulary is refused.
func TestInitFrom(t *testing.T) {
	v, err := DefaultVocab()
	if err != nil {
		t.Fatal(err)
	}
	b := backend.MustDefault()
	vae := tinyVAE(t)
	cfg := tinyConfig(len(v.Tokens), vae.Config())
	src, err := New(b, cfg, v, vae, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := src.Export(dir, false, nil); err != nil {
		t.Fatal(err)
	}
	dst, err := New(b, cfg, v, vae, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.InitFrom(dir); err != nil {
		t.Fatal(err)
	}
	n := 0
	for sv := range src.store.IterVariables() {
		if strings.HasPrefix(sv.Path(), emaScope+"/") {
			continue
		}
		want, err := sv.Value()
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{sv.Path(), emaScope + sv.Path()} {
			dv := dst.store.GetVariable(path)
			if dv == nil {
				t.Fatalf("no %s after InitFrom", path)
			}
			got, err := dv.Value()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)) {
				t.Errorf("%s differs from the export", path)
			}
		}
		n++
	}
	if n < 20 {
		t.Fatalf("compared %d variables, want the whole model", n)
	}

	wide := cfg
	wide.UNet.BlockOutChannels = slices.Clone(cfg.UNet.BlockOutChannels)
	wide.UNet.BlockOutChannels[0] *= 2
	other, err := New(b, wide, v, vae, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.InitFrom(dir); err == nil || !strings.Contains(err.Error(), "has shape") {
		t.Errorf("a U-Net of other channels: %v, want a shape error", err)
	}
	// Its text encoder alone is that export's.
	if err := other.InitTextFrom(dir); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/text_model/embeddings/token_embedding/weight", emaScope + "/text_model/embeddings/token_embedding/weight"} {
		a, _ := src.store.GetVariable("/text_model/embeddings/token_embedding/weight").Value()
		b, _ := other.store.GetVariable(path).Value()
		if !slices.Equal(tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)) {
			t.Errorf("InitTextFrom: %s differs from the export", path)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer", "merges.txt"), []byte("#version: 0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := dst.InitFrom(dir); err == nil || !strings.Contains(err.Error(), "not the model's vocabulary") {
		t.Errorf("another vocabulary: %v", err)
	}
}
