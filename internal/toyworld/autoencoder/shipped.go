package autoencoder

import (
	"embed"
	"errors"
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shipped is the trained autoencoder, the diffusers vae/ folder examples/toyvae exports, with its
// TRAINING.md: compiled in so that the base model's training starts from it without a download.
//
//go:embed model
var shipped embed.FS

// Dir returns a folder holding the shipped autoencoder as diffusion.LoadVAE reads it, written
// once into the user's cache folder (see internal/embedded).
func Dir() (string, error) {
	dir, err := embedded.Dir(shipped, "model", "autoencoder")
	if errors.Is(err, embedded.ErrEmpty) {
		return "", fmt.Errorf("autoencoder: the embedded folder is empty: run examples/toyvae: %w", err)
	}
	return dir, err
}

// Load returns the shipped autoencoder.
func Load(opts ...diffusion.LoadOption) (*diffusion.AutoencoderKL, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return diffusion.LoadVAE(dir, opts...)
}
