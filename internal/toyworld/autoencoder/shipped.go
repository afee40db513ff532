package autoencoder

import (
	"embed"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shippedFS is the trained autoencoder, the diffusers vae/ folder examples/toyvae exports, with
// its TRAINING.md: compiled in so that the base model's training starts from it without a
// download.
//
//go:embed model
var shippedFS embed.FS

var shipped = embedded.Shipped{FS: shippedFS, Root: "model", Name: "autoencoder", Index: "config.json",
	Program: "examples/toyvae"}

// Dir returns a folder on disk holding the shipped autoencoder, written once into the user's
// cache folder (see internal/embedded), for programs that need a path; Load needs none.
func Dir() (string, error) { return shipped.Dir() }

// Load returns the shipped autoencoder, read in place from the files compiled into the binary
// (diffusion.LoadVAEFS); nothing is written to disk.
func Load(opts ...diffusion.LoadOption) (*diffusion.AutoencoderKL, error) {
	if err := shipped.Check(); err != nil {
		return nil, err
	}
	return diffusion.LoadVAEFS(shipped.FS, shipped.Root, opts...)
}
