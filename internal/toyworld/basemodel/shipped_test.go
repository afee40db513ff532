package basemodel

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
)

// TestShipped loads the embedded model and samples one image from it.
func TestShipped(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if p.VAE == nil {
		t.Fatal("the shipped base model has no VAE: it must be a latent (Stable Diffusion) pipeline")
	}
	want := DefaultConfig(0, p.VAE.Config())
	if got := p.UNet.Config().BlockOutChannels; !slices.Equal(got, want.UNet.BlockOutChannels) {
		t.Errorf("unet block_out_channels %v, want DefaultConfig's %v", got, want.UNet.BlockOutChannels)
	}
	v, err := DefaultVocab()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.TextEncoder.Config().VocabSize; got != len(v.Tokens) {
		t.Errorf("shipped vocabulary has %d tokens, the world's %d: the world's language changed, retrain with examples/toypretrain",
			got, len(v.Tokens))
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "TRAINING.md")); err != nil {
		t.Error(err)
	}
	if again, err := Dir(); err != nil || again != dir {
		t.Errorf("Dir again: %q, %v; want %q", again, err, dir)
	}
	imgs, err := p.Generate(context.Background(), []string{"a red ball on the beach"}, diffusion.Steps(2), diffusion.Seed(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 {
		t.Fatalf("%d images, want 1", len(imgs))
	}
	if got := imgs[0].Bounds().Size(); got != image.Pt(32, 32) {
		t.Errorf("image size %v, want 32×32", got)
	}
}
