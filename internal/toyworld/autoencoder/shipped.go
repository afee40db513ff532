package autoencoder

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shipped is the trained autoencoder, the diffusers vae/ folder examples/toyvae exports, with its
// TRAINING.md: compiled in so that the base model's training starts from it without a download.
//
//go:embed model
var shipped embed.FS

// Dir returns a folder on disk holding the shipped autoencoder, written once into the user's
// cache folder (see internal/embedded), for programs that need a path; Load needs none.
func Dir() (string, error) {
	dir, err := embedded.Dir(shipped, "model", "autoencoder")
	if errors.Is(err, embedded.ErrEmpty) {
		return "", fmt.Errorf("autoencoder: the embedded folder is empty: run examples/toyvae: %w", err)
	}
	return dir, err
}

// Load returns the shipped autoencoder, read in place from the files compiled into the binary
// (diffusion.LoadVAEFS); nothing is written to disk.
func Load(opts ...diffusion.LoadOption) (*diffusion.AutoencoderKL, error) {
	if _, err := fs.Stat(shipped, "model/config.json"); err != nil {
		return nil, fmt.Errorf("autoencoder: the embedded folder has no config.json: run examples/toyvae: %w", embedded.ErrEmpty)
	}
	return diffusion.LoadVAEFS(shipped, "model", opts...)
}
